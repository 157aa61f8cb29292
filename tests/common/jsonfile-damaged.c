/* A JSON file of the store that exists but does not parse — truncated
 * at every length, one byte flipped, empty, trailing bytes, not an
 * object — is an error (-EUCLEAN), never an empty document; a file that
 * is not there is -ENOENT; one that cannot be read is its errno. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/jsonfile.h"

static char dir[] = "/tmp/cdp-jsonfile-XXXXXX", path[64];

static void
setup (void)
{
  cr_assert_not_null (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/locks.json", dir);
}

static void
teardown (void)
{
  unlink (path);
  rmdir (dir);
}

static void
put (const char *text, size_t len)
{
  FILE *f = fopen (path, "w");

  cr_assert_not_null (f);
  cr_assert_eq (fwrite (text, 1, len, f), len);
  fclose (f);
}

static int
load (void)
{
  json_object *o = (json_object *) 1;
  int r = jf_load (path, 1, &o, NULL);

  if (r < 0)
    cr_assert_null (o, "a failed load leaves no object");
  json_object_put (o);
  return r;
}

static const char good[] =
  "{\n  \"locks\": [ { \"seq\": 12, \"time_ns\": 1700000000000000000 } ],\n"
  "  \"version\": 1\n}\n";

TestSuite (jsonfile_damaged, .init = setup, .fini = teardown);

Test (jsonfile_damaged, whole_file_loads)
{
  put (good, strlen (good));
  cr_assert_eq (load (), 0);
}

Test (jsonfile_damaged, every_truncation_is_an_error)
{
  /* The last byte is a newline: only shorter than the closing brace. */
  size_t end = strrchr (good, '}') - good;

  for (size_t n = 0; n <= end; n++) {
    put (good, n);
    cr_assert_eq (load (), -EUCLEAN, "truncated to %zu bytes", n);
  }
}

Test (jsonfile_damaged, flipped_structure_bytes_are_errors)
{
  static const char structural[] = "{}[]:,\"";

  for (size_t i = 0; i < strlen (good); i++) {
    char copy[sizeof good];
    if (strchr (structural, good[i]) == NULL)
      continue;
    memcpy (copy, good, sizeof good);
    copy[i] ^= 0x40;
    put (copy, strlen (good));
    cr_assert_eq (load (), -EUCLEAN, "byte %zu flipped", i);
  }
}

Test (jsonfile_damaged, not_one_object)
{
  static const char *const bad[] = { "", "   \n", "[]", "12", "null",
    "{} {}", "{}x", "{\"version\": \"1\"}", "{\"version\": 0}",
    "{\"version\": 1.5}", NULL };

  for (const char *const *b = bad; *b; b++) {
    put (*b, strlen (*b));
    cr_assert_eq (load (), -EUCLEAN, "'%s'", *b);
  }
  put ("{}\0{}", 5);
  cr_assert_eq (load (), -EUCLEAN, "a NUL byte inside");
}

Test (jsonfile_damaged, absent_and_unreadable)
{
  cr_assert_eq (load (), -ENOENT);
  cr_assert_eq (mkdir (path, 0700), 0);
  cr_assert_eq (load (), -EISDIR, "a directory where the file should be");
  rmdir (path);
}
