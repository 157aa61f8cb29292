/* cdp NBD server: per-connection worker threads for the synchronous
 * backend calls (pread, block_status), started on demand. */
#include "nbd-export/internal.h"

#include <errno.h>
#include <stdlib.h>

static int
do_read (struct connection *conn, struct request *req)
{
  const struct nbd_request *p = &req->pub;
  bool want_holes = conn->structured && !(p->flags & NBD_CMD_FLAG_DF);

  req->buf = malloc (p->count);
  if (req->buf == NULL)
    return -ENOMEM;
  extents_init (&req->extents, p->offset, p->count);
  return conn->srv->ops.pread (conn->handle, req->buf, p->count, p->offset,
                               want_holes ? &req->extents : NULL);
}

static int
do_block_status (struct connection *conn, struct request *req)
{
  const struct nbd_request *p = &req->pub;
  int r;

  extents_init (&req->extents, p->offset, p->count);
  if (conn->srv->ops.block_status == NULL)
    return nbd_extents_add (&req->extents, p->offset, p->count, 0);
  r = conn->srv->ops.block_status (conn->handle, p->count, p->offset,
                                   &req->extents);
  if (r == 0 && req->extents.v.len == 0)
    r = -EIO;                   /* the backend described nothing */
  return r;
}

static void
process (struct connection *conn, struct request *req)
{
  int r = req->pub.type == NBD_CMD_READ ? do_read (conn, req)
                                        : do_block_status (conn, req);

  request_complete (req, r);
}

/* Next request to process, or NULL once the connection is closing. */
static struct request *
next_work (struct connection *conn)
{
  struct request *req;

  pthread_mutex_lock (&conn->lock);
  while (conn->work_head == NULL && !conn->closing) {
    conn->idle_workers++;
    pthread_cond_wait (&conn->work_cond, &conn->lock);
    conn->idle_workers--;
  }
  req = conn->work_head;
  if (req) {
    conn->work_head = req->next;
    if (conn->work_head == NULL)
      conn->work_tail = NULL;
    conn->work_len--;
  }
  pthread_mutex_unlock (&conn->lock);
  return req;
}

static void *
worker_main (void *arg)
{
  struct connection *conn = arg;
  struct request *req;

  while ((req = next_work (conn)) != NULL)
    process (conn, req);
  return NULL;
}

/* Start another worker if the queue outgrows the idle ones (lock held). */
static void
maybe_spawn (struct connection *conn)
{
  if (conn->work_len <= conn->idle_workers ||
      conn->nr_workers >= conn->max_workers)
    return;
  if (pthread_create (&conn->workers[conn->nr_workers], NULL,
                      worker_main, conn) == 0)
    conn->nr_workers++;
}

void
worker_enqueue (struct connection *conn, struct request *req)
{
  bool inline_work;

  req->next = NULL;
  pthread_mutex_lock (&conn->lock);
  if (conn->work_tail)
    conn->work_tail->next = req;
  else
    conn->work_head = req;
  conn->work_tail = req;
  conn->work_len++;
  maybe_spawn (conn);
  inline_work = conn->nr_workers == 0;
  if (inline_work) {
    conn->work_head = conn->work_tail = NULL;
    conn->work_len = 0;
  } else {
    pthread_cond_signal (&conn->work_cond);
  }
  pthread_mutex_unlock (&conn->lock);
  if (inline_work)
    process (conn, req);        /* no thread could be started */
}

void
workers_join (struct connection *conn)
{
  for (unsigned i = 0; i < conn->nr_workers; i++)
    pthread_join (conn->workers[i], NULL);
  conn->nr_workers = 0;
}
