/* archive_open: a directory with no manifest is no archive unless the
 * caller creates one (a missing directory is not made for a reader);
 * a location of an unknown scheme or an empty one is refused; the
 * archive's location is the operator's text. */
#include "tests/archive/archive-test.h"

Test (archive_open_location, directory)
{
  char *dir = tmp_dir (), sub[512];
  struct archive *a;

  snprintf (sub, sizeof sub, "%s/arch", dir);
  cr_assert_eq (archive_open (sub, false, &a), -ENOENT);
  cr_assert (strstr (cdp_get_error (), sub), "%s", cdp_get_error ());
  cr_assert_eq (access (sub, F_OK), -1, "a reader made the directory");
  cr_assert_eq (archive_open (sub, true, &a), 0, "%s", cdp_get_error ());
  cr_assert_str_eq (archive_location (a), sub);
  archive_close (a);
  cr_assert_eq (access (sub, F_OK), 0);
  cr_assert_eq (archive_open (sub, false, &a), -ENOENT);
  cr_assert (strstr (cdp_get_error (), "no archive at"), "%s",
             cdp_get_error ());
  snprintf (sub, sizeof sub, "%s/no/such", dir);
  cr_assert_lt (archive_open (sub, true, &a), 0);
  cr_assert_eq (archive_open ("ftp://host/x", true, &a), -EINVAL);
  cr_assert_eq (archive_open ("", true, &a), -EINVAL);
  rm_tree (dir);
}
