/* cdp NBD server: the server object, its connections and shutdown. */
#include "nbd-export/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/timeutil.h"

int
nbd_server_new (const struct nbd_backend_ops *ops, void *server_opaque,
                struct nbd_server **srvp)
{
  struct nbd_server *srv;

  if (ops == NULL || ops->open == NULL || ops->pread == NULL)
    return -EINVAL;
  srv = calloc (1, sizeof *srv);
  if (srv == NULL)
    return -ENOMEM;
  srv->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (srv->wake_fd < 0) {
    int r = -errno;
    free (srv);
    return r;
  }
  srv->ops = *ops;
  srv->opaque = server_opaque;
  srv->workers = DEFAULT_WORKERS;
  srv->max_inflight = DEFAULT_MAX_INFLIGHT;
  srv->max_inflight_bytes = DEFAULT_MAX_INFLIGHT_BYTES;
  srv->max_connections = DEFAULT_MAX_CONNECTIONS;
  atomic_init (&srv->handshake_ms, 30000);
  atomic_init (&srv->shutting_down, false);
  pthread_mutex_init (&srv->lock, NULL);
  pthread_cond_init (&srv->cond, NULL);
  *srvp = srv;
  return 0;
}

void
nbd_server_set_log (struct nbd_server *srv, nbd_log_fn fn, void *opaque)
{
  srv->log = fn;
  srv->log_opaque = opaque;
}

int
nbd_server_set_limits (struct nbd_server *srv, unsigned workers,
                       unsigned max_inflight, uint64_t max_inflight_bytes)
{
  if (max_inflight > 65536 || workers > 1024)
    return -EINVAL;
  if (workers)
    srv->workers = workers;
  if (max_inflight)
    srv->max_inflight = max_inflight;
  if (max_inflight_bytes)
    srv->max_inflight_bytes = max_inflight_bytes;
  return 0;
}

void
nbd_server_set_max_connections (struct nbd_server *srv, unsigned n)
{
  if (n)
    srv->max_connections = n;
}

void
nbd_server_set_handshake_timeout (struct nbd_server *srv, unsigned ms)
{
  atomic_store (&srv->handshake_ms, ms);
}

void
server_vlog (struct nbd_server *srv, enum nbd_log_level level,
             const char *fmt, va_list ap)
{
  char msg[512];

  if (srv->log == NULL)
    return;
  vsnprintf (msg, sizeof msg, fmt, ap);
  srv->log (srv->log_opaque, level, msg);
}

void
server_log (struct nbd_server *srv, enum nbd_log_level level,
            const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  server_vlog (srv, level, fmt, ap);
  va_end (ap);
}

bool
server_shutting_down (struct nbd_server *srv)
{
  return atomic_load_explicit (&srv->shutting_down, memory_order_acquire);
}

int
server_register (struct nbd_server *srv, struct connection *conn)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&srv->lock);
  if (server_shutting_down (srv))
    return -ESHUTDOWN;
  return connection_vector_append (&srv->live, conn);
}

static void
remove_conn (connection_vector *v, struct connection *conn)
{
  for (size_t i = 0; i < v->len; i++)
    if (v->ptr[i] == conn) {
      connection_vector_remove (v, i);
      return;
    }
}

void
server_unregister (struct nbd_server *srv, struct connection *conn)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&srv->lock);
  remove_conn (&srv->live, conn);
  if (conn->has_thread) {
    conn->next_finished = srv->finished;
    srv->finished = conn;
  }
  pthread_cond_broadcast (&srv->cond);
}

void
server_reap (struct nbd_server *srv)
{
  struct connection *conn, *next;

  pthread_mutex_lock (&srv->lock);
  conn = srv->finished;
  srv->finished = NULL;
  pthread_mutex_unlock (&srv->lock);
  for (; conn != NULL; conn = next) {
    next = conn->next_finished;
    pthread_join (conn->thread, NULL);
    connection_free (conn);
  }
}

void
server_notify (struct nbd_server *srv)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&srv->lock);
  pthread_cond_broadcast (&srv->cond);
}

int
nbd_server_serve_fd (struct nbd_server *srv, int fd)
{
  struct connection *conn;
  int r;

  conn = connection_new (srv, fd);
  if (conn == NULL) {
    close (fd);
    return -ENOMEM;
  }
  r = server_register (srv, conn);
  if (r == 0) {
    r = connection_run (conn);
    server_unregister (srv, conn);
  }
  connection_free (conn);
  return r;
}

static void
stop_listeners (struct nbd_server *srv)
{
  listener_vector ls;
  uint64_t one = 1;

  if (write (srv->wake_fd, &one, sizeof one) < 0) {
    /* Cannot fail on a fresh eventfd; the listeners poll it. */
  }
  pthread_mutex_lock (&srv->lock);
  ls = srv->listeners;
  srv->listeners = (listener_vector) empty_vector;
  pthread_mutex_unlock (&srv->lock);
  for (size_t i = 0; i < ls.len; i++)
    listener_stop (ls.ptr[i]);
  listener_vector_reset (&ls);
}

static bool
all_idle (struct nbd_server *srv)
{
  for (size_t i = 0; i < srv->live.len; i++)
    if (connection_inflight (srv->live.ptr[i]) > 0)
      return false;
  return true;
}

/* Wait (srv->lock held) until no connection has requests in flight, or
 * until grace_ms have passed. */
static void
wait_idle (struct nbd_server *srv, unsigned grace_ms)
{
  struct timespec until = time_deadline (CLOCK_REALTIME,
                                         grace_ms * 1000000LL);

  while (!all_idle (srv))
    if (pthread_cond_timedwait (&srv->cond, &srv->lock, &until) == ETIMEDOUT)
      break;
}

void
nbd_server_shutdown (struct nbd_server *srv, unsigned grace_ms)
{
  pthread_mutex_lock (&srv->lock);
  if (srv->shut_down) {
    pthread_mutex_unlock (&srv->lock);
    return;
  }
  srv->shut_down = true;
  atomic_store_explicit (&srv->shutting_down, true, memory_order_release);
  pthread_mutex_unlock (&srv->lock);

  stop_listeners (srv);

  pthread_mutex_lock (&srv->lock);
  wait_idle (srv, grace_ms);
  for (size_t i = 0; i < srv->live.len; i++)
    connection_kill (srv->live.ptr[i]);
  while (srv->live.len > 0)
    pthread_cond_wait (&srv->cond, &srv->lock);
  pthread_mutex_unlock (&srv->lock);
  server_reap (srv);
}

void
nbd_server_free (struct nbd_server *srv)
{
  if (srv == NULL)
    return;
  nbd_server_shutdown (srv, 5000);
  connection_vector_reset (&srv->live);
  tls_server_free (srv);
  close (srv->wake_fd);
  pthread_cond_destroy (&srv->cond);
  pthread_mutex_destroy (&srv->lock);
  free (srv);
}
