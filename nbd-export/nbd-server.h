/* cdp NBD server: the server side of the NBD protocol, fixed newstyle.
 *
 * One implementation serves both the receiver's writable export (QEMU's
 * mirror writes into it) and the read-only exports of recovery points.
 * What is served comes from a backend: a small vtable of callbacks
 * (struct nbd_backend_ops) that the server calls per connection.
 *
 * Threads.  Each connection has
 *   - a reader thread that runs the handshake, then reads requests and
 *     their payloads, validates them and dispatches them;
 *   - up to `workers` worker threads (started on demand) that run the
 *     synchronous backend calls pread and block_status, so that reads
 *     complete out of order;
 *   - a writer thread that sends the replies, in completion order
 *     (but a bare reply to the connection's only request on a plain
 *     socket is sent by whoever completes it, if the socket takes it
 *     at once).
 * Writes, write-zeroes, trims and flushes are handed to the backend
 * asynchronously from the reader thread; the backend completes each one
 * exactly once, from any thread, by calling nbd_request_done, which
 * never blocks.  At most `max_inflight` requests (and about
 * `max_inflight_bytes` of payload) are outstanding per connection; past
 * that the reader stops reading the socket, so a client that does not
 * read its replies cannot make the server buffer without bound.
 *
 * TLS.  With nbd_server_set_tls every connection over TCP must start
 * TLS (NBD_OPT_STARTTLS) before anything else: other options get
 * NBD_REP_ERR_TLS_REQD, NBD_OPT_EXPORT_NAME ends the connection.  The
 * reader and writer threads then read and write through the session.
 * Unix sockets (and descriptors that are not TCP sockets) stay plain.
 *
 * Bounds.  At most max_connections clients are served at once (all
 * listeners together; default 32); one more is closed at once, and that
 * is logged at most every 10 s.  So the threads of a server are at most
 * one per listener plus max_connections * (2 + workers), and the memory
 * held for clients about max_connections * (max_inflight_bytes + 64 KiB).
 *
 * Errors.  Every function that can fail returns 0 (or a count) on success
 * and -errno on failure.  None prints or touches errno; problems with a
 * client (bad magic, protocol violations, disconnects) are reported
 * through the optional log callback and end only that client's
 * connection.
 */
#ifndef CDP_NBD_SERVER_H
#define CDP_NBD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nbd-export/nbd-protocol.h"

struct nbd_server;
struct nbd_extents;
struct nbd_export_list;

/* What a backend tells the server about an export when it is opened. */
struct nbd_export_info {
  uint64_t size;            /* bytes */
  bool read_only;           /* WRITE, WRITE_ZEROES, TRIM fail with EPERM */
  bool can_trim;            /* backend implements trim */
  bool can_zero;            /* backend implements zero */
  bool can_fast_zero;       /* zero honours NBD_CMD_FLAG_FAST_ZERO */
  bool can_flush;           /* backend implements flush */
  bool can_fua;             /* write/zero/trim honour NBD_CMD_FLAG_FUA */
  bool can_multi_conn;      /* FLUSH/FUA effects visible across connections */
  uint32_t min_block;       /* power of 2, <= 64 KiB; 0 = 1 */
  uint32_t pref_block;      /* power of 2 >= max (min_block, 512); 0 = 4096 */
  uint32_t max_block;       /* largest READ/WRITE, <= 64 MiB; 0 = 32 MiB */
  const char *description;  /* NULL or text; must stay valid until close */
};

/* One asynchronous request as the backend sees it.  The server owns it:
 * every field stays valid and unchanged until nbd_request_done. */
struct nbd_request {
  uint16_t type;            /* NBD_CMD_WRITE, _WRITE_ZEROES, _TRIM, _FLUSH */
  uint16_t flags;           /* NBD_CMD_FLAG_FUA, _NO_HOLE, _FAST_ZERO */
  uint64_t offset;          /* validated: offset + count <= size */
  uint32_t count;           /* 0 for FLUSH */
  const void *data;         /* WRITE: count bytes of payload; else NULL */
  void *backend_data;       /* free for the backend's own use */
};

/* Complete req.  err is 0 or -errno: -EIO, -ENOSPC (also for EDQUOT and
 * EFBIG), -EPERM, -EINVAL, -ENOTSUP (only for a FAST_ZERO request that
 * cannot be fast), -ESHUTDOWN, -ENOMEM; anything else is sent as EIO.
 * Must be called exactly once per request, from any thread, never while
 * holding a lock the backend's own callbacks take.  Does not block and
 * does not call back into the backend.  req must not be used after. */
void nbd_request_done (struct nbd_request *req, int err);

/* Describe part of a range of the export for pread or block_status.
 * Extents are added in order, each starting where the previous one
 * ended (the first at the offset of the call; an extent may also start
 * earlier, and only its part past the last one counts); flags are
 * NBD_STATE_HOLE and NBD_STATE_ZERO.  Lengths should be multiples of
 * the export's min_block.  Adjacent extents with the same flags are merged;
 * anything past the end of the range is dropped.  The backend may stop
 * early: the rest of the range then counts as allocated data.
 * Errors: -EINVAL (not contiguous, or length 0), -ENOMEM. */
int nbd_extents_add (struct nbd_extents *e, uint64_t offset,
                     uint64_t length, uint32_t flags);

/* Add one export to an NBD_OPT_LIST reply.  name and description (may be
 * NULL) are copied.  Errors: -EINVAL (longer than NBD_MAX_STRING),
 * -ENOMEM. */
int nbd_export_list_add (struct nbd_export_list *l, const char *name,
                         const char *description);

struct nbd_backend_ops {
  /* Look up the export called name (UTF-8, may be "" for the default
   * export) for one connection, during the handshake (NBD_OPT_INFO,
   * NBD_OPT_GO, NBD_OPT_EXPORT_NAME).  Fill *info and set *handle, which
   * is passed to every other call for this connection.  Return 0, or
   * -ENOENT (no such export: the client sees NBD_REP_ERR_UNKNOWN), or
   * another -errno.  Called on the connection's reader thread. */
  int (*open) (void *server_opaque, const char *name, void **handle,
               struct nbd_export_info *info);

  /* Release handle.  Called once per successful open, after every
   * request of the connection has completed.  Optional. */
  void (*close) (void *handle);

  /* Add every export to l for NBD_OPT_LIST.  Optional (no exports are
   * listed without it).  Return 0 or -errno. */
  int (*list) (void *server_opaque, struct nbd_export_list *l);

  /* Read count bytes at offset into buf: the whole buffer must be
   * filled, holes included.  If extents is not NULL the backend may
   * describe the range with nbd_extents_add; ranges flagged
   * NBD_STATE_ZERO are then sent as holes.  Called on a worker thread;
   * several calls for one handle may run at once.  Return 0 or -errno. */
  int (*pread) (void *handle, void *buf, uint32_t count, uint64_t offset,
                struct nbd_extents *extents);

  /* base:allocation status of [offset, offset+count), described with
   * nbd_extents_add (at least the first extent).  Optional: without it
   * everything is reported as allocated data.  Called on a worker
   * thread.  Return 0 or -errno. */
  int (*block_status) (void *handle, uint32_t count, uint64_t offset,
                       struct nbd_extents *extents);

  /* Asynchronous operations, called on the connection's reader thread;
   * the request is already validated (bounds, alignment, read-only,
   * flags).  Each must lead to exactly one nbd_request_done (req, err),
   * from any thread, possibly before the call returns; the reply is
   * sent after it.  For the receiver: call it once the data is durable.
   * May block briefly for back-pressure; blocking stops this
   * connection's reading only.  write is required unless every export
   * is read-only; the others are needed when the matching can_* is set. */
  void (*write) (void *handle, struct nbd_request *req);
  void (*zero) (void *handle, struct nbd_request *req);
  void (*trim) (void *handle, struct nbd_request *req);
  void (*flush) (void *handle, struct nbd_request *req);
};

/* Log levels for the log callback. */
enum nbd_log_level {
  NBD_LOG_ERROR,            /* the server itself failed */
  NBD_LOG_WARNING,          /* a client misbehaved; its connection ends */
  NBD_LOG_INFO,             /* connections opened and closed */
  NBD_LOG_DEBUG,
};

typedef void (*nbd_log_fn) (void *opaque, enum nbd_log_level level,
                            const char *msg);

/* Create a server for ops (copied) and server_opaque (passed to open and
 * list).  It serves nothing until nbd_server_listen or
 * nbd_server_serve_fd.  Errors: -EINVAL (no open or pread), -ENOMEM. */
int nbd_server_new (const struct nbd_backend_ops *ops, void *server_opaque,
                    struct nbd_server **srvp);

/* Set the log callback (NULL: no logging).  Call before serving.  The
 * callback may be called from any server thread, concurrently. */
void nbd_server_set_log (struct nbd_server *srv, nbd_log_fn fn,
                         void *opaque);

/* Per-connection limits; 0 keeps the default.  workers: threads for
 * pread/block_status (default 4).  max_inflight: requests read but not
 * yet answered (default 64).  max_inflight_bytes: payload bytes held for
 * them (default 128 MiB; one request is always allowed).  Call before
 * serving.  Errors: -EINVAL (max_inflight > 65536). */
int nbd_server_set_limits (struct nbd_server *srv, unsigned workers,
                           unsigned max_inflight, uint64_t max_inflight_bytes);

/* A client that has not finished the handshake (up to NBD_OPT_GO or
 * EXPORT_NAME) within ms milliseconds of connecting, or stops reading
 * meanwhile, is disconnected (default 30 s; 0: wait for ever).  Applies
 * to connections accepted from now on. */
void nbd_server_set_handshake_timeout (struct nbd_server *srv, unsigned ms);

/* How the server proves itself and checks its clients. */
enum nbd_tls_kind {
  NBD_TLS_X509,             /* path: a directory as QEMU's tls-creds-x509
                             * reads it: ca-cert.pem, server-cert.pem,
                             * server-key.pem, optional ca-crl.pem; every
                             * client must present a certificate that
                             * the CA signed */
  NBD_TLS_PSK,              /* path: a file of lines "username:hexkey"
                             * (nbdkit --tls-psk, QEMU tls-creds-psk),
                             * read again at each handshake */
};

/* Require TLS on every TCP connection accepted from now on, with the
 * credentials at path.  Call before serving, at most once.  On failure
 * why (if not NULL) says what was wrong with which file.  Errors:
 * -ENOENT, -EACCES (a file cannot be read), -EINVAL (a file does not
 * parse, or TLS was set already), -ENOMEM. */
int nbd_server_set_tls (struct nbd_server *srv, enum nbd_tls_kind kind,
                        const char *path, char *why, size_t len);

/* Serve at most n clients at once (0: keep the default, 32).  Call
 * before serving. */
void nbd_server_set_max_connections (struct nbd_server *srv, unsigned n);

/* Listen on addr, "unix:PATH" or "tcp:HOST:PORT" (HOST may be a name,
 * an IPv4 address or a bracketed IPv6 address; PORT 0 picks a free
 * port), and serve every client that connects, each on its own threads.
 * May be called several times.  If bound is not NULL, *bound is set to
 * the address actually bound in the same syntax ("tcp:127.0.0.1:40123");
 * the caller frees it.  A unix socket is created with the process umask
 * and removed by nbd_server_shutdown.
 * Errors: -EINVAL (bad address), -ENAMETOOLONG, -EADDRINUSE, -ESHUTDOWN,
 * other -errno from getaddrinfo/socket/bind/listen. */
int nbd_server_listen (struct nbd_server *srv, const char *addr,
                       char **bound);

/* Serve one connected stream socket (or other file descriptor that can
 * be read and written) in the calling thread, until the client
 * disconnects or the server shuts down.  Takes ownership of fd and
 * closes it.  Returns 0 if the client ended the session with
 * NBD_CMD_DISC or NBD_OPT_ABORT, -ECONNRESET if it went away otherwise,
 * -EPROTO if it broke the protocol, -ESHUTDOWN, or -ENOMEM. */
int nbd_server_serve_fd (struct nbd_server *srv, int fd);

/* Stop serving: close the listeners, answer options with
 * NBD_REP_ERR_SHUTDOWN and new requests with ESHUTDOWN, wait up to
 * grace_ms milliseconds for outstanding requests to be answered, then
 * close every connection and wait until every request handed to the
 * backend has completed (the backend must complete them).  Idempotent.
 * Must not be called from a backend callback. */
void nbd_server_shutdown (struct nbd_server *srv, unsigned grace_ms);

/* Shut down (with a 5 s grace) if not done yet, and free.  NULL ok. */
void nbd_server_free (struct nbd_server *srv);

#endif
