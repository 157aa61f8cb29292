/* Unknown options (and STARTTLS, extended headers) get
 * NBD_REP_ERR_UNSUP and the handshake goes on. */
#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

Test (nbd_handshake, unknown_option)
{
  struct tb_config cfg = { .fd = -1 };
  static const uint32_t options[] = { 99, 0x7fffffff, NBD_OPT_STARTTLS,
                                      NBD_OPT_EXTENDED_HEADERS, 4 };
  char payload[100] = "some data the server must skip";
  struct th t;
  int fd;

  th_start (&t, &cfg, 1 << 20);
  fd = th_raw_connect (&t, false);
  for (size_t i = 0; i < sizeof options / sizeof *options; i++) {
    th_raw_option (fd, options[i], payload, i % 2 ? sizeof payload : 0);
    cr_assert_eq (th_raw_option_reply (fd, options[i], NULL, 0, NULL),
                  NBD_REP_ERR_UNSUP, "option %u", options[i]);
  }
  th_raw_go (fd, true);
  close (fd);
  th_stop (&t);
}
