/* A document whose building failed is never written or printed: a
 * member whose allocation failed (json-c's constructor returned NULL),
 * in the document or in an object or array nested in it, or a container
 * whose own allocation failed, makes jf_save return -ENOMEM and leave
 * the file as it was, and jf_text return NULL.  An explicit null member
 * (jf_add_null) is no failure. */
#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/jsonfile.h"

static char dir[] = "/tmp/cdp-jsonbuild-XXXXXX", path[64];
static char *before;
static size_t before_len;

/* A good file at path, its bytes kept in before. */
static void
setup (void)
{
  json_object *o = json_object_new_object ();

  cr_assert_not_null (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/locks.json", dir);
  cr_assert_eq (jf_add (o, "locks", json_object_new_array ()), 0);
  cr_assert_eq (jf_save (path, o, 1, 0644), 0);
  json_object_put (o);
  cr_assert_eq (fio_read (path, &before, &before_len), 0);
}

static void
teardown (void)
{
  free (before);
  unlink (path);
  rmdir (dir);
}

/* path still holds the bytes it held, and nothing else is in dir. */
static void
unchanged (void)
{
  char *now, tmp[80];
  size_t len;

  cr_assert_eq (fio_read (path, &now, &len), 0);
  cr_assert_eq (len, before_len);
  cr_assert_eq (memcmp (now, before, len), 0, "the file was rewritten");
  free (now);
  snprintf (tmp, sizeof tmp, "%s.tmp", path);
  cr_assert_neq (access (tmp, F_OK), 0, "a temporary file was left");
}

Test (jsonfile_build_failure, failed_member_refused, .init = setup,
      .fini = teardown)
{
  json_object *o = json_object_new_object ();

  cr_assert_eq (jf_add (o, "seq", json_object_new_int64 (7)), 0);
  cr_assert_eq (jf_add (o, "time_ns", NULL), -ENOMEM);   /* allocation failed */
  cr_assert (jf_failed (o));
  cr_assert_null (jf_text (o, JSON_C_TO_STRING_PRETTY));
  cr_assert_eq (jf_save (path, o, 1, 0644), -ENOMEM);
  cr_assert_eq (jf_save_volatile (path, o, 1, 0644), -ENOMEM);
  json_object_put (o);
  unchanged ();
}

Test (jsonfile_build_failure, failed_nested_refused, .init = setup,
      .fini = teardown)
{
  json_object *o = json_object_new_object (), *arr = json_object_new_array ();
  json_object *e = json_object_new_object ();

  /* The entry fails after it is in the array, the array is in o. */
  cr_assert_eq (jf_add (o, "locks", arr), 0);
  cr_assert_eq (jf_append (arr, e), 0);
  cr_assert_eq (jf_add (e, "seq", NULL), -ENOMEM);
  cr_assert (jf_failed (o));
  cr_assert_eq (jf_save (path, o, 1, 0644), -ENOMEM);
  json_object_put (o);
  unchanged ();

  /* The entry failed before it was appended: the array takes the failure. */
  o = json_object_new_object ();
  arr = json_object_new_array ();
  e = json_object_new_object ();
  jf_add (e, "seq", NULL);
  cr_assert_eq (jf_append (arr, e), -ENOMEM);
  cr_assert_eq (json_object_array_length (arr), 0);
  cr_assert_eq (jf_add (o, "locks", arr), -ENOMEM);
  cr_assert (jf_failed (o));
  cr_assert_eq (jf_save (path, o, 1, 0644), -ENOMEM);
  json_object_put (o);
  unchanged ();
}

Test (jsonfile_build_failure, failed_container_refused, .init = setup,
      .fini = teardown)
{
  json_object *o = json_object_new_object ();
  json_object *arr = NULL;              /* json_object_new_array failed */

  cr_assert_eq (jf_append (arr, json_object_new_int (1)), -ENOMEM);
  cr_assert_eq (jf_add (arr, "x", json_object_new_int (1)), -ENOMEM);
  cr_assert (jf_failed (arr));
  cr_assert_eq (jf_add (o, "locks", arr), -ENOMEM);
  cr_assert_eq (jf_save (path, o, 1, 0644), -ENOMEM);
  cr_assert_eq (jf_save (path, NULL, 1, 0644), -ENOMEM);
  cr_assert_eq (jf_save (NULL, o, 1, 0644), -ENOMEM);   /* path not built */
  json_object_put (o);
  unchanged ();
}

Test (jsonfile_build_failure, loaded_and_changed_refused, .init = setup,
      .fini = teardown)
{
  json_object *o, *arr;

  cr_assert_eq (jf_load (path, 1, &o, NULL), 0);
  cr_assert (json_object_object_get_ex (o, "locks", &arr));
  cr_assert_eq (jf_append (arr, NULL), -ENOMEM);
  cr_assert_eq (jf_save (path, o, 1, 0644), -ENOMEM);
  json_object_put (o);
  unchanged ();
}

Test (jsonfile_build_failure, explicit_null_saved, .init = setup,
      .fini = teardown)
{
  json_object *o = json_object_new_object (), *back, *v;

  cr_assert_eq (jf_add_null (o, "at"), 0);
  cr_assert_not (jf_failed (o));
  cr_assert_eq (jf_save (path, o, 1, 0644), 0);
  json_object_put (o);
  cr_assert_eq (jf_load (path, 1, &back, NULL), 0);
  cr_assert (json_object_object_get_ex (back, "at", &v));
  cr_assert_null (v);
  json_object_put (back);
}
