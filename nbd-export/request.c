/* cdp NBD server: transmission phase: read requests, validate them at
 * the boundary, and dispatch them (workers for reads and block status,
 * the backend's asynchronous calls for everything that changes data). */
#include "nbd-export/internal.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* A request header in host byte order. */
struct header {
  uint16_t flags, type;
  uint64_t cookie, offset;
  uint32_t count;
};

static bool
changes_data (uint16_t type)
{
  return type == NBD_CMD_WRITE || type == NBD_CMD_WRITE_ZEROES ||
    type == NBD_CMD_TRIM;
}

/* Flags the client may set on this command, or -1 if the command is
 * unknown. */
static int
allowed_flags (const struct connection *conn, uint16_t type)
{
  int f = conn->info.can_fua ? NBD_CMD_FLAG_FUA : 0;

  switch (type) {
  case NBD_CMD_READ:
    return f | (conn->structured ? NBD_CMD_FLAG_DF : 0);
  case NBD_CMD_WRITE_ZEROES:
    return f | NBD_CMD_FLAG_NO_HOLE |
      (conn->info.can_fast_zero ? NBD_CMD_FLAG_FAST_ZERO : 0);
  case NBD_CMD_BLOCK_STATUS:
    return f | NBD_CMD_FLAG_REQ_ONE;
  case NBD_CMD_WRITE:
  case NBD_CMD_TRIM:
  case NBD_CMD_FLUSH:
    return f;
  default:
    return -1;
  }
}

static bool
supported (const struct connection *conn, uint16_t type)
{
  const struct nbd_export_info *i = &conn->info;

  return !((type == NBD_CMD_WRITE_ZEROES && !i->can_zero) ||
           (type == NBD_CMD_TRIM && !i->can_trim) ||
           (type == NBD_CMD_FLUSH && !i->can_flush) ||
           (type == NBD_CMD_BLOCK_STATUS && !conn->base_allocation));
}

/* The error the request must fail with (-errno), or 0 if it is valid. */
static int
validate (const struct connection *conn, const struct header *h)
{
  const struct nbd_export_info *i = &conn->info;
  int allowed = allowed_flags (conn, h->type);
  uint64_t end;

  if (server_shutting_down (conn->srv))
    return -ESHUTDOWN;
  if (allowed < 0 || (h->flags & ~allowed))
    return -EINVAL;
  if (i->read_only && changes_data (h->type))
    return -EPERM;
  if (!supported (conn, h->type))
    return -EINVAL;
  if (h->type == NBD_CMD_FLUSH)
    return h->offset || h->count ? -EINVAL : 0;
  if (h->count == 0)
    return -EINVAL;
  if (__builtin_add_overflow (h->offset, h->count, &end) || end > i->size)
    return h->type == NBD_CMD_WRITE || h->type == NBD_CMD_WRITE_ZEROES
      ? -ENOSPC : -EINVAL;
  if ((h->offset | h->count) & (i->min_block - 1))
    return -EINVAL;
  if ((h->type == NBD_CMD_READ || h->type == NBD_CMD_WRITE) &&
      h->count > i->max_block)
    return h->flags & NBD_CMD_FLAG_DF ? -EOVERFLOW : -EINVAL;
  return 0;
}

/* Wait for room for one more request holding bytes of payload. */
static int
acquire_slot (struct connection *conn, uint64_t bytes)
{
  struct nbd_server *srv = conn->srv;
  int r = 0;

  pthread_mutex_lock (&conn->lock);
  while (!conn->dead &&
         (conn->inflight >= srv->max_inflight ||
          (conn->inflight > 0 &&
           conn->inflight_bytes + bytes > srv->max_inflight_bytes)))
    pthread_cond_wait (&conn->slot_cond, &conn->lock);
  if (conn->dead)
    r = -EPIPE;
  else {
    conn->inflight++;
    conn->inflight_bytes += bytes;
  }
  pthread_mutex_unlock (&conn->lock);
  return r;
}

/* Called from any thread that completes a request, the backend's too.
 * Once inflight is 0 and nobody is notifying, the connection's thread
 * may end (drain) and conn and the server be freed: nothing here
 * touches them after the unlock that allows it. */
static void
release_slot (struct connection *conn, uint64_t bytes)
{
  struct nbd_server *srv = conn->srv;
  bool notify;

  pthread_mutex_lock (&conn->lock);
  conn->inflight--;
  conn->inflight_bytes -= bytes;
  /* The last request of a server shutting down: wake wait_idle, which
   * holds srv->lock while it takes conn->lock, so not under conn->lock;
   * drain waits for it to end. */
  notify = conn->inflight == 0 && server_shutting_down (srv);
  if (notify)
    conn->notifying++;
  pthread_cond_signal (&conn->slot_cond);
  pthread_mutex_unlock (&conn->lock);
  if (notify) {
    server_notify (srv);
    pthread_mutex_lock (&conn->lock);
    conn->notifying--;
    pthread_cond_broadcast (&conn->slot_cond);
    pthread_mutex_unlock (&conn->lock);
  }
}

void
request_free (struct request *req)
{
  release_slot (req->conn, req->bytes);
  extents_reset (&req->extents);
  free (req->buf);
  free (req);
}

void
request_complete (struct request *req, int err)
{
  struct connection *conn = req->conn;

  req->err = err > 0 ? -err : err;
  req->next = NULL;
  if (writer_try_direct (conn, req))
    return;
  pthread_mutex_lock (&conn->lock);
  if (conn->reply_tail)
    conn->reply_tail->next = req;
  else
    conn->reply_head = req;
  conn->reply_tail = req;
  pthread_cond_signal (&conn->reply_cond);
  pthread_mutex_unlock (&conn->lock);
}

void
nbd_request_done (struct nbd_request *pub, int err)
{
  struct request *req = (struct request *)
    ((char *) pub - offsetof (struct request, pub));

  request_complete (req, err);
}

static struct request *
request_new (struct connection *conn, const struct header *h, uint64_t bytes)
{
  struct request *req = calloc (1, sizeof *req);

  if (req == NULL)
    return NULL;
  req->conn = conn;
  req->cookie = h->cookie;
  req->bytes = bytes;
  req->pub.type = h->type;
  req->pub.flags = h->flags;
  req->pub.offset = h->offset;
  req->pub.count = h->count;
  return req;
}

/* Read a WRITE payload into req->buf, or skip it if err is set. */
static int
read_payload (struct connection *conn, struct request *req, int *err)
{
  uint32_t count = req->pub.count;

  if (*err == 0) {
    req->buf = malloc (count);
    if (req->buf == NULL)
      *err = -ENOMEM;
  }
  if (*err)
    return conn_discard (conn, count);
  req->pub.data = req->buf;
  return conn_recv (conn, req->buf, count);
}

static void
dispatch (struct connection *conn, struct request *req)
{
  const struct nbd_backend_ops *ops = &conn->srv->ops;

  switch (req->pub.type) {
  case NBD_CMD_READ:
  case NBD_CMD_BLOCK_STATUS:
    worker_enqueue (conn, req);
    break;
  case NBD_CMD_WRITE:
    ops->write (conn->handle, &req->pub);
    break;
  case NBD_CMD_WRITE_ZEROES:
    ops->zero (conn->handle, &req->pub);
    break;
  case NBD_CMD_TRIM:
    ops->trim (conn->handle, &req->pub);
    break;
  case NBD_CMD_FLUSH:
    ops->flush (conn->handle, &req->pub);
    break;
  default:
    abort ();                   /* validate() let only these through */
  }
}

static int
handle_request (struct connection *conn, const struct header *h)
{
  bool payload = h->type == NBD_CMD_WRITE;
  int err = validate (conn, h);
  uint64_t bytes = 0;
  struct request *req;
  int r;

  if (payload && err && h->count > MAX_DISCARD) {
    conn_log (conn, NBD_LOG_WARNING, "rejected write of %u bytes is too "
              "large to skip", h->count);
    return -EPROTO;
  }
  if (err == 0 && (h->type == NBD_CMD_READ || payload))
    bytes = h->count;
  r = acquire_slot (conn, bytes);
  if (r < 0)
    return r;
  req = request_new (conn, h, bytes);
  if (req == NULL) {
    release_slot (conn, bytes);
    return -ENOMEM;
  }
  if (payload && (r = read_payload (conn, req, &err)) < 0) {
    request_free (req);
    return r;
  }
  if (err == -ENOSPC && !conn->past_end_said) {
    /* The disk is smaller than the writer thinks: one line a connection. */
    conn->past_end_said = true;
    conn_log (conn, NBD_LOG_WARNING, "write of %u bytes at %" PRIu64
              " refused: past the end of the export (%" PRIu64 " bytes)",
              h->count, h->offset, conn->info.size);
  }
  if (err) {
    conn_log (conn, NBD_LOG_DEBUG, "command %u: %s", h->type,
              strerror (-err));
    request_complete (req, err);
  } else {
    dispatch (conn, req);
  }
  return 0;
}

static int
read_header (struct connection *conn, struct header *h)
{
  struct nbd_request_header w;
  int r;

  r = conn_recv (conn, &w, sizeof w);
  if (r < 0)
    return r;
  if (be32toh (w.magic) != NBD_REQUEST_MAGIC) {
    conn_log (conn, NBD_LOG_WARNING, "bad request magic 0x%08x",
              be32toh (w.magic));
    return -EPROTO;
  }
  h->flags = be16toh (w.flags);
  h->type = be16toh (w.type);
  h->cookie = w.cookie;         /* opaque: echoed as sent */
  h->offset = be64toh (w.offset);
  h->count = be32toh (w.count);
  return 0;
}

int
transmission (struct connection *conn)
{
  struct header h;
  int r;

  for (;;) {
    r = read_header (conn, &h);
    if (r < 0)
      return r;
    if (h.type == NBD_CMD_DISC)
      return 0;
    r = handle_request (conn, &h);
    if (r < 0)
      return r;
  }
}
