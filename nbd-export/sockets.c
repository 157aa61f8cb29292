/* cdp NBD server: listening sockets ("unix:PATH", "tcp:HOST:PORT") and
 * the threads that accept clients on them. */
#include "nbd-export/internal.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/timeutil.h"

static int
listen_unix (const char *path, int *fdp, char **bound)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int fd, r;

  if (*path == '\0')
    return -EINVAL;
  if (strlen (path) >= sizeof sa.sun_path)
    return -ENAMETOOLONG;
  strcpy (sa.sun_path, path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -errno;
  if (bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0 ||
      listen (fd, SOMAXCONN) < 0) {
    r = -errno;
    close (fd);
    return r;
  }
  if (bound && asprintf (bound, "unix:%s", path) < 0) {
    unlink (path);
    close (fd);
    return -ENOMEM;
  }
  *fdp = fd;
  return 0;
}

/* Split "HOST:PORT" or "[V6]:PORT" into host and port (in place). */
static int
split_host_port (char *s, char **host, char **port)
{
  char *colon;

  if (*s == '[') {
    char *close_br = strchr (s, ']');
    if (close_br == NULL || close_br[1] != ':')
      return -EINVAL;
    *close_br = '\0';
    *host = s + 1;
    *port = close_br + 2;
  } else {
    colon = strrchr (s, ':');
    if (colon == NULL)
      return -EINVAL;
    *colon = '\0';
    *host = s;
    *port = colon + 1;
  }
  return **port ? 0 : -EINVAL;
}

static int
format_bound (int fd, char **bound)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char host[NI_MAXHOST], port[NI_MAXSERV];
  int r;

  if (getsockname (fd, (struct sockaddr *) &ss, &len) < 0)
    return -errno;
  r = getnameinfo ((struct sockaddr *) &ss, len, host, sizeof host,
                   port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV);
  if (r != 0)
    return -EINVAL;
  r = ss.ss_family == AF_INET6
    ? asprintf (bound, "tcp:[%s]:%s", host, port)
    : asprintf (bound, "tcp:%s:%s", host, port);
  return r < 0 ? -ENOMEM : 0;
}

static int
bind_tcp (const struct addrinfo *ai)
{
  int fd, one = 1, r;

  fd = socket (ai->ai_family,
               ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
               ai->ai_protocol);
  if (fd < 0)
    return -errno;
  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind (fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
      listen (fd, SOMAXCONN) < 0) {
    r = -errno;
    close (fd);
    return r;
  }
  return fd;
}

static int
listen_tcp (const char *spec, int *fdp, char **bound)
{
  CLEANUP_FREE char *s = strdup (spec);
  struct addrinfo hints = { .ai_family = AF_UNSPEC,
                            .ai_socktype = SOCK_STREAM,
                            .ai_flags = AI_PASSIVE | AI_ADDRCONFIG };
  struct addrinfo *res, *ai;
  char *host, *port;
  int fd = -EADDRNOTAVAIL, r;

  if (s == NULL)
    return -ENOMEM;
  r = split_host_port (s, &host, &port);
  if (r < 0)
    return r;
  r = getaddrinfo (*host ? host : NULL, port, &hints, &res);
  if (r != 0)
    return r == EAI_SYSTEM ? -errno : r == EAI_MEMORY ? -ENOMEM : -EINVAL;
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    fd = bind_tcp (ai);
    if (fd >= 0)
      break;
  }
  freeaddrinfo (res);
  if (fd < 0)
    return fd;
  if (bound && (r = format_bound (fd, bound)) < 0) {
    close (fd);
    return r;
  }
  *fdp = fd;
  return 0;
}

/* A client past max_connections was closed: say so, at most every
 * REFUSED_LOG_NS, with the count of those refused meanwhile. */
static void
log_refused (struct nbd_server *srv, const char *peer)
{
  int64_t now = time_mono_ns ();
  unsigned more;

  pthread_mutex_lock (&srv->lock);
  if (srv->refused_log_ns && now - srv->refused_log_ns < REFUSED_LOG_NS) {
    srv->refused++;
    pthread_mutex_unlock (&srv->lock);
    return;
  }
  more = srv->refused;
  srv->refused = 0;
  srv->refused_log_ns = now;
  pthread_mutex_unlock (&srv->lock);
  server_log (srv, NBD_LOG_WARNING, "client %s: refused: %u clients are "
              "connected already (the maximum); %u more refused since the "
              "last message", peer, srv->max_connections, more);
}

/* Accept one client on l and start serving it. */
static void
accept_one (struct listener *l)
{
  struct nbd_server *srv = l->srv;
  struct connection *conn;
  int fd, one = 1, r;

  fd = accept4 (l->fd, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
      server_log (srv, NBD_LOG_ERROR, "accept: %s", strerror (errno));
    if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
      poll (NULL, 0, 100);      /* let connections end before retrying */
    return;
  }
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  conn = connection_new (srv, fd);
  if (conn == NULL) {
    close (fd);
    return;
  }
  r = connection_start_thread (conn);
  if (r == -EUSERS)
    log_refused (srv, conn->peer);
  if (r < 0)
    connection_free (conn);
}

static void *
listener_main (void *arg)
{
  struct listener *l = arg;
  struct pollfd fds[2] = {
    { .fd = l->fd, .events = POLLIN },
    { .fd = l->srv->wake_fd, .events = POLLIN },
  };

  for (;;) {
    server_reap (l->srv);
    if (poll (fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (fds[1].revents)
      break;
    if (fds[0].revents)
      accept_one (l);
  }
  return NULL;
}

static int
parse_and_bind (const char *addr, int *fdp, char **bound, char **unix_path)
{
  if (strncmp (addr, "unix:", 5) == 0) {
    *unix_path = strdup (addr + 5);
    if (*unix_path == NULL)
      return -ENOMEM;
    return listen_unix (addr + 5, fdp, bound);
  }
  if (strncmp (addr, "tcp:", 4) == 0)
    return listen_tcp (addr + 4, fdp, bound);
  return -EINVAL;
}

/* Start l's thread and record l, both under the lock so that a
 * concurrent shutdown sees either nothing or a running listener. */
static int
start_listener (struct nbd_server *srv, struct listener *l)
{
  int r;

  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&srv->lock);
  if (server_shutting_down (srv))
    return -ESHUTDOWN;
  r = listener_vector_reserve (&srv->listeners, 1);
  if (r < 0)
    return r;
  r = -pthread_create (&l->thread, NULL, listener_main, l);
  if (r < 0)
    return r;
  l->has_thread = true;
  srv->listeners.ptr[srv->listeners.len++] = l;
  return 0;
}

int
nbd_server_listen (struct nbd_server *srv, const char *addr, char **bound)
{
  struct listener *l;
  char *b = NULL;
  int r;

  if (server_shutting_down (srv))
    return -ESHUTDOWN;
  l = calloc (1, sizeof *l);
  if (l == NULL)
    return -ENOMEM;
  l->srv = srv;
  l->fd = -1;
  r = parse_and_bind (addr, &l->fd, bound ? &b : NULL, &l->unix_path);
  if (r < 0)
    goto err;
  r = start_listener (srv, l);
  if (r < 0)
    goto err;
  if (bound)
    *bound = b;
  return 0;

 err:
  if (l->fd >= 0 && l->unix_path)
    unlink (l->unix_path);
  if (l->fd >= 0)
    close (l->fd);
  free (l->unix_path);
  free (l);
  free (b);
  return r;
}

void
listener_stop (struct listener *l)
{
  if (l->has_thread)
    pthread_join (l->thread, NULL);
  close (l->fd);
  if (l->unix_path)
    unlink (l->unix_path);
  free (l->unix_path);
  free (l);
}
