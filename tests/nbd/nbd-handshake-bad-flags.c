/* A client that sets unknown client flags, or does not speak fixed
 * newstyle, is dropped right after the greeting. */
#include <criterion/criterion.h>
#include <errno.h>
#include <endian.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

static void
try_flags (struct th *t, uint32_t flags)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  struct nbd_new_handshake g;
  uint32_t be = htobe32 (flags);
  int fd = socket (AF_UNIX, SOCK_STREAM, 0);

  strcpy (sa.sun_path, t->sock);
  cr_assert_eq (connect (fd, (struct sockaddr *) &sa, sizeof sa), 0);
  th_read_all (fd, &g, sizeof g);
  th_write_all (fd, &be, sizeof be);
  cr_assert (th_raw_closed (fd, 5000), "flags 0x%x accepted", flags);
  close (fd);
}

Test (nbd_handshake, bad_flags)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;

  th_start (&t, &cfg, 1 << 20);
  try_flags (&t, NBD_FLAG_C_FIXED_NEWSTYLE | 0x80);
  try_flags (&t, 0);
  th_stop (&t);
}
