/* A message longer than CDP_ERROR_MAX - 1 bytes is cut there (and ends
 * with its NUL), never overflows; a message may wrap the one it replaces
 * (its argument points into the thread's own buffer), also when that
 * one was already as long as it can be. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "common/error.h"

Test (error_truncate, long_message_is_cut)
{
  char big[3 * CDP_ERROR_MAX];

  memset (big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  cdp_set_error (-EIO, "%s", big);
  cr_assert_eq (strlen (cdp_get_error ()), CDP_ERROR_MAX - 1);
  cr_assert_eq (strncmp (cdp_get_error (), big, CDP_ERROR_MAX - 1), 0);
  cr_assert_eq (cdp_get_errno (), EIO);
}

Test (error_truncate, wrapping_the_current_message)
{
  cdp_set_error (-EUCLEAN, "segment 3 offset 4096: bad record");
  cdp_set_error (-EUCLEAN, "base point %s: %s", "d1.qcow2",
                 cdp_get_error ());
  cr_assert_str_eq (cdp_get_error (),
                    "base point d1.qcow2: segment 3 offset 4096: bad record");
}

Test (error_truncate, wrapping_a_full_message)
{
  char big[2 * CDP_ERROR_MAX], want[CDP_ERROR_MAX];

  memset (big, 'y', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  cdp_set_error (-EIO, "%s", big);
  cdp_set_error (-EIO, "disk vda: %s", cdp_get_error ());
  strcpy (want, "disk vda: ");
  memset (want + 10, 'y', sizeof want - 11);
  want[sizeof want - 1] = '\0';
  cr_assert_str_eq (cdp_get_error (), want);
}
