/* The handshake timeout bounds the whole handshake, not each read: a
 * client that drips its option one byte at a time (each byte well
 * within the timeout) is still disconnected once the timeout passes. */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

static double
now_s (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

Test (nbd_handshake, dripping_client_is_dropped)
{
  struct tb_config cfg = { .fd = -1 };
  struct nbd_new_option h = {
    .version = htobe64 (NBD_IHAVEOPT),
    .option = htobe32 (NBD_OPT_LIST),
    .optlen = htobe32 (60000),      /* a long option, sent slowly */
  };
  const char *p = (const char *) &h;
  struct th t;
  bool closed = false;
  double start;
  int fd;

  th_start (&t, &cfg, 1 << 20);
  nbd_server_set_handshake_timeout (t.srv, 1000);
  fd = th_raw_connect (&t, false);
  start = now_s ();
  /* A byte every 100 ms: for 30 s, unless the server gives up first. */
  for (size_t i = 0; !closed && now_s () - start < 30; i++) {
    char zero = 0;
    const char *b = i < sizeof h ? p + i : &zero;
    if (send (fd, b, 1, MSG_NOSIGNAL) != 1)
      break;
    closed = th_raw_closed (fd, 100);
  }
  cr_assert (closed || now_s () - start < 30,
             "the dripping client was still connected after 30 s");
  close (fd);
  th_stop (&t);
}
