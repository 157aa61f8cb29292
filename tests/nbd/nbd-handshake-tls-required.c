/* A server with TLS answers every option but STARTTLS and ABORT from a
 * TCP client that has not started TLS with NBD_REP_ERR_TLS_REQD (and
 * ends the connection on EXPORT_NAME, which cannot be refused); the
 * export is never opened for it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

#define KEY "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static void
start_tls_server (struct th *t, char port[16])
{
  struct tb_config cfg = { .fd = -1 };
  char psk[128], why[256];
  int r;

  th_start (t, &cfg, 1 << 20);
  th_psk_file (t, "a.psk", KEY, psk, sizeof psk);
  r = nbd_server_set_tls (t->srv, NBD_TLS_PSK, psk, why, sizeof why);
  cr_assert_eq (r, 0, "set_tls: %s: %s", strerror (-r), why);
  th_listen_tcp (t, port);
}

Test (nbd_handshake, tls_required_refuses_options)
{
  static const uint32_t options[] = {
    NBD_OPT_LIST, NBD_OPT_INFO, NBD_OPT_GO, NBD_OPT_STRUCTURED_REPLY,
    NBD_OPT_LIST_META_CONTEXT, NBD_OPT_SET_META_CONTEXT, 99,
  };
  static const char go[6] = { 0 };  /* export "", no info requests */
  struct th t;
  char port[16];
  int fd;

  start_tls_server (&t, port);
  fd = th_raw_connect_tcp (port, false);
  for (size_t i = 0; i < sizeof options / sizeof *options; i++) {
    bool info = options[i] == NBD_OPT_INFO || options[i] == NBD_OPT_GO;
    th_raw_option (fd, options[i], go, info ? sizeof go : 0);
    cr_assert_eq (th_raw_option_reply (fd, options[i], NULL, 0, NULL),
                  NBD_REP_ERR_TLS_REQD, "option %u", options[i]);
  }
  th_raw_option (fd, NBD_OPT_ABORT, NULL, 0);
  cr_assert_eq (th_raw_option_reply (fd, NBD_OPT_ABORT, NULL, 0, NULL),
                NBD_REP_ACK);
  close (fd);
  cr_assert_eq (tb_stats (t.disk)->opens, 0, "the export was opened");
  th_stop (&t);
}

Test (nbd_handshake, tls_required_export_name_ends)
{
  struct th t;
  char port[16];
  int fd;

  start_tls_server (&t, port);
  fd = th_raw_connect_tcp (port, false);
  th_raw_option (fd, NBD_OPT_EXPORT_NAME, NULL, 0);
  cr_assert (th_raw_closed (fd, 10000), "EXPORT_NAME without TLS was served");
  close (fd);
  cr_assert_eq (tb_stats (t.disk)->opens, 0, "the export was opened");
  th_stop (&t);
}

Test (nbd_handshake, tls_starttls_with_data_is_invalid)
{
  struct th t;
  char port[16];
  int fd;

  start_tls_server (&t, port);
  fd = th_raw_connect_tcp (port, false);
  th_raw_option (fd, NBD_OPT_STARTTLS, "junk", 4);
  cr_assert_eq (th_raw_option_reply (fd, NBD_OPT_STARTTLS, NULL, 0, NULL),
                NBD_REP_ERR_INVALID);
  th_raw_option (fd, NBD_OPT_STARTTLS, NULL, 0);
  cr_assert_eq (th_raw_option_reply (fd, NBD_OPT_STARTTLS, NULL, 0, NULL),
                NBD_REP_ACK);
  close (fd);                       /* no TLS handshake follows */
  th_stop (&t);
}
