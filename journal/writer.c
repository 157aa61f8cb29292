/* cdp journal: the journal thread — group commit with a window of
 * batches in flight.
 *
 * The thread takes a whole stage at a time (group commit: all that
 * arrived while earlier batches were being written), lays the records
 * out at the tail of the current segment, assigns sequence numbers,
 * seals every header with its CRC and writes the batch with one O_DIRECT
 * write carrying RWF_DSYNC.  Up to WINDOW batches are in flight at once;
 * each is laid out right after the previous one when it is submitted.  A
 * batch may be submitted only while fewer than WINDOW batches are
 * unretired, and batches retire strictly in order: so when batch k is
 * submitted, every batch before k - WINDOW + 1 is durable.  That is what
 * lets tail.c tell a torn tail from corruption (see scan.c).  Records
 * are reported durable only when their batch and every earlier batch
 * have completed, so callbacks run in sequence order.
 *
 * Why a window and not one write at a time: the device then sees one
 * durable write (a write and a cache flush) at a time, and is idle
 * between them; with two, one is written while the other is flushed.
 * docs/BENCHMARKS.md has the measurements behind WINDOW and
 * PIPELINE_MIN.
 *
 * A failed batch fails every later batch in flight with it and seals
 * the segment at the failed batch's start.  A new segment starts only
 * when nothing is in flight, so its header names the old one's true end.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "journal/internal.h"

#define PIPELINE_MIN (256u << 10)       /* see stage_threshold */

int (*journal_batch_fault) (uint64_t first_seq, size_t records);

static uint32_t
round_up (uint32_t x, uint32_t a)
{
  return (x + a - 1) / a * a;
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
  h->inflight = j->buffered ? SEG_INFLIGHT_BUFFERED : WINDOW;
  h->created_ns = time_now_ns ();
  pthread_mutex_lock (&j->lock);
  h->prev_last_time = j->last_time;
  pthread_mutex_unlock (&j->lock);
  seg_hdr_seal (h);
  j->cur_hdr = *h;
  iov = (struct iovec) { .iov_base = h, .iov_len = SEG_HDR_SIZE };
  n = pwritev2 (fd, &iov, 1, 0, RWF_DSYNC);
  if (n < 0)
    r = -errno;
  else if (n != SEG_HDR_SIZE)
    r = -EIO;
  free (h);
  return r;
}

/* Make the next segment current; nothing may be in flight.  Durability
 * order: the header is durable before the file gets its name, and the
 * name is durable (fsync of the directory) before any record is written
 * into it. */
int
seg_activate (struct journal *j)
{
  uint64_t number = j->seg_number + 1;
  char pname[64];
  bool buffered, was;
  int fd, r;

  assert (j->nflight == 0 && !j->syncing);
  buffered = atomic_load (&j->sync_ns) > 0;
  r = sync_marker (j, buffered);    /* durable before any record */
  if (r < 0)
    return r;
  fd = prep_take (j, pname);
  if (fd < 0)
    return fd;
  if (dio_align (fd) > j->align)    /* appenders read it: validate_record */
    __atomic_store_n (&j->align, dio_align (fd), __ATOMIC_RELAXED);
  if (buffered && fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_DIRECT) < 0) {
    r = -errno;
    close (fd);
    return r;
  }
  was = j->buffered;
  j->buffered = buffered;           /* the header says so */
  r = write_seg_header (j, fd, number);
  if (r == 0)
    r = prep_rename (j, pname, number);
  if (r == 0 && fsync (j->dirfd) < 0)
    r = -errno;
  if (r < 0) {
    j->buffered = was;
    close (fd);
    return r;
  }
  pthread_mutex_lock (&j->lock);
  r = seg_vector_append (&j->segs, (struct seg_info) {
      .number = number, .first_seq = j->next_seq,
      .prev_end = j->seg_number ? j->tail : 0 });
  if (r == 0 && j->segs.len == 1)
    atomic_store (&j->oldest_seq, j->next_seq);
  if (r == 0)
    j->stats.segments++;
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
  atomic_store_explicit (&j->tail_seen, j->tail, memory_order_relaxed);
  j->seal = false;
  j->failed_tail = false;
  return 0;
}

/* ---- laying out a batch ------------------------------------------------- */

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

/* ---- completing --------------------------------------------------------- */

/* Report the first n records of s as done with err. */
static void
complete (struct stage *s, size_t n, uint64_t segment, int err)
{
  struct journal_record rec;

  for (size_t i = 0; i < n; i++) {
    struct pending *p = &s->recs.ptr[i];
    const struct rec_hdr *h = (const struct rec_hdr *) (s->buf + p->pos);
    rec_to_record (h, segment, h->batch_start + p->pos, &rec);
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
  s->sent = 0;
}

/* Report the first n records of s done with err (written as len bytes
 * into segment if err is 0), and drop them. */
void
batch_finish (struct journal *j, struct stage *s, size_t n, uint64_t segment,
        uint32_t len, int err)
{
  uint64_t payload = 0;

  for (size_t i = 0; i < n && !err; i++)
    payload += ((const struct rec_hdr *) (s->buf + s->recs.ptr[i].pos))
      ->payload_len;
  /* The counters first: a caller woken by its record's callback must
   * find the record counted. */
  pthread_mutex_lock (&j->lock);
  if (err)
    j->stats.failed += n;
  else {
    j->stats.records += n;
    j->stats.batches++;
    j->stats.payload_bytes += payload;
    j->stats.written_bytes += len;
  }
  pthread_mutex_unlock (&j->lock);
  /* Before the callbacks: one may ask for a flush of its own record. */
  if (!err && n > 0)
    atomic_store (&j->acked_seq,
                  ((const struct rec_hdr *) (s->buf + s->recs.ptr[n - 1].pos))->seq);
  complete (s, n, segment, err);
  stage_consume (s, n);
  pthread_mutex_lock (&j->lock);
  j->completed += n;
  pthread_cond_broadcast (&j->space);
  pthread_mutex_unlock (&j->lock);
}

/* Retire the completed batches at the head of the window, in order.  The
 * first one that failed may have landed in part: nothing more is written
 * into this segment, whose end the next segment's header puts at that
 * batch's start, and every later batch fails with it (whatever of them
 * landed lies past that end, and is never read). */
static void
retire (struct journal *j)
{
  while (j->nflight > 0 && j->flight[j->head].done) {
    struct batch *b = &j->flight[j->head];
    int err = j->fail_err ? j->fail_err : b->err;

    if (err && !j->fail_err) {
      j->fail_err = err;
      j->seal = true;
      j->failed_tail = true;
      j->tail = b->start;
      j->next_seq = b->first_seq;
    }
    if (!err)
      atomic_store (&j->durable_seq, b->first_seq + b->n - 1);
    batch_finish (j, b->s, b->n, b->segment, b->len, err);
    if (!err)
      sync_notify (j, b->first_seq + b->n - 1, 0, 0);
    j->head = (j->head + 1) % WINDOW;
    j->nflight--;
  }
  if (j->nflight == 0)
    j->fail_err = 0;
}

/* ---- the ring ----------------------------------------------------------- */

struct io_uring_sqe *
journal_sqe (struct journal *j)
{
  struct io_uring_sqe *sqe = io_uring_get_sqe (&j->ring);

  assert (sqe != NULL);             /* the ring holds WINDOW + 1 and more */
  return sqe;
}

/* Keep one read of the eventfd queued: appenders wake the thread
 * through it, so that it waits for appends and writes in one place. */
static void
arm_efd (struct journal *j)
{
  struct io_uring_sqe *sqe = journal_sqe (j);

  io_uring_prep_read (sqe, j->efd, &j->efd_buf, sizeof j->efd_buf, 0);
  io_uring_sqe_set_data64 (sqe, TAG_EFD);
}

static void
handle_cqe (struct journal *j, const struct io_uring_cqe *cqe)
{
  uint64_t tag = io_uring_cqe_get_data64 (cqe);
  struct batch *b;

  if (tag == TAG_EFD) {
    if (cqe->res < 0 && cqe->res != -EINTR && cqe->res != -EAGAIN)
      abort ();                     /* an eventfd read cannot fail here */
    arm_efd (j);
    return;
  }
  if (tag == TAG_SYNC) {
    j->sync_done = true;
    if (cqe->res < 0)               /* else keep sync_start's failure */
      j->sync_err = cqe->res;
    return;
  }
  b = &j->flight[tag - 1];
  assert (!b->done);
  if (b->err == 0 && cqe->res < 0)
    b->err = cqe->res;
  else if (b->err == 0 && (uint32_t) cqe->res != b->len)
    b->err = -EIO;                  /* short O_DIRECT write */
  b->done = true;
}

/* Block until something completes (a write, a sync, or an append's
 * wake-up), or for timeout_ns (< 0: no limit), and handle all that
 * has. */
static void
wait_event (struct journal *j, int64_t timeout_ns)
{
  struct io_uring_cqe *cqe;
  unsigned head, n = 0;
  int r;

  if (timeout_ns >= 0) {
    struct __kernel_timespec ts = { .tv_sec = timeout_ns / 1000000000,
                                    .tv_nsec = timeout_ns % 1000000000 };
    r = io_uring_submit_and_wait_timeout (&j->ring, &cqe, 1, &ts, NULL);
    if (r == -ETIME || r == -EINTR || r == -EAGAIN)
      r = 0;
  }
  else
    do
      r = io_uring_submit_and_wait (&j->ring, 1);
    while (r == -EINTR || r == -EAGAIN);
  if (r < 0)
    abort ();                       /* the ring is unusable */
  io_uring_for_each_cqe (&j->ring, head, cqe) {
    handle_cqe (j, cqe);
    n++;
  }
  io_uring_cq_advance (&j->ring, n);
}

/* ---- submitting --------------------------------------------------------- */

/* Write the first n records of s, len bytes, as the next batch at the
 * tail. */
static void
submit_batch (struct journal *j, struct stage *s, size_t n, uint32_t len)
{
  unsigned slot = (j->head + j->nflight) % WINDOW;
  struct batch *b = &j->flight[slot];
  struct io_uring_sqe *sqe = journal_sqe (j);
  int r;

  *b = (struct batch) { .s = s, .n = n, .segment = j->seg_number,
                        .start = j->tail, .len = len,
                        .first_seq = j->next_seq };
  io_uring_prep_write (sqe, j->seg_fd, s->buf, len, j->tail);
  sqe->rw_flags = RWF_DSYNC;
  io_uring_sqe_set_data64 (sqe, slot + 1);
  s->sent = n;
  j->nflight++;
  j->tail += len;
  atomic_store_explicit (&j->tail_seen, j->tail, memory_order_relaxed);
  j->next_seq += n;
  prep_note_batch (j, len);
  if (journal_batch_fault)
    b->err = journal_batch_fault (b->first_seq, n);
  r = io_uring_submit (&j->ring);
  if (r < 0) {
    /* Not submitted: let it complete as a no-op, failing the batch. */
    io_uring_prep_nop (sqe);
    b->err = r;
  }
}

/* Put the records of s that are not in flight into batches.  False if
 * they have to wait for the batches in flight: the segment is full or
 * sealed, and the next one starts only when they have completed. */
static bool
submit_stage (struct journal *j, struct stage *s)
{
  uint32_t len;
  size_t n;
  int r;

  while (s->sent < s->recs.len) {
    if (s->sent > 0)                /* the part that fit is in flight */
      return false;
    if (j->seg_fd >= 0 && !j->seal && sync_mode_differs (j)) {
      r = sync_remode (j);          /* seals it unless it is empty */
      if (r < 0) {
        batch_finish (j, s, s->recs.len, 0, 0, r);
        return true;
      }
    }
    if (j->seal || j->seg_fd < 0) {
      if (j->nflight > 0 || j->syncing)
        return false;
      if (sync_pending (j)) {       /* the old segment durable first */
        sync_start (j);
        return false;
      }
      r = seg_activate (j);
      if (r < 0) {
        batch_finish (j, s, s->recs.len, 0, 0, r);
        return true;
      }
    }
    n = layout (j, s, &len);
    if (n == 0) {                   /* segment full */
      j->seal = true;
      continue;
    }
    if (j->buffered)
      sync_write_batch (j, s, n, len);
    else
      submit_batch (j, s, n, len);
  }
  return true;
}

/* ---- taking stages ------------------------------------------------------ */

/* With j->lock held: bytes the current stage needs before it is written
 * while other batches are in flight.  With none in flight, any record
 * goes at once; with some, a small batch would only add a device flush,
 * so the stage waits to hold at least PIPELINE_MIN bytes (or half of
 * it, for a small stage): small records keep one batch in flight, and
 * group commit keeps them together. */
static uint32_t
stage_threshold (struct journal *j)
{
  const struct stage *s = &j->stage[j->cur];
  const struct stage *next = &j->stage[(j->cur + 1) % NSTAGE];

  if (j->rest || j->nflight >= WINDOW || next->recs.len > 0)
    return WAKE_NEVER;
  if (j->nflight == 0 || j->closing)
    return 1;
  return PIPELINE_MIN < s->cap / 2 ? PIPELINE_MIN : s->cap / 2;
}

/* With j->lock held: take the current stage for writing, once every
 * copy into it is done; appenders go on in the next one. */
static struct stage *
take_stage (struct journal *j)
{
  struct stage *s = &j->stage[j->cur];

  j->cur = (j->cur + 1) % NSTAGE;
  pthread_cond_broadcast (&j->space);
  while (s->copying > 0)
    pthread_cond_wait (&j->copied, &j->lock);
  return s;
}

void *
journal_thread (void *arg)
{
  struct journal *j = arg;
  struct stage *s;
  uint32_t want;
  int64_t timeout;

  arm_efd (j);
  for (;;) {
    retire (j);
    if (j->sync_done)
      sync_complete (j);
    timeout = sync_poll (j);
    if (j->rest) {
      if (!submit_stage (j, j->rest)) {
        assert (j->nflight > 0 || j->syncing);  /* what it waits for */
        wait_event (j, -1);
        continue;
      }
      j->rest = NULL;
      continue;                     /* what it wrote may be due a sync */
    }
    pthread_mutex_lock (&j->lock);
    s = &j->stage[j->cur];
    want = stage_threshold (j);
    j->wake_bytes = WAKE_NEVER;
    if (s->recs.len > 0 && s->used >= want) {
      s = take_stage (j);
      pthread_mutex_unlock (&j->lock);
      if (!submit_stage (j, s))
        j->rest = s;
      continue;
    }
    if (j->closing && s->recs.len == 0 && j->nflight == 0 &&
        !j->syncing && !sync_pending (j)) {
      pthread_mutex_unlock (&j->lock);
      /* A failed batch's records may have landed past the tail: a new
       * segment's header puts the old one's end before them, so that
       * no reader takes them for records. */
      if (j->failed_tail) {
        atomic_store (&j->sync_ns, 0);
        seg_activate (j);
      }
      break;
    }
    j->wake_bytes = want;
    pthread_mutex_unlock (&j->lock);
    wait_event (j, timeout);
  }
  /* Everything is durable: a clean close leaves no page cache mode. */
  sync_marker (j, false);
  return NULL;
}

void
journal_stats (struct journal *j, struct journal_stats *st)
{
  pthread_mutex_lock (&j->lock);
  *st = j->stats;
  pthread_mutex_unlock (&j->lock);
}
