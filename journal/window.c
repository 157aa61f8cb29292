/* cdp journal: a read window over a segment file, so that scans read
 * megabytes at a time instead of one header at a time. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "journal/internal.h"

#define WINDOW_MIN (4u << 20)

void
win_init (struct seg_window *w, int fd)
{
  memset (w, 0, sizeof *w);
  w->fd = fd;
}

void
win_free (struct seg_window *w)
{
  free (w->buf);
  w->buf = NULL;
}

/* Make [pos, pos+n) available.  Returns 1 and sets *p, 0 if the file
 * ends before pos+n, or -errno. */
int
win_get (struct seg_window *w, uint64_t pos, size_t n, const uint8_t **p)
{
  size_t want = n > WINDOW_MIN ? n : WINDOW_MIN;
  ssize_t r;

  if (pos >= w->base && pos + n <= w->base + w->len) {
    *p = w->buf + (pos - w->base);
    return 1;
  }
  if (want > w->cap) {
    uint8_t *nb = realloc (w->buf, want);
    if (nb == NULL)
      return -ENOMEM;
    w->buf = nb;
    w->cap = want;
  }
  r = pread (w->fd, w->buf, want, pos);
  if (r < 0)
    return -errno;
  w->base = pos;
  w->len = r;
  if ((size_t) r < n)
    return 0;
  *p = w->buf;
  return 1;
}

/* Check the record at pos.  Returns 1 with *h (and *payload pointing
 * into the window) if it is a valid record of this segment, 0 if not,
 * -errno on I/O error. */
int
win_record (struct seg_window *w, uint64_t segment, uint32_t pos,
            uint32_t limit, struct rec_hdr *h, const uint8_t **payload)
{
  const uint8_t *p;
  uint32_t crc;
  int r;

  if ((uint64_t) pos + REC_HDR_SIZE > limit)
    return 0;
  r = win_get (w, pos, REC_HDR_SIZE, &p);
  if (r <= 0)
    return r;
  memcpy (h, p, sizeof *h);
  if (!rec_hdr_plausible (h, segment, pos, limit))
    return 0;
  if (h->type == REC_PAD) {
    *payload = NULL;
    return rec_crc (h, 0) == h->crc;
  }
  r = win_get (w, pos, REC_HDR_SIZE + (size_t) h->payload_len, &p);
  if (r <= 0)
    return r;
  *payload = p + REC_HDR_SIZE;
  crc = crc32c (*payload, h->payload_len);
  return rec_crc (h, crc) == h->crc;
}
