/* FUA reaches the backend on writes, zeroes and trims (and is accepted
 * on reads), and FLUSH is passed on. */
#include <criterion/criterion.h>
#include <errno.h>

#include "tests/nbd/test-helpers.h"

Test (nbd_cmd, fua_flush)
{
  struct tb_config cfg = { .fd = -1, .async = true };
  struct th t;
  struct nbd_handle *h;
  char buf[4096] = { 9 };
  struct tb_stats *st;

  th_start (&t, &cfg, 1 << 20);
  st = tb_stats (t.disk);
  h = th_connect_lax (&t);
  cr_assert_eq (nbd_can_fua (h), 1);
  cr_assert_eq (nbd_can_flush (h), 1);
  cr_assert_eq (nbd_pwrite (h, buf, sizeof buf, 0, LIBNBD_CMD_FLAG_FUA), 0);
  cr_assert_eq (nbd_zero (h, 4096, 4096, LIBNBD_CMD_FLAG_FUA), 0);
  cr_assert_eq (nbd_trim (h, 4096, 8192, LIBNBD_CMD_FLAG_FUA), 0);
  cr_assert_eq (nbd_pwrite (h, buf, sizeof buf, 0, 0), 0);
  cr_assert_eq (st->fua, 3);
  cr_assert_eq (nbd_flush (h, 0), 0);
  cr_assert_eq (st->flushes, 1);
  cr_assert_eq (nbd_pread (h, buf, sizeof buf, 0, LIBNBD_CMD_FLAG_FUA), 0);
  /* FUA is accepted on any command, flush included. */
  cr_assert_eq (nbd_flush (h, LIBNBD_CMD_FLAG_FUA), 0);
  nbd_close (h);
  th_stop (&t);
}
