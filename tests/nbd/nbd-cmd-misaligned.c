/* With a minimum block size of 512, requests not aligned to it fail
 * with EINVAL (and a rejected write's payload is skipped). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "tests/nbd/test-helpers.h"

Test (nbd_cmd, misaligned)
{
  struct tb_config cfg = { .fd = -1, .min_block = 512 };
  struct th t;
  struct nbd_handle *h;
  char buf[4096];

  memset (buf, 1, sizeof buf);
  th_start (&t, &cfg, 1 << 20);
  h = th_connect_lax (&t);
  cr_assert_eq (nbd_get_block_size (h, LIBNBD_SIZE_MINIMUM), 512);
  cr_assert_eq (nbd_pread (h, buf, 512, 100, 0), -1);
  cr_assert_eq (nbd_get_errno (), EINVAL);
  cr_assert_eq (nbd_pread (h, buf, 1000, 0, 0), -1);
  cr_assert_eq (nbd_get_errno (), EINVAL);
  cr_assert_eq (nbd_pwrite (h, buf, 4000, 512, 0), -1);
  cr_assert_eq (nbd_get_errno (), EINVAL);
  cr_assert_eq (nbd_trim (h, 512, 256, 0), -1);
  cr_assert_eq (nbd_get_errno (), EINVAL);
  cr_assert_eq (nbd_zero (h, 100, 0, 0), -1);
  cr_assert_eq (nbd_get_errno (), EINVAL);
  cr_assert_eq (tb_stats (t.disk)->writes, 0);
  cr_assert_eq (nbd_pwrite (h, buf, 4096, 512, 0), 0);
  cr_assert_eq (nbd_pread (h, buf, 512, 1024, 0), 0);
  nbd_close (h);
  th_stop (&t);
}
