/* NBD_CMD_BLOCK_STATUS reports base:allocation extents; with
 * NBD_CMD_FLAG_REQ_ONE exactly one extent, within the request. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

struct seen {
  uint32_t e[64];
  size_t n;
};

static int
extents (void *opaque, const char *ctx, uint64_t off, uint32_t *e,
         size_t n, int *error)
{
  struct seen *s = opaque;

  cr_assert_str_eq (ctx, LIBNBD_CONTEXT_BASE_ALLOCATION);
  cr_assert_leq (n, 64);
  memcpy (s->e, e, n * sizeof *e);
  s->n = n;
  return 0;
}

Test (nbd_cmd, block_status)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  struct nbd_handle *h;
  struct seen s = { 0 };
  char buf[8192];
  nbd_extent_callback cb = { .callback = extents, .user_data = &s };

  th_start (&t, &cfg, 1 << 20);
  memset (buf, 1, sizeof buf);
  cr_assert_eq (pwrite (tb_fd (t.disk), buf, sizeof buf, 65536), 8192);
  h = th_connect (&t);
  cr_assert_eq (nbd_can_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION), 1);

  cr_assert_eq (nbd_block_status (h, 1 << 20, 0, cb, 0), 0);
  cr_assert_eq (s.n, 6);
  cr_assert_eq (s.e[0], 65536);
  cr_assert_eq (s.e[1], LIBNBD_STATE_HOLE | LIBNBD_STATE_ZERO);
  cr_assert_eq (s.e[2], 8192);
  cr_assert_eq (s.e[3], 0);
  cr_assert_eq (s.e[4], (1 << 20) - 65536 - 8192);
  cr_assert_eq (s.e[5], LIBNBD_STATE_HOLE | LIBNBD_STATE_ZERO);

  cr_assert_eq (nbd_block_status (h, (1 << 20) - 65536, 65536, cb,
                                  LIBNBD_CMD_FLAG_REQ_ONE), 0);
  cr_assert_eq (s.n, 2);
  cr_assert_eq (s.e[0], 8192);
  cr_assert_eq (s.e[1], 0);

  cr_assert_eq (nbd_block_status (h, 4096, 0, cb, LIBNBD_CMD_FLAG_REQ_ONE),
                0);
  cr_assert_eq (s.n, 2);
  cr_assert_eq (s.e[0], 4096);
  nbd_close (h);
  th_stop (&t);
}
