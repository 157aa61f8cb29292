/* A client that sends garbage instead of an option is dropped, and
 * other clients are not disturbed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <endian.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

Test (nbd_handshake, bad_magic)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  struct nbd_handle *h;
  char buf[512];
  int fd, fd2;

  th_start (&t, &cfg, 1 << 20);
  h = th_connect (&t);                  /* a client already served */
  fd2 = th_raw_connect (&t, false);     /* one still in its handshake */

  fd = th_raw_connect (&t, false);
  th_write_all (fd, "GARBAGE!GARBAGE!", 16);
  cr_assert (th_raw_closed (fd, 5000), "server kept a client with bad magic");
  close (fd);

  cr_assert_eq (nbd_pread (h, buf, sizeof buf, 0, 0), 0);
  th_raw_go (fd2, true);
  close (fd2);
  nbd_close (h);
  th_stop (&t);
}
