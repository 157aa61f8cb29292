/* NBD_OPT_ABORT is acknowledged and the server closes the session;
 * the backend never opened anything. */
#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

Test (nbd_handshake, abort)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  int fd;

  th_start (&t, &cfg, 1 << 20);
  fd = th_raw_connect (&t, false);
  th_raw_option (fd, NBD_OPT_ABORT, NULL, 0);
  cr_assert_eq (th_raw_option_reply (fd, NBD_OPT_ABORT, NULL, 0, NULL),
                NBD_REP_ACK);
  cr_assert (th_raw_closed (fd, 5000));
  close (fd);
  cr_assert_eq (tb_stats (t.disk)->opens, 0);
  th_stop (&t);
}
