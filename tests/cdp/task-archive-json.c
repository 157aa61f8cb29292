/* task.json "archive": a task.json without it has no archive and the
 * default keep and bandwidth; what task_archive_json writes parses back
 * the same; a member of the wrong type or range is refused.  The
 * locations task create takes: s3://BUCKET[/PREFIX] with a bucket name
 * S3 takes, an absolute directory whose parent exists. */
#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdp/task/task.h"

static int
parse (const char *text, struct task_archive *a)
{
  json_object *o = json_tokener_parse (text);
  int r;

  cr_assert_not_null (o, "%s", text);
  memset (a, 0, sizeof *a);
  r = task_archive_parse (o, a);
  json_object_put (o);
  return r;
}

Test (task_archive_json, absent_is_none)
{
  struct task_archive a;

  cr_assert_eq (parse ("{\"name\":\"t\"}", &a), 0);
  cr_assert_null (a.location);
  cr_assert_eq (a.keep_daily, 30);
  cr_assert_eq (a.keep_weekly, 12);
  cr_assert_eq (a.keep_monthly, 12);
  cr_assert_eq (a.bandwidth, 100u << 20);
  cr_assert_null (task_archive_json (&a));
}

Test (task_archive_json, round_trip)
{
  struct task_archive a = { .location = (char *) "s3://bucket/p/q",
                            .keep_daily = 1, .keep_weekly = 0,
                            .keep_monthly = 7, .bandwidth = 0 }, b;
  json_object *o = json_object_new_object ();

  json_object_object_add (o, "archive", task_archive_json (&a));
  cr_assert_eq (parse (json_object_to_json_string (o), &b), 0);
  cr_assert (task_archive_same (&a, &b));
  task_archive_free (&b);
  json_object_put (o);
}

Test (task_archive_json, wrong_members)
{
  static const char *const bad[] = {
    "{\"archive\":\"/a\"}",
    "{\"archive\":{}}",
    "{\"archive\":{\"location\":\"\"}}",
    "{\"archive\":{\"location\":7}}",
    "{\"archive\":{\"location\":\"/a\",\"keep\":{\"daily\":-1}}}",
    "{\"archive\":{\"location\":\"/a\",\"keep\":{\"weekly\":\"2\"}}}",
    "{\"archive\":{\"location\":\"/a\",\"keep\":[]}}",
    "{\"archive\":{\"location\":\"/a\",\"bandwidth\":-5}}",
    "{\"archive\":{\"location\":\"/a\",\"bandwidth\":\"1M\"}}",
    NULL };
  struct task_archive a;

  for (const char *const *b = bad; *b; b++) {
    cr_assert_eq (parse (*b, &a), -EINVAL, "%s", *b);
    task_archive_free (&a);
  }
}

Test (task_archive_json, locations)
{
  static const char *const usage[] = { "", "s3://ab", "s3://Bucket/x",
    "s3://-bucket", "s3://bucket/a/../b", "s3://bucket/./b", "ftp://h/x",
    "relative/dir", NULL };
  char dir[] = "/tmp/cdp-archive-loc-XXXXXX", path[128], why[512];
  FILE *f;

  for (const char *const *u = usage; *u; u++) {
    why[0] = '\0';
    cr_assert_eq (task_archive_location_check (*u, why, sizeof why), -EINVAL,
                  "%s", *u);
    cr_assert (why[0] != '\0', "%s: no reason", *u);
  }
  cr_assert_eq (task_archive_location_check ("s3://cdp-test", why, sizeof why), 0);
  cr_assert_eq (task_archive_location_check ("s3://cdp.test/a/b", why,
                                             sizeof why), 0);
  cr_assert_not_null (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/new", dir);
  cr_assert_eq (task_archive_location_check (path, why, sizeof why), 0, "%s", why);
  cr_assert_eq (task_archive_location_check (dir, why, sizeof why), 0, "%s", why);
  snprintf (path, sizeof path, "%s/no/new", dir);
  cr_assert_eq (task_archive_location_check (path, why, sizeof why), -ENOENT);
  snprintf (path, sizeof path, "%s/file", dir);
  f = fopen (path, "w");
  cr_assert_not_null (f);
  fclose (f);
  cr_assert_eq (task_archive_location_check (path, why, sizeof why), -ENOTDIR);
  unlink (path);
  rmdir (dir);
}
