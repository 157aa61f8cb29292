/* cdp NBD server: reading and writing whole messages on a connection. */
#include "nbd-export/internal.h"

#include <errno.h>
#include <limits.h>
#include <sys/socket.h>
#include <unistd.h>

int
conn_recv (struct connection *conn, void *buf, size_t len)
{
  char *p = buf;

  while (len > 0) {
    ssize_t n = conn->is_socket ? recv (conn->fd, p, len, 0)
                                : read (conn->fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
    }
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
