/* cdp NBD server: TLS (GnuTLS) for TCP connections: the server's
 * credentials (X.509 with client certificates checked against the CA,
 * or pre-shared keys), NBD_OPT_STARTTLS, and the record I/O that
 * io.c uses once a connection is encrypted.
 *
 * GnuTLS lets one thread send and another receive on a session at the
 * same time: after the handshake only the reader thread calls
 * tls_recv and only the writer thread calls tls_sendv. */
#include "nbd-export/internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"

/* Record payloads at most this long are gathered (corked) into as few
 * records as possible; longer ones are sent straight from the caller's
 * buffer instead of being copied. */
#define CORK_MAX 16384
/* Corked bytes past this are sent at once (the cork buffer is a copy). */
#define CORK_FLUSH (256 * 1024)
/* Bytes read from the socket at once, ahead of GnuTLS. */
#define TLS_INBUF (256 * 1024)

/* The server picks the cipher, AES-GCM first: with AES instructions
 * it runs more than ten times faster than ChaCha20 (5.5 and 0.34 GB/s
 * on one core of the benchmark host, gnutls-cli --benchmark-ciphers),
 * and GnuTLS clients (libnbd, QEMU) may list ChaCha20 first.  PSK
 * suites as nbdkit and QEMU offer them. */
#define PRIORITY_X509 "NORMAL:%SERVER_PRECEDENCE:-CIPHER-ALL:+AES-128-GCM:" \
  "+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CCM:+AES-256-CCM:+AES-128-CBC:" \
  "+AES-256-CBC"
#define PRIORITY_PSK  PRIORITY_X509 ":+ECDHE-PSK:+DHE-PSK:+PSK"

struct nbd_tls {
  enum nbd_tls_kind kind;
  gnutls_certificate_credentials_t x509;
  gnutls_psk_server_credentials_t psk;
  gnutls_priority_t priority;
};

static void
set_why (char *why, size_t len, const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));

static void
set_why (char *why, size_t len, const char *fmt, ...)
{
  va_list ap;

  if (why == NULL || len == 0)
    return;
  va_start (ap, fmt);
  vsnprintf (why, len, fmt, ap);
  va_end (ap);
}

/* Can path be opened for reading?  0 or -errno. */
static int
readable (const char *path)
{
  FILE *f = fopen (path, "re");

  if (f == NULL)
    return -errno;
  fclose (f);
  return 0;
}

static int
load_x509 (struct nbd_tls *t, const char *dir, char *why, size_t len)
{
  static const char *const needed[] = {
    "ca-cert.pem", "server-cert.pem", "server-key.pem",
  };
  CLEANUP_FREE char *ca = NULL, *cert = NULL, *key = NULL, *crl = NULL;
  int r;

  for (size_t i = 0; i < sizeof needed / sizeof *needed; i++) {
    CLEANUP_FREE char *p = NULL;
    if (asprintf (&p, "%s/%s", dir, needed[i]) < 0)
      return -ENOMEM;
    if ((r = readable (p)) < 0) {
      set_why (why, len, "%s: %s", p, strerror (-r));
      return r;
    }
  }
  if (asprintf (&ca, "%s/ca-cert.pem", dir) < 0 ||
      asprintf (&cert, "%s/server-cert.pem", dir) < 0 ||
      asprintf (&key, "%s/server-key.pem", dir) < 0 ||
      asprintf (&crl, "%s/ca-crl.pem", dir) < 0)
    return -ENOMEM;
  if (gnutls_certificate_allocate_credentials (&t->x509) < 0)
    return -ENOMEM;
  r = gnutls_certificate_set_x509_trust_file (t->x509, ca,
                                              GNUTLS_X509_FMT_PEM);
  if (r <= 0) {
    set_why (why, len, "%s: %s", ca,
             r == 0 ? "no certificate in it" : gnutls_strerror (r));
    return -EINVAL;
  }
  r = gnutls_certificate_set_x509_key_file (t->x509, cert, key,
                                            GNUTLS_X509_FMT_PEM);
  if (r < 0) {
    set_why (why, len, "%s, %s: %s", cert, key, gnutls_strerror (r));
    return -EINVAL;
  }
  /* A revocation list is optional, as for QEMU's tls-creds-x509; one
   * that is there but cannot be read is an error, not no list. */
  r = readable (crl);
  if (r < 0 && r != -ENOENT) {
    set_why (why, len, "%s: %s", crl, strerror (-r));
    return r;
  }
  if (r == 0 &&
      (r = gnutls_certificate_set_x509_crl_file (t->x509, crl,
                                                 GNUTLS_X509_FMT_PEM)) < 0) {
    set_why (why, len, "%s: %s", crl, gnutls_strerror (r));
    return -EINVAL;
  }
  return 0;
}

static bool
is_hex (const char *s, size_t n)
{
  if (n == 0 || n % 2)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
          (s[i] >= 'A' && s[i] <= 'F')))
      return false;
  return true;
}

/* The file GnuTLS reads at each handshake: lines "username:hexkey".
 * Check it now so that a typo fails at start, not at the first client. */
static int
check_psk_file (const char *file, char *why, size_t len)
{
  FILE *f = fopen (file, "re");
  char line[1024];
  unsigned n = 0, keys = 0;
  int r = 0;

  if (f == NULL) {
    r = -errno;
    set_why (why, len, "%s: %s", file, strerror (-r));
    return r;
  }
  while (r == 0 && fgets (line, sizeof line, f)) {
    size_t l = strcspn (line, "\n");
    char *colon;

    n++;
    line[l] = '\0';
    if (l == 0)
      continue;
    colon = strchr (line, ':');
    /* GnuTLS drops the '\n' only: a '\r' before it is read as key. */
    if (line[l - 1] == '\r') {
      set_why (why, len, "%s line %u: CRLF line end (GnuTLS reads the "
               "'\\r' as part of the key): use LF", file, n);
      r = -EINVAL;
    }
    else if (colon == NULL || colon == line ||
             !is_hex (colon + 1, strlen (colon + 1))) {
      set_why (why, len, "%s line %u: not username:hexkey", file, n);
      r = -EINVAL;
    }
    keys++;
  }
  if (r == 0 && ferror (f)) {
    set_why (why, len, "%s: read error", file);
    r = -EIO;
  }
  if (r == 0 && keys == 0) {
    set_why (why, len, "%s: no keys in it", file);
    r = -EINVAL;
  }
  fclose (f);
  return r;
}

static int
load_psk (struct nbd_tls *t, const char *file, char *why, size_t len)
{
  int r = check_psk_file (file, why, len);

  if (r < 0)
    return r;
  if (gnutls_psk_allocate_server_credentials (&t->psk) < 0)
    return -ENOMEM;
  r = gnutls_psk_set_server_credentials_file (t->psk, file);
  if (r < 0) {
    set_why (why, len, "%s: %s", file, gnutls_strerror (r));
    return -EINVAL;
  }
  return 0;
}

static void
tls_free (struct nbd_tls *t)
{
  if (t == NULL)
    return;
  if (t->priority)
    gnutls_priority_deinit (t->priority);
  if (t->x509)
    gnutls_certificate_free_credentials (t->x509);
  if (t->psk)
    gnutls_psk_free_server_credentials (t->psk);
  free (t);
}

int
nbd_server_set_tls (struct nbd_server *srv, enum nbd_tls_kind kind,
                    const char *path, char *why, size_t len)
{
  struct nbd_tls *t;
  int r;

  set_why (why, len, "%s", "");
  if (srv->tls || (kind != NBD_TLS_X509 && kind != NBD_TLS_PSK))
    return -EINVAL;
  t = calloc (1, sizeof *t);
  if (t == NULL)
    return -ENOMEM;
  t->kind = kind;
  r = kind == NBD_TLS_X509 ? load_x509 (t, path, why, len)
                           : load_psk (t, path, why, len);
  if (r == 0 &&
      gnutls_priority_init (&t->priority, kind == NBD_TLS_X509
                            ? PRIORITY_X509 : PRIORITY_PSK, NULL) < 0)
    r = -ENOMEM;
  if (r < 0) {
    tls_free (t);
    return r;
  }
  srv->tls = t;
  return 0;
}

void
tls_server_free (struct nbd_server *srv)
{
  tls_free (srv->tls);
  srv->tls = NULL;
}

/* ---- one connection ----------------------------------------------------- */

/* GnuTLS reads a record in two reads of exactly the bytes it needs
 * (header, then body): a buffer of our own makes that one recv per
 * TLS_INBUF or per what the socket holds. */
static ssize_t
pull (gnutls_transport_ptr_t ptr, void *data, size_t len)
{
  struct connection *conn = ptr;
  size_t n;

  if (conn->tls_in_start == conn->tls_in_end) {
    ssize_t r;
    /* One record may take many reads: each, not only the first, ends
     * by the handshake's deadline. */
    if (conn_arm_deadline (conn) < 0) {
      gnutls_transport_set_errno (conn->tls, EAGAIN);
      return -1;
    }
    r = recv (conn->fd, conn->tls_in, TLS_INBUF, 0);
    if (r < 0) {
      gnutls_transport_set_errno (conn->tls, errno);
      return -1;
    }
    conn->tls_in_start = 0;
    conn->tls_in_end = (size_t) r;
    if (r == 0)
      return 0;
  }
  n = conn->tls_in_end - conn->tls_in_start;
  n = n < len ? n : len;
  memcpy (data, conn->tls_in + conn->tls_in_start, n);
  conn->tls_in_start += n;
  return (ssize_t) n;
}

/* For the handshake's deadline: is there something to read within ms? */
static int
pull_timeout (gnutls_transport_ptr_t ptr, unsigned ms)
{
  struct connection *conn = ptr;
  struct pollfd p = { .fd = conn->fd, .events = POLLIN };

  if (conn->tls_in_start < conn->tls_in_end)
    return 1;
  return poll (&p, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1
               : ms > INT_MAX ? INT_MAX : (int) ms);
}

static int
new_session (struct connection *conn)
{
  struct nbd_tls *t = conn->srv->tls;
  gnutls_session_t s;
  int r;

  if (gnutls_init (&s, GNUTLS_SERVER | GNUTLS_NO_SIGNAL) < 0)
    return -ENOMEM;
  r = gnutls_priority_set (s, t->priority);
  if (r == 0 && t->kind == NBD_TLS_X509) {
    r = gnutls_credentials_set (s, GNUTLS_CRD_CERTIFICATE, t->x509);
    gnutls_certificate_server_set_request (s, GNUTLS_CERT_REQUIRE);
  }
  else if (r == 0)
    r = gnutls_credentials_set (s, GNUTLS_CRD_PSK, t->psk);
  if (r < 0) {
    gnutls_deinit (s);
    return -ENOMEM;
  }
  conn->tls_in = malloc (TLS_INBUF);
  if (conn->tls_in == NULL) {
    gnutls_deinit (s);
    return -ENOMEM;
  }
  /* Sending: GnuTLS's own writev on the socket; receiving: pull. */
  gnutls_transport_set_ptr2 (s, conn,
                             (gnutls_transport_ptr_t) (intptr_t) conn->fd);
  gnutls_transport_set_pull_function (s, pull);
  gnutls_transport_set_pull_timeout_function (s, pull_timeout);
  conn->tls = s;
  return 0;
}

/* The client's certificate must chain to the CA, be in its validity
 * period and not be revoked. */
static int
verify_client (struct connection *conn)
{
  unsigned status = 0;
  gnutls_datum_t out;
  int r;

  if (conn->srv->tls->kind != NBD_TLS_X509)
    return 0;
  r = gnutls_certificate_verify_peers2 (conn->tls, &status);
  if (r < 0) {
    conn_log (conn, NBD_LOG_WARNING, "TLS: client certificate: %s",
              gnutls_strerror (r));
    return -EACCES;
  }
  if (status == 0)
    return 0;
  if (gnutls_certificate_verification_status_print
      (status, GNUTLS_CRT_X509, &out, 0) == 0) {
    conn_log (conn, NBD_LOG_WARNING, "TLS: client certificate refused: %s",
              (const char *) out.data);
    gnutls_free (out.data);
  }
  return -EACCES;
}

static int
handshake_tls (struct connection *conn)
{
  unsigned ms = tls_remaining_ms (conn);
  int r;

  if (ms)
    gnutls_handshake_set_timeout (conn->tls, ms);
  do
    r = gnutls_handshake (conn->tls);
  while (r < 0 && !gnutls_error_is_fatal (r) && r != GNUTLS_E_AGAIN);
  if (r < 0) {
    conn_log (conn, NBD_LOG_WARNING, "TLS handshake: %s",
              gnutls_strerror (r));
    return r == GNUTLS_E_AGAIN || r == GNUTLS_E_TIMEDOUT ? -ETIMEDOUT
                                                         : -EACCES;
  }
  return verify_client (conn);
}

/* Acknowledge STARTTLS, then run the TLS handshake on the socket. */
static int
start_tls (struct connection *conn)
{
  char *desc;
  int r;

  r = send_option_reply (conn, NBD_OPT_STARTTLS, NBD_REP_ACK, NULL, 0);
  if (r == 0)
    r = new_session (conn);
  if (r == 0 && (r = handshake_tls (conn)) < 0)
    tls_close (conn);           /* nothing to say goodbye to */
  if (r < 0)
    return r;
  /* What was said before TLS does not count (the NBD spec). */
  conn->structured = false;
  conn->meta_selected = false;
  free (conn->meta_export);
  conn->meta_export = NULL;
  desc = gnutls_session_get_desc (conn->tls);
  conn_log (conn, NBD_LOG_INFO, "TLS on: %s", desc ? desc : "?");
  gnutls_free (desc);
  return 0;
}

int
option_starttls (struct connection *conn, uint32_t len)
{
  if (conn->srv->tls == NULL || !conn->tls_wanted)
    return send_option_error (conn, NBD_OPT_STARTTLS, NBD_REP_ERR_UNSUP,
                              "TLS is not offered on this connection");
  if (len != 0)
    return send_option_error (conn, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID,
                              "unexpected option data");
  if (conn->tls)
    return send_option_error (conn, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID,
                              "TLS is already on");
  return start_tls (conn);
}

void
tls_close (struct connection *conn)
{
  if (conn->tls)
    gnutls_deinit (conn->tls);
  conn->tls = NULL;
  free (conn->tls_in);
  conn->tls_in = NULL;
}

void
tls_bye (struct connection *conn)
{
  if (conn->tls && !conn->dead)
    gnutls_bye (conn->tls, GNUTLS_SHUT_WR);
}

/* ---- record I/O --------------------------------------------------------- */

static int
tls_errno (ssize_t r)
{
  switch (r) {
  case GNUTLS_E_AGAIN: return -ETIMEDOUT;
  case GNUTLS_E_PREMATURE_TERMINATION: return -ECONNRESET;
  case GNUTLS_E_PUSH_ERROR:
  case GNUTLS_E_PULL_ERROR: return -EPIPE;
  case GNUTLS_E_MEMORY_ERROR: return -ENOMEM;
  default: return -EPROTO;
  }
}

ssize_t
tls_recv (struct connection *conn, void *buf, size_t len)
{
  ssize_t n;

  do
    n = gnutls_record_recv (conn->tls, buf, len);
  while (n == GNUTLS_E_INTERRUPTED);
  return n < 0 ? tls_errno (n) : n;
}

static int
send_all (gnutls_session_t s, const char *p, size_t len)
{
  while (len > 0) {
    ssize_t n = gnutls_record_send (s, p, len);
    if (n == GNUTLS_E_INTERRUPTED)
      continue;
    if (n < 0)
      return tls_errno (n);
    p += n;
    len -= (size_t) n;
  }
  return 0;
}

static int
uncork (gnutls_session_t s)
{
  int r;

  do
    r = gnutls_record_uncork (s, 0);
  while (r == GNUTLS_E_INTERRUPTED);
  /* A partial flush leaves the rest corked: a send timed out, and the
   * connection ends anyway. */
  return r < 0 ? tls_errno (r) : gnutls_record_check_corked (s) ? -ETIMEDOUT
                                                                : 0;
}

int
tls_sendv (struct connection *conn, const struct iovec *iov, int iovcnt,
           bool more)
{
  gnutls_session_t s = conn->tls;
  int r = 0;

  for (int i = 0; r == 0 && i < iovcnt; i++) {
    if (iov[i].iov_len <= CORK_MAX) {
      gnutls_record_cork (s);
      conn->tls_corked = true;
      r = send_all (s, iov[i].iov_base, iov[i].iov_len);
      /* Many small chunks (a read full of holes) are sent on the way. */
      if (r == 0 && gnutls_record_check_corked (s) >= CORK_FLUSH) {
        conn->tls_corked = false;
        r = uncork (s);
      }
      continue;
    }
    if (conn->tls_corked) {
      conn->tls_corked = false;
      r = uncork (s);
    }
    if (r == 0)
      r = send_all (s, iov[i].iov_base, iov[i].iov_len);
  }
  if (r == 0 && !more && conn->tls_corked) {
    conn->tls_corked = false;
    r = uncork (s);
  }
  return r;
}
