/* Reads and block status queries beyond the end fail with EINVAL. */
#include <criterion/criterion.h>
#include <errno.h>

#include "tests/nbd/test-helpers.h"

static int
ignore (void *opaque, const char *ctx, uint64_t off, uint32_t *e,
        size_t n, int *err)
{
  return 0;
}

Test (nbd_cmd, read_past_end)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  struct nbd_handle *h;
  char buf[8192];

  th_start (&t, &cfg, 1 << 20);
  h = th_connect_lax (&t);
  cr_assert_eq (nbd_pread (h, buf, 4096, (1 << 20) - 4096, 0), 0);
  cr_assert_eq (nbd_pread (h, buf, 8192, (1 << 20) - 4096, 0), -1);
  cr_assert_eq (nbd_get_errno (), EINVAL);
  cr_assert_eq (nbd_pread (h, buf, 512, UINT64_MAX - 100, 0), -1);
  cr_assert_eq (nbd_get_errno (), EINVAL);
  cr_assert_eq (nbd_block_status (h, 8192, (1 << 20) - 4096,
                                  (nbd_extent_callback) { .callback = ignore },
                                  0), -1);
  cr_assert_eq (nbd_get_errno (), EINVAL);
  cr_assert_eq (nbd_pread (h, buf, 4096, 0, 0), 0);
  nbd_close (h);
  th_stop (&t);
}
