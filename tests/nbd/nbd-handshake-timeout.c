/* A client that connects and then says nothing is disconnected once the
 * handshake timeout passes, instead of holding a thread until shutdown;
 * a client that finished the handshake may then stay idle for longer. */
#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

Test (nbd_handshake, silent_client_is_dropped)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  int fd;

  th_start (&t, &cfg, 1 << 20);
  nbd_server_set_handshake_timeout (t.srv, 300);
  fd = th_raw_connect (&t, false);
  cr_assert (th_raw_closed (fd, 5000), "the silent client is still connected");
  close (fd);
  cr_assert_eq (tb_stats (t.disk)->opens, 0);
  th_stop (&t);
}

Test (nbd_handshake, idle_after_go_is_fine)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  struct nbd_handle *h;
  char buf[512];

  th_start (&t, &cfg, 1 << 20);
  nbd_server_set_handshake_timeout (t.srv, 300);
  h = th_connect (&t);
  usleep (800 * 1000);
  cr_assert_eq (nbd_pread (h, buf, sizeof buf, 0, 0), 0, "%s", nbd_get_error ());
  nbd_close (h);
  th_stop (&t);
}
