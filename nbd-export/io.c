/* cdp NBD server: reading and writing whole messages on a connection,
 * through its TLS session once it has one. */
#include "nbd-export/internal.h"

#include <errno.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/timeutil.h"

unsigned
tls_remaining_ms (struct connection *conn)
{
  int64_t left;

  if (conn->deadline_ns == 0)
    return 0;
  left = (conn->deadline_ns - time_mono_ns ()) / 1000000;
  return left < 1 ? 1 : left > UINT_MAX ? UINT_MAX : (unsigned) left;
}

int
conn_arm_deadline (struct connection *conn)
{
  struct timeval tv;
  int64_t left;

  if (conn->deadline_ns == 0 || !conn->is_socket)
    return 0;
  left = conn->deadline_ns - time_mono_ns ();
  if (left <= 0)
    return -ETIMEDOUT;
  tv.tv_sec = left / 1000000000;
  tv.tv_usec = (left % 1000000000) / 1000 + 1;
  if (tv.tv_usec == 1000000) {      /* setsockopt refuses it (EDOM) */
    tv.tv_sec++;
    tv.tv_usec = 0;
  }
  setsockopt (conn->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return 0;
}

static ssize_t
recv_some (struct connection *conn, void *buf, size_t len)
{
  ssize_t n;

  if (conn->tls)
    return tls_recv (conn, buf, len);
  n = conn->is_socket ? recv (conn->fd, buf, len, 0)
                      : read (conn->fd, buf, len);
  if (n < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
  return n;
}

int
conn_recv (struct connection *conn, void *buf, size_t len)
{
  char *p = buf;
  int r;

  while (len > 0) {
    ssize_t n;

    if ((r = conn_arm_deadline (conn)) < 0)
      return r;
    n = recv_some (conn, p, len);
    if (n == -EINTR)
      continue;
    if (n < 0)
      return (int) n;
    if (n == 0)
      return -ECONNRESET;
    p += n;
    len -= (size_t) n;
  }
  return 0;
}

int
conn_discard (struct connection *conn, uint64_t len)
{
  char buf[16384];
  int r;

  while (len > 0) {
    size_t n = len < sizeof buf ? (size_t) len : sizeof buf;
    r = conn_recv (conn, buf, n);
    if (r < 0)
      return r;
    len -= n;
  }
  return 0;
}

static ssize_t
send_some (struct connection *conn, struct iovec *iov, int iovcnt, bool more)
{
  struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t) iovcnt };

  if (!conn->is_socket)
    return writev (conn->fd, iov, iovcnt);
  return sendmsg (conn->fd, &msg, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
}

/* Drop the first n bytes from iov; return the new start. */
static struct iovec *
advance (struct iovec *iov, int *iovcnt, size_t n)
{
  while (*iovcnt > 0 && n >= iov->iov_len) {
    n -= iov->iov_len;
    iov++;
    (*iovcnt)--;
  }
  if (*iovcnt > 0) {
    iov->iov_base = (char *) iov->iov_base + n;
    iov->iov_len -= n;
  }
  return iov;
}

int
conn_sendv (struct connection *conn, struct iovec *iov, int iovcnt, bool more)
{
  if (conn->tls)
    return tls_sendv (conn, iov, iovcnt, more);
  while (iovcnt > 0) {
    int batch = iovcnt < IOV_MAX ? iovcnt : IOV_MAX;
    ssize_t n = send_some (conn, iov, batch, more || batch < iovcnt);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
    }
    iov = advance (iov, &iovcnt, (size_t) n);
  }
  return 0;
}

int
conn_send (struct connection *conn, const void *buf, size_t len, bool more)
{
  struct iovec iov = { .iov_base = (void *) buf, .iov_len = len };

  return conn_sendv (conn, &iov, 1, more);
}
