/* NBD_CMD_FLAG_FAST_ZERO: a backend that cannot zero fast fails with
 * ENOTSUP and changes nothing; NBD_CMD_FLAG_NO_HOLE is passed on. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "tests/nbd/test-helpers.h"

Test (nbd_cmd, fast_zero)
{
  struct tb_config cfg = { .fd = -1, .no_fast_zero = true };
  struct th t;
  struct nbd_handle *h;
  char buf[4096];

  memset (buf, 0x42, sizeof buf);
  th_start (&t, &cfg, 1 << 20);
  h = th_connect (&t);
  cr_assert_eq (nbd_can_fast_zero (h), 1);
  cr_assert_eq (nbd_pwrite (h, buf, sizeof buf, 0, 0), 0);
  cr_assert_eq (nbd_zero (h, 4096, 0, LIBNBD_CMD_FLAG_FAST_ZERO), -1);
  cr_assert_eq (nbd_get_errno (), ENOTSUP);
  cr_assert_eq (nbd_pread (h, buf, sizeof buf, 0, 0), 0);
  cr_assert_eq (buf[100], 0x42);
  cr_assert_eq (nbd_zero (h, 4096, 0, LIBNBD_CMD_FLAG_NO_HOLE), 0);
  cr_assert_eq (tb_stats (t.disk)->no_hole, 1);
  cr_assert_eq (nbd_pread (h, buf, sizeof buf, 0, 0), 0);
  cr_assert_eq (buf[100], 0);
  nbd_close (h);
  th_stop (&t);
}
