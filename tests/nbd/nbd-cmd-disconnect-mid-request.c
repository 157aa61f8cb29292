/* A client that disconnects halfway through a write payload is
 * dropped: nothing is written, the backend handle is closed, and other
 * clients are not disturbed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

static void
wait_closes (struct th *t, unsigned n)
{
  for (int i = 0; i < 500 && tb_stats (t->disk)->closes < n; i++)
    usleep (10000);
  cr_assert_eq (tb_stats (t->disk)->closes, n);
}

Test (nbd_cmd, disconnect_mid_request)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  struct nbd_handle *h;
  char buf[65536];
  int fd;

  memset (buf, 0x5a, sizeof buf);
  th_start (&t, &cfg, 1 << 20);
  h = th_connect (&t);

  fd = th_raw_connect (&t, false);
  th_raw_go (fd, true);
  th_raw_request (fd, 0, NBD_CMD_WRITE, 1, 0, sizeof buf);
  th_write_all (fd, buf, sizeof buf / 2);
  close (fd);
  wait_closes (&t, 1);

  fd = th_raw_connect (&t, false);            /* mid-header this time */
  th_raw_go (fd, false);
  th_write_all (fd, "\x25\x60\x95\x13\0\0", 6);
  close (fd);
  wait_closes (&t, 2);

  cr_assert_eq (tb_stats (t.disk)->writes, 0);
  cr_assert_eq (nbd_pread (h, buf, 4096, 0, 0), 0);
  cr_assert_eq (buf[0], 0);
  cr_assert_eq (nbd_pwrite (h, buf, 4096, 0, 0), 0);
  nbd_close (h);
  th_stop (&t);
}
