/* The handshake deadline holds after STARTTLS too: a client that has
 * started TLS and then drips one TLS record a byte at a time (each byte
 * well within the deadline) is disconnected once the deadline passes,
 * as a plain client dripping its option is. */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "tests/nbd/test-helpers.h"

#define KEY "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static double
now_s (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* STARTTLS on fd and a TLS handshake as alice; the session is returned
 * so that the test can write raw bytes on fd after it. */
static gnutls_session_t
start_tls (int fd, gnutls_psk_client_credentials_t *cred)
{
  const gnutls_datum_t key = { (unsigned char *) KEY, sizeof KEY - 1 };
  gnutls_session_t s;
  char buf[256];
  uint32_t len;
  int r;

  th_raw_option (fd, NBD_OPT_STARTTLS, NULL, 0);
  cr_assert_eq (th_raw_option_reply (fd, NBD_OPT_STARTTLS, buf, sizeof buf,
                                     &len), NBD_REP_ACK);
  cr_assert_eq (gnutls_psk_allocate_client_credentials (cred), 0);
  cr_assert_eq (gnutls_psk_set_client_credentials (*cred, "alice", &key,
                                                   GNUTLS_PSK_KEY_HEX), 0);
  cr_assert_eq (gnutls_init (&s, GNUTLS_CLIENT), 0);
  cr_assert_eq (gnutls_priority_set_direct
                (s, "NORMAL:+ECDHE-PSK:+DHE-PSK:+PSK", NULL), 0);
  cr_assert_eq (gnutls_credentials_set (s, GNUTLS_CRD_PSK, *cred), 0);
  gnutls_transport_set_int (s, fd);
  do
    r = gnutls_handshake (s);
  while (r < 0 && !gnutls_error_is_fatal (r));
  cr_assert_eq (r, 0, "TLS handshake: %s", gnutls_strerror (r));
  return s;
}

Test (nbd_handshake, dripping_tls_client_is_dropped)
{
  struct tb_config cfg = { .fd = -1 };
  /* An application data record of 16 KiB, of which only the header and
   * then a byte at a time are sent. */
  static const unsigned char hdr[] = { 0x17, 0x03, 0x03, 0x40, 0x00 };
  gnutls_psk_client_credentials_t cred;
  gnutls_session_t s;
  char port[16], psk[128], why[256];
  struct th t;
  bool closed = false;
  double start;
  int fd, r;

  th_start (&t, &cfg, 1 << 20);
  th_psk_file (&t, "a.psk", KEY, psk, sizeof psk);
  r = nbd_server_set_tls (t.srv, NBD_TLS_PSK, psk, why, sizeof why);
  cr_assert_eq (r, 0, "set_tls: %s: %s", strerror (-r), why);
  th_listen_tcp (&t, port);
  /* Long enough for the TLS handshake on a loaded machine. */
  nbd_server_set_handshake_timeout (t.srv, 3000);
  fd = th_raw_connect_tcp (port, false);
  s = start_tls (fd, &cred);
  start = now_s ();
  /* A byte every 100 ms: for 30 s, unless the server gives up first. */
  for (size_t i = 0; !closed && now_s () - start < 30; i++) {
    char zero = 0;
    const void *b = i < sizeof hdr ? (const void *) &hdr[i] : &zero;
    /* Closed: the send fails, or EOF or a reset after the close_notify
     * (th_raw_closed reads a byte of it at each call). */
    closed = send (fd, b, 1, MSG_NOSIGNAL) != 1 || th_raw_closed (fd, 100);
  }
  cr_assert (closed, "the client dripping a TLS record was still "
             "connected after 30 s");
  gnutls_deinit (s);
  gnutls_psk_free_client_credentials (cred);
  close (fd);
  th_stop (&t);
}
