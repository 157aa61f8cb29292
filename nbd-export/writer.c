/* cdp NBD server: sending replies.  The per-connection writer thread
 * sends them in completion order, so that nbd_request_done never
 * blocks; a bare reply (16 bytes) that the socket takes at once is sent
 * by the completing thread itself (writer_try_direct).  One thread at a
 * time sends (conn->sending), so replies never interleave. */
#include "nbd-export/internal.h"

#include <errno.h>
#include <string.h>

/* The client cannot take replies any more: drop the rest and wake the
 * reader (blocked on the socket or on a free slot). */
static void
mark_dead (struct connection *conn, int err)
{
  conn_log (conn, NBD_LOG_WARNING, "sending reply: %s", strerror (-err));
  pthread_mutex_lock (&conn->lock);
  conn->dead = true;
  pthread_cond_broadcast (&conn->slot_cond);
  pthread_mutex_unlock (&conn->lock);
  connection_kill (conn);
}

/* Take every queued reply, and the socket; NULL once stopped and
 * empty. */
static struct request *
take_replies (struct connection *conn, bool *dead)
{
  struct request *batch;

  pthread_mutex_lock (&conn->lock);
  while ((conn->reply_head == NULL || conn->sending) && !conn->stop_writer)
    pthread_cond_wait (&conn->reply_cond, &conn->lock);
  while (conn->sending)             /* stopping: let a direct send end */
    pthread_cond_wait (&conn->reply_cond, &conn->lock);
  batch = conn->reply_head;
  conn->reply_head = conn->reply_tail = NULL;
  conn->sending = batch != NULL;
  *dead = conn->dead;
  pthread_mutex_unlock (&conn->lock);
  return batch;
}

static void
give_back_socket (struct connection *conn)
{
  pthread_mutex_lock (&conn->lock);
  conn->sending = false;
  pthread_mutex_unlock (&conn->lock);
}

static void *
writer_main (void *arg)
{
  struct connection *conn = arg;
  struct request *req, *next;
  bool dead;
  int r;

  while ((req = take_replies (conn, &dead)) != NULL) {
    for (; req != NULL; req = next) {
      next = req->next;
      if (!dead && (r = send_reply (conn, req, next != NULL)) < 0) {
        mark_dead (conn, r);
        dead = true;
      }
      request_free (req);
    }
    give_back_socket (conn);
  }
  return NULL;
}

/* With conn->lock held: may the calling thread send req's reply now?
 * Only when nothing else is being sent or waits to be, and req is the
 * connection's only request: a client with one request in flight waits
 * for this reply, and the hand-off to the writer thread (a wake-up and
 * a context switch) is on its path; with more in flight the writer
 * thread sends replies in batches and the completing thread (the
 * journal's) goes back to its own work at once. */
static bool
direct_allowed (const struct connection *conn, const struct request *req)
{
  return conn->has_writer && !conn->sending && conn->reply_head == NULL &&
    !conn->dead && !conn->stop_writer && conn->inflight == 1 &&
    req->reply_sent == 0;
}

bool
writer_try_direct (struct connection *conn, struct request *req)
{
  ssize_t n;

  if (!conn->is_socket || conn->tls || !reply_is_bare (req))
    return false;
  pthread_mutex_lock (&conn->lock);
  if (!direct_allowed (conn, req)) {
    pthread_mutex_unlock (&conn->lock);
    return false;
  }
  conn->sending = true;
  pthread_mutex_unlock (&conn->lock);

  n = send_bare_nowait (conn, req);
  if (n > 0)
    req->reply_sent += (uint32_t) n;

  pthread_mutex_lock (&conn->lock);
  conn->sending = false;
  if (req->reply_sent < sizeof (struct nbd_simple_reply)) {
    /* The socket is full, or failed: the writer sends the rest, or
     * finds the error and drops the connection's replies. */
    req->next = conn->reply_head;
    conn->reply_head = req;
    if (conn->reply_tail == NULL)
      conn->reply_tail = req;
    req = NULL;
  }
  if (conn->reply_head || conn->stop_writer)
    pthread_cond_broadcast (&conn->reply_cond);
  pthread_mutex_unlock (&conn->lock);
  if (req)
    request_free (req);
  return true;
}

int
writer_start (struct connection *conn)
{
  int r = -pthread_create (&conn->writer, NULL, writer_main, conn);

  conn->has_writer = r == 0;
  return r;
}

void
writer_stop (struct connection *conn)
{
  if (!conn->has_writer)
    return;
  pthread_mutex_lock (&conn->lock);
  conn->stop_writer = true;
  pthread_cond_broadcast (&conn->reply_cond);
  pthread_mutex_unlock (&conn->lock);
  pthread_join (conn->writer, NULL);
  conn->has_writer = false;
}
