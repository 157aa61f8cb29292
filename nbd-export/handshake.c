/* cdp NBD server: fixed newstyle handshake, option haggling. */
#include "nbd-export/internal.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"

int
send_option_reply (struct connection *conn, uint32_t option, uint32_t reply,
                   const void *data, size_t len)
{
  struct nbd_fixed_new_option_reply h = {
    .magic = htobe64 (NBD_REP_MAGIC),
    .option = htobe32 (option),
    .reply = htobe32 (reply),
    .replylen = htobe32 ((uint32_t) len),
  };
  struct iovec iov[2] = {
    { .iov_base = &h, .iov_len = sizeof h },
    { .iov_base = (void *) data, .iov_len = len },
  };

  return conn_sendv (conn, iov, len ? 2 : 1, false);
}

int
send_option_error (struct connection *conn, uint32_t option, uint32_t reply,
                   const char *fmt, ...)
{
  char msg[256];
  va_list ap;
  int n;

  va_start (ap, fmt);
  n = vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  if (n < 0)
    n = 0;
  if ((size_t) n >= sizeof msg)
    n = sizeof msg - 1;
  return send_option_reply (conn, option, reply, msg, (size_t) n);
}

bool
valid_string (const char *s, size_t len)
{
  return len <= NBD_MAX_STRING && memchr (s, '\0', len) == NULL;
}

static int
greet (struct connection *conn)
{
  struct nbd_new_handshake g = {
    .nbdmagic = htobe64 (NBD_MAGIC),
    .version = htobe64 (NBD_IHAVEOPT),
    .gflags = htobe16 (NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES),
  };
  uint32_t cflags;
  int r;

  r = conn_send (conn, &g, sizeof g, false);
  if (r < 0)
    return r;
  r = conn_recv (conn, &cflags, sizeof cflags);
  if (r < 0)
    return r;
  cflags = be32toh (cflags);
  if (cflags & ~(uint32_t) (NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) {
    conn_log (conn, NBD_LOG_WARNING, "unknown client flags 0x%x", cflags);
    return -EPROTO;
  }
  if (!(cflags & NBD_FLAG_C_FIXED_NEWSTYLE)) {
    conn_log (conn, NBD_LOG_WARNING, "client does not speak fixed newstyle");
    return -EPROTO;
  }
  conn->no_zeroes = cflags & NBD_FLAG_C_NO_ZEROES;
  return 0;
}

static int
option_structured_reply (struct connection *conn, uint32_t len)
{
  if (len != 0)
    return send_option_error (conn, NBD_OPT_STRUCTURED_REPLY,
                              NBD_REP_ERR_INVALID, "unexpected option data");
  conn->structured = true;
  return send_option_reply (conn, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK,
                            NULL, 0);
}

/* TLS is required and the client has not started it: every option but
 * STARTTLS and ABORT is refused.  EXPORT_NAME cannot be answered with an
 * error, so it ends the connection. */
static int
refuse_plain (struct connection *conn, uint32_t option)
{
  int r;

  if (!conn->tls_refused)
    conn_log (conn, NBD_LOG_WARNING, "option %u without TLS: refused "
              "(TLS is required)", option);
  conn->tls_refused = true;
  if (option == NBD_OPT_EXPORT_NAME)
    return -EACCES;
  r = send_option_error (conn, option, NBD_REP_ERR_TLS_REQD,
                         "TLS is required: send NBD_OPT_STARTTLS first");
  return r < 0 ? r : HANDSHAKE_CONTINUE;
}

/* Answer one option; returns enum handshake_result or -errno. */
static int
dispatch_option (struct connection *conn, uint32_t option,
                 const char *data, uint32_t len)
{
  int r;

  if (option == NBD_OPT_ABORT) {
    send_option_reply (conn, option, NBD_REP_ACK, NULL, 0);
    return HANDSHAKE_ABORT;
  }
  if (server_shutting_down (conn->srv)) {
    if (option == NBD_OPT_EXPORT_NAME)
      return -ESHUTDOWN;
    r = send_option_error (conn, option, NBD_REP_ERR_SHUTDOWN,
                           "server is shutting down");
    return r < 0 ? r : HANDSHAKE_CONTINUE;
  }
  if (conn->tls_wanted && conn->tls == NULL && option != NBD_OPT_STARTTLS)
    return refuse_plain (conn, option);
  switch (option) {
  case NBD_OPT_STARTTLS:
    r = option_starttls (conn, len);
    break;
  case NBD_OPT_EXPORT_NAME:
    return option_export_name (conn, data, len);
  case NBD_OPT_INFO:
  case NBD_OPT_GO:
    return option_info_go (conn, option, data, len);
  case NBD_OPT_LIST:
    r = option_list (conn, len);
    break;
  case NBD_OPT_STRUCTURED_REPLY:
    r = option_structured_reply (conn, len);
    break;
  case NBD_OPT_LIST_META_CONTEXT:
  case NBD_OPT_SET_META_CONTEXT:
    r = option_meta_context (conn, option, data, len);
    break;
  default:
    r = send_option_error (conn, option, NBD_REP_ERR_UNSUP,
                           "option %u is not supported", option);
    break;
  }
  return r < 0 ? r : HANDSHAKE_CONTINUE;
}

/* Read one option and answer it. */
static int
one_option (struct connection *conn)
{
  struct nbd_new_option h;
  CLEANUP_FREE char *data = NULL;
  uint32_t option, len;
  int r;

  r = conn_recv (conn, &h, sizeof h);
  if (r < 0)
    return r;
  option = be32toh (h.option);
  len = be32toh (h.optlen);
  if (be64toh (h.version) != NBD_IHAVEOPT) {
    conn_log (conn, NBD_LOG_WARNING, "bad option magic");
    return -EPROTO;
  }
  if (len > MAX_OPTION_LEN) {
    conn_log (conn, NBD_LOG_WARNING, "option %u: data too long (%u bytes)",
              option, len);
    return -EPROTO;
  }
  if (++conn->nr_options > MAX_OPTIONS) {
    conn_log (conn, NBD_LOG_WARNING, "too many options");
    return -EPROTO;
  }
  data = malloc (len + 1);      /* +1: never malloc (0) */
  if (data == NULL)
    return -ENOMEM;
  r = conn_recv (conn, data, len);
  if (r < 0)
    return r;
  return dispatch_option (conn, option, data, len);
}

int
handshake (struct connection *conn)
{
  int r;

  r = greet (conn);
  if (r < 0)
    return r;
  do
    r = one_option (conn);
  while (r == HANDSHAKE_CONTINUE);
  return r;
}
