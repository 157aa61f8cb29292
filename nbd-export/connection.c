/* cdp NBD server: one client connection from accept to close. */
#include "nbd-export/internal.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/timeutil.h"

static void
describe_peer (struct connection *conn)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char host[INET6_ADDRSTRLEN + 16], port[16];  /* numeric only */

  snprintf (conn->peer, sizeof conn->peer, "fd %d", conn->fd);
  if (!conn->is_socket ||
      getpeername (conn->fd, (struct sockaddr *) &ss, &len) < 0)
    return;
  conn->tls_wanted = conn->srv->tls != NULL &&
    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
  if (ss.ss_family == AF_UNIX)
    snprintf (conn->peer, sizeof conn->peer, "on unix socket fd %d",
              conn->fd);
  else if (getnameinfo ((struct sockaddr *) &ss, len, host, sizeof host,
                        port, sizeof port,
                        NI_NUMERICHOST | NI_NUMERICSERV) == 0)
    snprintf (conn->peer, sizeof conn->peer, "%s:%s", host, port);
}

struct connection *
connection_new (struct nbd_server *srv, int fd)
{
  struct connection *conn;
  struct stat st;

  conn = calloc (1, sizeof *conn);
  if (conn == NULL)
    return NULL;
  conn->max_workers = srv->workers;
  conn->workers = calloc (conn->max_workers, sizeof *conn->workers);
  if (conn->workers == NULL) {
    free (conn);
    return NULL;
  }
  conn->srv = srv;
  conn->fd = fd;
  conn->is_socket = fstat (fd, &st) == 0 && S_ISSOCK (st.st_mode);
  describe_peer (conn);
  pthread_mutex_init (&conn->lock, NULL);
  pthread_cond_init (&conn->work_cond, NULL);
  pthread_cond_init (&conn->reply_cond, NULL);
  pthread_cond_init (&conn->slot_cond, NULL);
  return conn;
}

void
connection_free (struct connection *conn)
{
  if (conn == NULL)
    return;
  tls_close (conn);
  close (conn->fd);
  free (conn->meta_export);
  free (conn->workers);
  pthread_cond_destroy (&conn->slot_cond);
  pthread_cond_destroy (&conn->reply_cond);
  pthread_cond_destroy (&conn->work_cond);
  pthread_mutex_destroy (&conn->lock);
  free (conn);
}

void
conn_log (struct connection *conn, enum nbd_log_level level,
          const char *fmt, ...)
{
  char msg[400];
  va_list ap;

  if (conn->srv->log == NULL)
    return;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  server_log (conn->srv, level, "client %s: %s", conn->peer, msg);
}

/* Wait until every request has been answered (or dropped), then stop
 * the writer and worker threads. */
static void
drain (struct connection *conn)
{
  pthread_mutex_lock (&conn->lock);
  conn->closing = true;
  pthread_cond_broadcast (&conn->work_cond);
  while (conn->inflight > 0 || conn->notifying > 0)
    pthread_cond_wait (&conn->slot_cond, &conn->lock);
  pthread_mutex_unlock (&conn->lock);
  writer_stop (conn);
  workers_join (conn);
}

/* Bound how long a read or write of the socket may block (0: no bound). */
static void
socket_timeout (struct connection *conn, unsigned ms)
{
  struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

  if (!conn->is_socket)
    return;
  setsockopt (conn->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt (conn->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int
serve (struct connection *conn)
{
  unsigned ms = atomic_load (&conn->srv->handshake_ms);
  int r;

  /* A silent (or slow) client must not hold a thread for ever: the
   * whole handshake, TLS included, must end by the deadline. */
  if (ms) {
    conn->deadline_ns = time_mono_ns () + (int64_t) ms * 1000000;
    socket_timeout (conn, ms);
  }
  r = handshake (conn);
  conn->deadline_ns = 0;
  if (ms && r >= 0 && r != HANDSHAKE_ABORT)
    socket_timeout (conn, 0);
  if (r == HANDSHAKE_ABORT)
    return 0;
  if (r < 0)
    return r;
  r = writer_start (conn);
  if (r < 0)
    return r;
  r = transmission (conn);
  drain (conn);
  return r;
}

int
connection_run (struct connection *conn)
{
  struct nbd_server *srv = conn->srv;
  int r;

  conn_log (conn, NBD_LOG_INFO, "connected");
  r = serve (conn);
  if (conn->is_open && srv->ops.close)
    srv->ops.close (conn->handle);
  conn->is_open = false;
  if (conn->tls) {
    socket_timeout (conn, 1000);  /* close_notify must not block */
    tls_bye (conn);
  }
  if (conn->is_socket)
    shutdown (conn->fd, SHUT_RDWR);
  conn_log (conn, r == 0 ? NBD_LOG_INFO : NBD_LOG_WARNING,
            "disconnected%s%s", r == 0 ? "" : ": ",
            r == 0 ? "" : strerror (-r));
  return r;
}

static void *
connection_main (void *arg)
{
  struct connection *conn = arg;

  connection_run (conn);
  server_unregister (conn->srv, conn);
  return NULL;
}

int
connection_start_thread (struct connection *conn)
{
  struct nbd_server *srv = conn->srv;
  int r;

  /* Under the lock, so that conn->thread is set before the thread can
   * unregister itself and be joined. */
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&srv->lock);
  if (server_shutting_down (srv))
    return -ESHUTDOWN;
  if (srv->live.len >= srv->max_connections)
    return -EUSERS;
  r = connection_vector_append (&srv->live, conn);
  if (r < 0)
    return r;
  conn->has_thread = true;
  r = -pthread_create (&conn->thread, NULL, connection_main, conn);
  if (r < 0) {
    conn->has_thread = false;
    srv->live.len--;            /* appended above, under the lock */
  }
  return r;
}

void
connection_kill (struct connection *conn)
{
  if (conn->is_socket)
    shutdown (conn->fd, SHUT_RDWR);
}

unsigned
connection_inflight (struct connection *conn)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&conn->lock);
  return conn->inflight;
}
