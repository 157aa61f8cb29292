/* Writes and write-zeroes beyond the end fail with ENOSPC; the
 * rejected payload is skipped so the next request is read correctly. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "tests/nbd/test-helpers.h"

Test (nbd_cmd, write_past_end)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  struct nbd_handle *h;
  char buf[65536], back[512];

  memset (buf, 0xab, sizeof buf);
  th_start (&t, &cfg, 1 << 20);
  h = th_connect_lax (&t);
  cr_assert_eq (nbd_pwrite (h, buf, sizeof buf, (1 << 20) - 512, 0), -1);
  cr_assert_eq (nbd_get_errno (), ENOSPC);
  cr_assert_eq (nbd_pwrite (h, buf, 512, 1 << 20, 0), -1);
  cr_assert_eq (nbd_get_errno (), ENOSPC);
  cr_assert_eq (nbd_zero (h, 8192, (1 << 20) - 4096, 0), -1);
  cr_assert_eq (nbd_get_errno (), ENOSPC);
  cr_assert_eq (tb_stats (t.disk)->writes, 0);
  cr_assert_eq (tb_stats (t.disk)->zeroes, 0);

  cr_assert_eq (nbd_pwrite (h, buf, 512, (1 << 20) - 512, 0), 0);
  cr_assert_eq (nbd_pread (h, back, 512, (1 << 20) - 512, 0), 0);
  cr_assert_eq (memcmp (buf, back, 512), 0);
  nbd_close (h);
  th_stop (&t);
}
