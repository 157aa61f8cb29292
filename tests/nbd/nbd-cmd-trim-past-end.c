/* A trim beyond the end fails with EINVAL and trims nothing. */
#include <criterion/criterion.h>
#include <errno.h>

#include "tests/nbd/test-helpers.h"

Test (nbd_cmd, trim_past_end)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  struct nbd_handle *h;

  th_start (&t, &cfg, 1 << 20);
  h = th_connect_lax (&t);
  cr_assert_eq (nbd_trim (h, 8192, (1 << 20) - 4096, 0), -1);
  cr_assert_eq (nbd_get_errno (), EINVAL);
  cr_assert_eq (tb_stats (t.disk)->trims, 0);
  cr_assert_eq (nbd_trim (h, 4096, (1 << 20) - 4096, 0), 0);
  cr_assert_eq (tb_stats (t.disk)->trims, 1);
  nbd_close (h);
  th_stop (&t);
}
