/* A request with a bad magic ends the connection (framing is lost);
 * requests already in flight still complete and other clients go on. */
#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

Test (nbd_cmd, bad_magic)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  struct nbd_handle *h;
  char buf[4096];
  int fd;

  th_start (&t, &cfg, 1 << 20);
  h = th_connect (&t);
  fd = th_raw_connect (&t, false);
  th_raw_go (fd, false);
  th_write_all (fd, "this is not an NBD request header", 28);
  cr_assert (th_raw_closed (fd, 5000), "server kept a client with bad magic");
  close (fd);
  cr_assert_eq (nbd_pread (h, buf, sizeof buf, 0, 0), 0);
  nbd_close (h);
  th_stop (&t);
}
