/* cdp NBD server: encoding replies: simple replies, structured READ
 * replies with data and hole chunks, BLOCK_STATUS, error chunks. */
#include "nbd-export/internal.h"

#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/cleanup.h"

uint32_t
nbd_errno (int err)
{
  switch (-err) {
  case 0:         return 0;
  case EPERM:
  case EROFS:     return NBD_EPERM;
  case ENOMEM:    return NBD_ENOMEM;
  case EINVAL:    return NBD_EINVAL;
  case ENOSPC:
  case EDQUOT:
  case EFBIG:     return NBD_ENOSPC;
  case EOVERFLOW: return NBD_EOVERFLOW;
  case ENOTSUP:   return NBD_ENOTSUP;
  case ESHUTDOWN: return NBD_ESHUTDOWN;
  default:        return NBD_EIO;
  }
}

/* The wire error for req, keeping ENOTSUP and EOVERFLOW to the requests
 * the spec allows them for. */
static uint32_t
reply_error (const struct request *req)
{
  uint32_t e = nbd_errno (req->err);
  uint16_t f = req->pub.flags;

  if (e == NBD_ENOTSUP && !(req->pub.type == NBD_CMD_WRITE_ZEROES &&
                            (f & NBD_CMD_FLAG_FAST_ZERO)))
    return NBD_EINVAL;
  if (e == NBD_EOVERFLOW && !(req->pub.type == NBD_CMD_READ &&
                              (f & NBD_CMD_FLAG_DF)))
    return NBD_EINVAL;
  return e;
}

static void
chunk_header (struct nbd_structured_reply *h, const struct request *req,
              uint16_t flags, uint16_t type, uint32_t length)
{
  h->magic = htobe32 (NBD_STRUCTURED_REPLY_MAGIC);
  h->flags = htobe16 (flags);
  h->type = htobe16 (type);
  h->cookie = req->cookie;
  h->length = htobe32 (length);
}

static void
simple_header (struct nbd_simple_reply *h, const struct request *req)
{
  h->magic = htobe32 (NBD_SIMPLE_REPLY_MAGIC);
  h->error = htobe32 (reply_error (req));
  h->cookie = req->cookie;
}

static int
send_simple (struct connection *conn, const struct request *req,
             const void *data, uint32_t len, bool more)
{
  struct nbd_simple_reply h;
  struct iovec iov[2] = {
    { .iov_base = &h, .iov_len = sizeof h },
    { .iov_base = (void *) data, .iov_len = len },
  };

  simple_header (&h, req);
  /* A bare reply the completing thread began (writer_try_direct). */
  assert (req->reply_sent == 0 || (len == 0 && req->reply_sent < sizeof h));
  iov[0].iov_base = (char *) &h + req->reply_sent;
  iov[0].iov_len -= req->reply_sent;
  return conn_sendv (conn, iov, len ? 2 : 1, more);
}

bool
reply_is_bare (const struct request *req)
{
  return req->pub.type != NBD_CMD_READ &&
    req->pub.type != NBD_CMD_BLOCK_STATUS;
}

ssize_t
send_bare_nowait (struct connection *conn, const struct request *req)
{
  struct nbd_simple_reply h;
  ssize_t n;

  assert (conn->is_socket && conn->tls == NULL && reply_is_bare (req));
  simple_header (&h, req);
  n = send (conn->fd, (char *) &h + req->reply_sent,
            sizeof h - req->reply_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
  return n < 0 ? -errno : n;
}

static int
send_error_chunk (struct connection *conn, const struct request *req,
                  bool more)
{
  struct {
    struct nbd_structured_reply h;
    struct nbd_chunk_error e;
  } __attribute__ ((packed)) c;

  chunk_header (&c.h, req, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR,
                sizeof c.e);
  c.e.error = htobe32 (reply_error (req));
  c.e.len = 0;
  return conn_send (conn, &c, sizeof c, more);
}

/* One chunk of a READ reply: data (with its payload) or a hole. */
union read_chunk {
  struct {
    struct nbd_structured_reply h;
    uint64_t offset;
  } __attribute__ ((packed)) data;
  struct {
    struct nbd_structured_reply h;
    struct nbd_chunk_offset_hole hole;
  } __attribute__ ((packed)) hole;
};

struct chunk_list {
  union read_chunk *c;
  struct iovec *iov;
  size_t n, niov;
};

static void
add_chunk (struct chunk_list *l, const struct request *req,
           uint64_t offset, uint64_t length, bool hole)
{
  union read_chunk *c = &l->c[l->n++];
  uint64_t skip = offset - req->pub.offset;

  if (hole) {
    chunk_header (&c->hole.h, req, 0, NBD_REPLY_TYPE_OFFSET_HOLE,
                  sizeof c->hole.hole);
    c->hole.hole.offset = htobe64 (offset);
    c->hole.hole.length = htobe32 ((uint32_t) length);
    l->iov[l->niov++] = (struct iovec) { c, sizeof c->hole };
    return;
  }
  chunk_header (&c->data.h, req, 0, NBD_REPLY_TYPE_OFFSET_DATA,
                (uint32_t) (8 + length));
  c->data.offset = htobe64 (offset);
  l->iov[l->niov++] = (struct iovec) { c, sizeof c->data };
  l->iov[l->niov++] = (struct iovec) { (char *) req->buf + skip, length };
}

/* Turn req->extents into chunks: runs reading as zero become holes,
 * the rest (including anything not described) data. */
static void
build_chunks (struct chunk_list *l, const struct request *req)
{
  const extent_vector *v = &req->extents.v;
  uint64_t pos = req->pub.offset, end = req->extents.end;
  uint64_t run = pos;
  bool run_hole = false;

  for (size_t i = 0; i <= v->len; i++) {
    bool hole = i < v->len && (v->ptr[i].flags & NBD_STATE_ZERO);
    uint64_t next = i < v->len ? v->ptr[i].offset + v->ptr[i].length : end;

    if (pos > run && hole != run_hole) {
      add_chunk (l, req, run, pos - run, run_hole);
      run = pos;
    }
    run_hole = hole;
    pos = next;
  }
  if (pos > run)
    add_chunk (l, req, run, pos - run, run_hole);
}

static int
send_read_chunks (struct connection *conn, const struct request *req,
                  bool more)
{
  size_t max = req->extents.v.len + 1;
  CLEANUP_FREE union read_chunk *c = calloc (max, sizeof *c);
  CLEANUP_FREE struct iovec *iov = calloc (2 * max, sizeof *iov);
  struct chunk_list l = { .c = c, .iov = iov };

  if (c == NULL || iov == NULL)
    return -ENOMEM;
  build_chunks (&l, req);
  l.c[l.n - 1].data.h.flags = htobe16 (NBD_REPLY_FLAG_DONE);
  return conn_sendv (conn, l.iov, (int) l.niov, more);
}

static int
send_read (struct connection *conn, const struct request *req, bool more)
{
  if (!conn->structured)
    return send_simple (conn, req, req->err ? NULL : req->buf,
                        req->err ? 0 : req->pub.count, more);
  if (req->err)
    return send_error_chunk (conn, req, more);
  return send_read_chunks (conn, req, more);
}

static int
send_block_status (struct connection *conn, const struct request *req,
                   bool more)
{
  const extent_vector *v = &req->extents.v;
  size_t n = req->pub.flags & NBD_CMD_FLAG_REQ_ONE ? 1 : v->len;
  size_t len = sizeof (struct nbd_structured_reply) + 4 +
    n * sizeof (struct nbd_block_descriptor);
  CLEANUP_FREE char *buf = malloc (len);
  struct nbd_block_descriptor *d;
  uint32_t id = htobe32 (BASE_ALLOCATION_ID);

  if (buf == NULL)
    return -ENOMEM;
  chunk_header ((struct nbd_structured_reply *) buf, req,
                NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS,
                (uint32_t) (len - sizeof (struct nbd_structured_reply)));
  memcpy (buf + sizeof (struct nbd_structured_reply), &id, 4);
  d = (struct nbd_block_descriptor *)
    (buf + sizeof (struct nbd_structured_reply) + 4);
  for (size_t i = 0; i < n; i++) {
    d[i].length = htobe32 ((uint32_t) v->ptr[i].length);
    d[i].status_flags = htobe32 (v->ptr[i].flags);
  }
  return conn_send (conn, buf, len, more);
}

int
send_reply (struct connection *conn, struct request *req, bool more)
{
  if (req->pub.type == NBD_CMD_READ)
    return send_read (conn, req, more);
  if (req->pub.type == NBD_CMD_BLOCK_STATUS && req->err == 0)
    return send_block_status (conn, req, more);
  if (conn->structured && req->err &&
      req->pub.type == NBD_CMD_BLOCK_STATUS)
    return send_error_chunk (conn, req, more);
  return send_simple (conn, req, NULL, 0, more);
}
