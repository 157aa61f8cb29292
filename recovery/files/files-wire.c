/* cdp recovery, file-level browse: whole messages between the parent and
 * the sandboxed child (the format is in files-internal.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/fileio.h"
#include "recovery/files/files-internal.h"

static int
write_all (int fd, struct iovec *iov, int n)
{
  while (n > 0) {
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t) n };
    ssize_t w = sendmsg (fd, &mh, MSG_NOSIGNAL);   /* EPIPE, not SIGPIPE */
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return w < 0 && errno != EPIPE ? -errno : -EPIPE;
    while (n > 0 && (size_t) w >= iov->iov_len) {
      w -= (ssize_t) iov->iov_len;
      iov++;
      n--;
    }
    if (n > 0) {
      iov->iov_base = (char *) iov->iov_base + w;
      iov->iov_len -= (size_t) w;
    }
  }
  return 0;
}

/* All of len bytes; -EPIPE when the peer is gone before. */
static int
read_all (int fd, void *buf, size_t len)
{
  ssize_t r = fio_read_all (fd, buf, len);

  if (r == -ECONNRESET || (r >= 0 && (size_t) r < len))
    return -EPIPE;
  return r < 0 ? (int) r : 0;
}

int
fm_send (int fd, uint32_t type, const void *a, size_t alen,
         const void *b, size_t blen)
{
  struct fmsg m = { .type = type, .len = (uint32_t) (alen + blen) };
  struct iovec iov[3] = {
    { &m, sizeof m }, { (void *) a, alen }, { (void *) b, blen },
  };

  if (alen > FM_MAX_PAYLOAD || blen > FM_MAX_PAYLOAD - alen)
    return -EMSGSIZE;
  return write_all (fd, iov, 3);
}

int
fm_recv (int fd, struct fmsg *m, void **buf, size_t *cap)
{
  int r = read_all (fd, m, sizeof *m);

  if (r < 0)
    return r;
  if (m->len > FM_MAX_PAYLOAD)
    return -EPROTO;
  if (*cap < (size_t) m->len + 1) {
    void *p = realloc (*buf, (size_t) m->len + 1);
    if (p == NULL)
      return -ENOMEM;
    *buf = p;
    *cap = (size_t) m->len + 1;
  }
  r = read_all (fd, *buf, m->len);
  if (r == 0)
    ((char *) *buf)[m->len] = 0;      /* strings in payloads end here */
  return r;
}
