/* The format version of a JSON file of the store: a file without one
 * (written before versions existed) is version 1; a saved file carries
 * the version given and reads back the same; a newer version than the
 * reader knows is refused (-EPROTONOSUPPORT) with the version told. */
#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/jsonfile.h"

static char dir[] = "/tmp/cdp-jsonver-XXXXXX", path[64], tmp[80];

static void
setup (void)
{
  cr_assert_not_null (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/task.json", dir);
  snprintf (tmp, sizeof tmp, "%s.tmp", path);
}

static void
teardown (void)
{
  unlink (path);
  rmdir (dir);
}

static void
put (const char *text)
{
  FILE *f = fopen (path, "w");

  cr_assert_not_null (f);
  fputs (text, f);
  fclose (f);
}

TestSuite (jsonfile_version, .init = setup, .fini = teardown);

Test (jsonfile_version, unversioned_is_version_1)
{
  json_object *o;
  int v = 0;

  put ("{\"name\": \"a\"}");
  cr_assert_eq (jf_load (path, 1, &o, &v), 0);
  cr_assert_eq (v, 1);
  cr_assert_str_eq (json_object_get_string (json_object_object_get (o, "name")), "a");
  json_object_put (o);
}

Test (jsonfile_version, saved_version_reads_back)
{
  json_object *o = json_object_new_object (), *back;
  struct stat st;
  int v = 0;

  json_object_object_add (o, "name", json_object_new_string ("b"));
  cr_assert_eq (jf_save (path, o, 3, 0600), 0);
  json_object_put (o);
  cr_assert_eq (access (tmp, F_OK), -1, "no temporary file is left");
  cr_assert_eq (stat (path, &st), 0);
  cr_assert_eq (st.st_mode & 0777, 0600);
  cr_assert_eq (jf_load (path, 3, &back, &v), 0);
  cr_assert_eq (v, 3);
  cr_assert_str_eq (json_object_get_string (json_object_object_get (back, "name")), "b");
  json_object_put (back);
}

Test (jsonfile_version, newer_is_refused)
{
  json_object *o = (json_object *) 1;
  int v = 0;

  put ("{\"version\": 2, \"locks\": []}");
  cr_assert_eq (jf_load (path, 1, &o, &v), -EPROTONOSUPPORT);
  cr_assert_null (o);
  cr_assert_eq (v, 2, "the version is told");
  cr_assert (strstr (jf_strerror (-EPROTONOSUPPORT), "newer") != NULL);
}
