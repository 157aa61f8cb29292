/* The errno given with a message is kept, positive whichever sign it
 * was given with, and returned unchanged for "return cdp_set_error";
 * clearing forgets both; a saved error comes back whole after a
 * clean-up that set its own. */
#include <criterion/criterion.h>
#include <errno.h>

#include "common/error.h"

Test (error_errno, kept_and_returned)
{
  cr_assert_eq (cdp_set_error (-ENOSPC, "store full"), -ENOSPC);
  cr_assert_eq (cdp_get_errno (), ENOSPC);
  cr_assert_str_eq (cdp_get_error (), "store full");
  cr_assert_eq (cdp_set_error (EINVAL, "bad value %d", 7), EINVAL);
  cr_assert_eq (cdp_get_errno (), EINVAL);
  cr_assert_str_eq (cdp_get_error (), "bad value 7");
}

Test (error_errno, cleared)
{
  cdp_set_error (-EIO, "failed");
  cdp_clear_error ();
  cr_assert_eq (cdp_get_errno (), 0);
  cr_assert_str_eq (cdp_get_error (), "");
}

Test (error_errno, saved_across_a_cleanup)
{
  struct cdp_saved_error saved;

  cdp_set_error (-ETIMEDOUT, "mirror job did not end in time");
  cdp_save_error (&saved);
  cdp_set_error (-EBUSY, "blockdev-del: node is in use");
  cdp_restore_error (&saved);
  cr_assert_eq (cdp_get_errno (), ETIMEDOUT);
  cr_assert_str_eq (cdp_get_error (), "mirror job did not end in time");
}
