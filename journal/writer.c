/* cdp journal: the writer — appends, group commit, the journal thread.
 *
 * Appenders copy records into the current stage buffer under j->lock.
 * The journal thread takes a whole stage at a time (group commit: all
 * that arrived while the previous batch was being written), lays the
 * records out at the tail of the current segment, assigns sequence
 * numbers, seals every header with its CRC and writes the batch with one
 * O_DIRECT write carrying RWF_DSYNC.  Only when that write has completed
 * is any record of the batch reported durable, and only then is the next
 * batch written: at most one batch is ever in flight, which is what lets
 * recovery tell a torn tail from corruption (see scan.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "journal/internal.h"

#define STAGE_SLACK 4096u               /* room for the padding record */

uint32_t dio_align (int fd);

static uint32_t
round_up (uint32_t x, uint32_t a)
{
  return (x + a - 1) / a * a;
}

/* ---- appending -------------------------------------------------------- */

static int
validate_record (struct journal *j, const struct journal_record *e,
                 const void *payload)
{
  if (e->type < JOURNAL_WRITE || e->type > JOURNAL_TYPE_MAX)
    return -EINVAL;
  if (e->payload_len > JOURNAL_MAX_PAYLOAD ||
      (e->payload_len > 0 && payload == NULL))
    return -EINVAL;
  if (e->type == JOURNAL_WRITE &&
      (e->payload_len == 0 || e->length != e->payload_len))
    return -EINVAL;
  if ((e->type == JOURNAL_WRITE_ZEROES || e->type == JOURNAL_TRIM) &&
      e->payload_len != 0)
    return -EINVAL;
  if (SEG_HDR_SIZE + rec_disk_size (e->payload_len) + j->align >
      j->opts.segment_size)
    return -EINVAL;
  return 0;
}

static int
stage_grow (struct stage *s, uint32_t want)
{
  void *nb;

  if (posix_memalign (&nb, 4096, (size_t) want + STAGE_SLACK) != 0)
    return -ENOMEM;
  free (s->buf);
  s->buf = nb;
  s->cap = want;
  return 0;
}

/* With j->lock held: wait until size bytes fit in the current stage. */
static int
stage_reserve (struct journal *j, uint32_t size, struct stage **sp)
{
  struct stage *s;
  int r;

  for (;;) {
    if (j->closing)
      return -ESHUTDOWN;
    s = &j->stage[j->cur];
    if (s->used + size <= s->cap)
      break;
    if (s->used == 0) {             /* a record larger than the stage */
      r = stage_grow (s, size);
      if (r < 0)
        return r;
      break;
    }
    pthread_cond_wait (&j->space, &j->lock);
  }
  r = pending_vector_reserve (&s->recs, 1);
  if (r < 0)
    return r;
  *sp = s;
  return 0;
}

static void
wake_thread (struct journal *j)
{
  uint64_t one = 1;

  if (write (j->efd, &one, sizeof one) < 0)
    abort ();                       /* an eventfd write cannot fail here */
}

int
journal_append (struct journal *j, const struct journal_record *e,
                const void *payload, journal_done_fn done, void *opaque)
{
  uint32_t size, pcrc;
  struct stage *s;
  struct rec_hdr *h;
  bool wake;
  int r;

  r = validate_record (j, e, payload);
  if (r < 0)
    return r;
  size = rec_disk_size (e->payload_len);
  pcrc = e->payload_len ? crc32c (payload, e->payload_len) : 0;

  pthread_mutex_lock (&j->lock);
  r = stage_reserve (j, size, &s);
  if (r < 0) {
    pthread_mutex_unlock (&j->lock);
    return r;
  }
  h = (struct rec_hdr *) (s->buf + s->used);
  memset (h, 0, sizeof *h);
  h->magic = REC_MAGIC;
  h->crc = pcrc;                    /* payload part; sealed at layout */
  h->time_ns = now_ns ();
  if (h->time_ns < j->last_time)    /* the clock stepped back */
    h->time_ns = j->last_time;
  j->last_time = h->time_ns;
  h->type = e->type;
  h->flags = e->flags;
  h->disk = e->disk;
  h->offset = e->offset;
  h->length = e->length;
  h->payload_len = e->payload_len;
  if (e->payload_len)
    memcpy (h + 1, payload, e->payload_len);
  memset ((uint8_t *) (h + 1) + e->payload_len, 0,
          size - REC_HDR_SIZE - e->payload_len);
  s->recs.ptr[s->recs.len++] = (struct pending) {
    .pos = s->used, .size = size, .done = done, .opaque = opaque };
  s->used += size;
  j->appended++;
  wake = j->thread_idle;
  j->thread_idle = false;
  pthread_mutex_unlock (&j->lock);
  if (wake)
    wake_thread (j);
  return 0;
}

void
journal_wait (struct journal *j)
{
  uint64_t target;

  pthread_mutex_lock (&j->lock);
  target = j->appended;
  while (j->completed < target)
    pthread_cond_wait (&j->space, &j->lock);
  pthread_mutex_unlock (&j->lock);
}

/* ---- segments ---------------------------------------------------------- */

static int
write_seg_header (struct journal *j, int fd, uint64_t number)
{
  struct seg_hdr *h;
  struct iovec iov;
  ssize_t n;
  int r = 0;

  if (posix_memalign ((void **) &h, 4096, SEG_HDR_SIZE) != 0)
    return -ENOMEM;
  memset (h, 0, SEG_HDR_SIZE);
  memcpy (h->uuid, j->uuid, 16);
  h->segment = number;
  h->first_seq = j->next_seq;
  h->prev_segment = j->seg_number;
  h->prev_end = j->seg_number ? j->tail : 0;
  h->align = j->align;
  h->size = j->opts.segment_size;
  h->created_ns = now_ns ();
  h->prev_last_time = j->last_time;
  seg_hdr_seal (h);
  iov = (struct iovec) { .iov_base = h, .iov_len = SEG_HDR_SIZE };
  n = pwritev2 (fd, &iov, 1, 0, RWF_DSYNC);
  if (n < 0)
    r = -errno;
  else if (n != SEG_HDR_SIZE)
    r = -EIO;
  free (h);
  return r;
}

/* Make the next segment current.  Durability order: the header is
 * durable before the file gets its name, and the name is durable (fsync
 * of the directory) before any record is written into it. */
int
seg_activate (struct journal *j)
{
  uint64_t number = j->seg_number + 1;
  char pname[64];
  int fd, r;

  fd = prep_take (j, pname);
  if (fd < 0)
    return fd;
  j->align = j->align > dio_align (fd) ? j->align : dio_align (fd);
  r = write_seg_header (j, fd, number);
  if (r == 0)
    r = prep_rename (j, pname, number);
  if (r == 0 && fsync (j->dirfd) < 0)
    r = -errno;
  if (r < 0) {
    close (fd);
    return r;
  }
  pthread_mutex_lock (&j->lock);
  r = seg_vector_append (&j->segs, (struct seg_info) {
      .number = number, .first_seq = j->next_seq,
      .prev_end = j->seg_number ? j->tail : 0 });
  if (j->segs.len == 1)
    atomic_store (&j->oldest_seq, j->next_seq);
  pthread_mutex_unlock (&j->lock);
  if (r < 0) {
    close (fd);
    return r;
  }
  if (j->seg_fd >= 0)
    close (j->seg_fd);
  j->seg_fd = fd;
  j->seg_number = number;
  j->tail = SEG_HDR_SIZE;
  j->seal = false;
  pthread_mutex_lock (&j->lock);
  j->stats.segments++;
  pthread_mutex_unlock (&j->lock);
  return 0;
}

/* ---- the journal thread ----------------------------------------------- */

/* Lay out as many records of s as fit in the segment; returns how many,
 * and the padded byte count in *len. */
static size_t
layout (struct journal *j, struct stage *s, uint32_t *len)
{
  uint32_t used = 0, padded;
  size_t n;
  struct rec_hdr *h;

  for (n = 0; n < s->recs.len; n++) {
    struct pending *p = &s->recs.ptr[n];
    if ((uint64_t) j->tail + used + p->size > j->opts.segment_size)
      break;
    h = (struct rec_hdr *) (s->buf + p->pos);
    h->segment = j->seg_number;
    h->seq = j->next_seq + n;
    h->batch_start = j->tail;
    h->crc = rec_crc (h, h->crc);
    used += p->size;
  }
  padded = round_up (j->tail + used, j->align) - j->tail;
  if (padded > used && n < s->recs.len) {
    /* The batch ends inside the stage: move the records that go to the
     * next segment out of the padding's way (into the slack). */
    memmove (s->buf + padded, s->buf + used, s->used - used);
    for (size_t i = n; i < s->recs.len; i++)
      s->recs.ptr[i].pos += padded - used;
    s->used += padded - used;
  }
  if (padded > used) {
    h = (struct rec_hdr *) (s->buf + used);
    memset (h, 0, padded - used);
    h->magic = REC_MAGIC;
    h->segment = j->seg_number;
    h->type = REC_PAD;
    h->payload_len = padded - used - REC_HDR_SIZE;
    h->batch_start = j->tail;
    h->crc = rec_crc (h, 0);
  }
  *len = padded;
  return n;
}

static int
write_batch (struct journal *j, const void *buf, uint32_t len)
{
  struct io_uring_sqe *sqe = io_uring_get_sqe (&j->ring);
  struct io_uring_cqe *cqe;
  int r;

  io_uring_prep_write (sqe, j->seg_fd, buf, len, j->tail);
  sqe->rw_flags = RWF_DSYNC;
  r = io_uring_submit (&j->ring);
  if (r < 0)
    return r;
  do
    r = io_uring_wait_cqe (&j->ring, &cqe);
  while (r == -EINTR);
  if (r < 0)
    return r;
  r = cqe->res;
  io_uring_cqe_seen (&j->ring, cqe);
  if (r >= 0 && (uint32_t) r != len)
    r = -EIO;                       /* short O_DIRECT write */
  return r < 0 ? r : 0;
}

/* Report the first n records of s as done with err. */
static void
complete (struct journal *j, struct stage *s, size_t n, int err)
{
  struct journal_record rec;

  for (size_t i = 0; i < n; i++) {
    struct pending *p = &s->recs.ptr[i];
    const struct rec_hdr *h = (const struct rec_hdr *) (s->buf + p->pos);
    rec_to_record (h, j->seg_number, h->batch_start + p->pos, &rec);
    if (err) {
      rec.seq = 0;
      rec.loc.segment = 0;
    }
    if (p->done)
      p->done (p->opaque, &rec, err);
  }
}

/* Drop the first n records of s, moving the rest to the front. */
static void
stage_consume (struct stage *s, size_t n)
{
  uint32_t start = n < s->recs.len ? s->recs.ptr[n].pos : s->used;

  memmove (s->buf, s->buf + start, s->used - start);
  s->used -= start;
  for (size_t i = n; i < s->recs.len; i++)
    s->recs.ptr[i].pos -= start;
  memmove (s->recs.ptr, s->recs.ptr + n, (s->recs.len - n) * sizeof *s->recs.ptr);
  s->recs.len -= n;
}

/* Report the first n records of s done with err, and drop them. */
static void
finish (struct journal *j, struct stage *s, size_t n, uint32_t len, int err)
{
  uint64_t payload = 0;

  for (size_t i = 0; i < n && !err; i++)
    payload += ((const struct rec_hdr *) (s->buf + s->recs.ptr[i].pos))
      ->payload_len;
  complete (j, s, n, err);
  stage_consume (s, n);
  pthread_mutex_lock (&j->lock);
  j->completed += n;
  if (err)
    j->stats.failed += n;
  else {
    j->stats.records += n;
    j->stats.batches++;
    j->stats.payload_bytes += payload;
    j->stats.written_bytes += len;
  }
  pthread_cond_broadcast (&j->space);
  pthread_mutex_unlock (&j->lock);
}

/* Write one taken stage, as several batches when it crosses segments. */
static void
write_stage (struct journal *j, struct stage *s)
{
  uint32_t len;
  size_t n;
  int r;

  while (s->recs.len > 0) {
    if (j->seal || j->seg_fd < 0) {
      r = seg_activate (j);
      if (r < 0) {
        finish (j, s, s->recs.len, 0, r);
        return;
      }
    }
    n = layout (j, s, &len);
    if (n == 0) {                   /* segment full */
      j->seal = true;
      continue;
    }
    r = write_batch (j, s->buf, len);
    if (r < 0) {
      /* The batch may have landed in part: never write after it in this
       * segment.  The next segment's header ends this one at j->tail. */
      j->seal = true;
      finish (j, s, n, 0, r);
      continue;
    }
    j->next_seq += n;
    atomic_store (&j->durable_seq, j->next_seq - 1);
    finish (j, s, n, len, 0);
    j->tail += len;
  }
}

void *
journal_thread (void *arg)
{
  struct journal *j = arg;
  struct stage *s;
  uint64_t v;

  pthread_mutex_lock (&j->lock);
  for (;;) {
    s = &j->stage[j->cur];
    if (s->recs.len == 0) {
      if (j->closing)
        break;
      j->thread_idle = true;
      pthread_mutex_unlock (&j->lock);
      if (read (j->efd, &v, sizeof v) < 0 && errno != EINTR)
        abort ();
      pthread_mutex_lock (&j->lock);
      continue;
    }
    j->cur ^= 1;
    pthread_mutex_unlock (&j->lock);
    write_stage (j, s);
    pthread_mutex_lock (&j->lock);
  }
  pthread_mutex_unlock (&j->lock);
  return NULL;
}

void
journal_stats (struct journal *j, struct journal_stats *st)
{
  pthread_mutex_lock (&j->lock);
  *st = j->stats;
  pthread_mutex_unlock (&j->lock);
}
