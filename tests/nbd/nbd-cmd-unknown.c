/* An unknown command, or a known one with a flag it does not take,
 * fails with EINVAL and the connection goes on. */
#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

static void
expect (int fd, uint16_t flags, uint16_t type, uint32_t err)
{
  static uint64_t next = 100;
  uint64_t cookie = next++, got;

  th_raw_request (fd, flags, type, cookie, 0, 512);
  cr_assert_eq (th_raw_simple_reply (fd, &got), err, "type %u flags 0x%x",
                type, flags);
  cr_assert_eq (got, cookie);
}

Test (nbd_cmd, unknown)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  char buf[512];
  int fd;

  th_start (&t, &cfg, 1 << 20);
  fd = th_raw_connect (&t, false);
  th_raw_go (fd, false);
  expect (fd, 0, 42, NBD_EINVAL);
  expect (fd, 0, 0xffff, NBD_EINVAL);
  expect (fd, 0, NBD_CMD_CACHE, NBD_EINVAL);
  expect (fd, 0x8000, NBD_CMD_TRIM, NBD_EINVAL);
  expect (fd, NBD_CMD_FLAG_REQ_ONE, NBD_CMD_TRIM, NBD_EINVAL);
  expect (fd, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_TRIM, NBD_EINVAL);
  expect (fd, NBD_CMD_FLAG_FUA, NBD_CMD_TRIM, 0);
  /* DF needs structured replies; without them the read fails whole. */
  expect (fd, NBD_CMD_FLAG_DF, NBD_CMD_READ, NBD_EINVAL);
  /* Still in step: a read returns its data. */
  th_raw_request (fd, 0, NBD_CMD_READ, 1, 0, sizeof buf);
  cr_assert_eq (th_raw_simple_reply (fd, NULL), 0);
  th_read_all (fd, buf, sizeof buf);
  close (fd);
  th_stop (&t);
}
