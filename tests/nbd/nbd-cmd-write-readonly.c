/* On a read-only export, writes, write-zeroes and trims fail with
 * EPERM and nothing reaches the backend; reads work. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "tests/nbd/test-helpers.h"

Test (nbd_cmd, write_readonly)
{
  struct tb_config cfg = { .fd = -1, .read_only = true };
  struct th t;
  struct nbd_handle *h;
  char buf[4096];

  memset (buf, 7, sizeof buf);
  th_start (&t, &cfg, 1 << 20);
  h = th_connect_lax (&t);
  cr_assert_eq (nbd_is_read_only (h), 1);
  cr_assert_eq (nbd_can_trim (h), 0);
  cr_assert_eq (nbd_can_zero (h), 0);
  cr_assert_eq (nbd_pwrite (h, buf, sizeof buf, 0, 0), -1);
  cr_assert_eq (nbd_get_errno (), EPERM);
  cr_assert_eq (nbd_zero (h, 4096, 0, 0), -1);
  cr_assert_eq (nbd_get_errno (), EPERM);
  cr_assert_eq (nbd_trim (h, 4096, 0, 0), -1);
  cr_assert_eq (nbd_get_errno (), EPERM);
  cr_assert_eq (tb_stats (t.disk)->writes + tb_stats (t.disk)->zeroes +
                tb_stats (t.disk)->trims, 0);
  cr_assert_eq (nbd_pread (h, buf, sizeof buf, 0, 0), 0);
  cr_assert_eq (buf[0], 0);
  nbd_close (h);
  th_stop (&t);
}
