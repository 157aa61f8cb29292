/* Reads and writes larger than the advertised maximum block size fail
 * with EINVAL (the write's payload is skipped); a don't-fragment read
 * that large fails with EOVERFLOW. */
#include <criterion/criterion.h>
#include <errno.h>
#include <endian.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

Test (nbd_cmd, oversized)
{
  struct tb_config cfg = { .fd = -1, .max_block = 1 << 20 };
  struct th t;
  struct nbd_handle *h;
  char *buf = calloc (1, 2 << 20);
  uint64_t cookie;
  uint32_t len, err;
  uint16_t flags;
  int fd;

  th_start (&t, &cfg, 8 << 20);
  h = th_connect_lax (&t);
  cr_assert_eq (nbd_get_block_size (h, LIBNBD_SIZE_MAXIMUM), 1 << 20);
  cr_assert_eq (nbd_pread (h, buf, 2 << 20, 0, 0), -1);
  cr_assert_eq (nbd_get_errno (), EINVAL);
  cr_assert_eq (nbd_pwrite (h, buf, (1 << 20) + 512, 0, 0), -1);
  cr_assert_eq (nbd_get_errno (), EINVAL);
  cr_assert_eq (nbd_pwrite (h, buf, 1 << 20, 0, 0), 0);
  cr_assert_eq (nbd_pread (h, buf, 1 << 20, 0, 0), 0);
  /* Zeroes and trims are not bounded by the maximum block size. */
  cr_assert_eq (nbd_zero (h, 4 << 20, 0, 0), 0);
  cr_assert_eq (nbd_trim (h, 4 << 20, 0, 0), 0);
  nbd_close (h);

  fd = th_raw_connect (&t, false);
  th_raw_go (fd, true);
  th_raw_request (fd, NBD_CMD_FLAG_DF, NBD_CMD_READ, 9, 0, 2 << 20);
  cr_assert_eq (th_raw_chunk (fd, &flags, &cookie, &len),
                NBD_REPLY_TYPE_ERROR);
  cr_assert_eq (len, 6);
  th_read_all (fd, &err, 4);
  th_read_all (fd, buf, 2);
  cr_assert_eq (be32toh (err), NBD_EOVERFLOW);
  close (fd);
  free (buf);
  th_stop (&t);
}
