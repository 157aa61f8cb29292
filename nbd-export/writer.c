/* cdp NBD server: the per-connection writer thread, which sends every
 * reply in completion order so that nbd_request_done never blocks. */
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

/* Take every queued reply; NULL once stopped and empty. */
static struct request *
take_replies (struct connection *conn, bool *dead)
{
  struct request *batch;

  pthread_mutex_lock (&conn->lock);
  while (conn->reply_head == NULL && !conn->stop_writer)
    pthread_cond_wait (&conn->reply_cond, &conn->lock);
  batch = conn->reply_head;
  conn->reply_head = conn->reply_tail = NULL;
  *dead = conn->dead;
  pthread_mutex_unlock (&conn->lock);
  return batch;
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
  }
  return NULL;
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
  pthread_cond_signal (&conn->reply_cond);
  pthread_mutex_unlock (&conn->lock);
  pthread_join (conn->writer, NULL);
  conn->has_writer = false;
}
