/* cdp journal: appending — reserving a place in the stage and copying.
 *
 * Under j->lock an appender only reserves: it waits for room in the
 * current stage, stamps the time, fills the header, queues the pending
 * entry and counts a copy in progress on the stage.  Time order is
 * therefore stage order, which the journal thread turns into sequence
 * order.  The payload is copied (and its CRC computed on the way) after
 * the lock is dropped; the journal thread takes a stage only once its
 * copies are done.  So appenders copying large records in parallel never
 * hold the lock for longer than a few stores.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/timeutil.h"
#include "journal/internal.h"

#define COPY_CHUNK (64u << 10)          /* CRC then copy, in cache-sized bits */

/* What validate_record lets through in a segment of this size, with
 * the largest batch alignment (4096). */
uint32_t
journal_record_limit (uint32_t segment_size)
{
  uint32_t room;

  if (segment_size < SEG_HDR_SIZE + 4096 + REC_HDR_SIZE)
    return 0;
  room = (segment_size - SEG_HDR_SIZE - 4096 - REC_HDR_SIZE) & ~(REC_ALIGN - 1);
  return room < JOURNAL_MAX_PAYLOAD ? room : JOURNAL_MAX_PAYLOAD;
}

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
  if (SEG_HDR_SIZE + rec_disk_size (e->payload_len) +
      __atomic_load_n (&j->align, __ATOMIC_RELAXED) > j->opts.segment_size)
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
      assert (s->copying == 0);
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

/* With j->lock held: the header of e at the end of s, stamped now. */
static struct rec_hdr *
reserve_record (struct journal *j, struct stage *s,
                const struct journal_record *e, uint32_t size,
                journal_done_fn done, void *opaque)
{
  struct rec_hdr *h = (struct rec_hdr *) (s->buf + s->used);

  memset (h, 0, sizeof *h);
  h->magic = REC_MAGIC;
  h->time_ns = time_now_ns ();
  if (h->time_ns < j->last_time)    /* the clock stepped back */
    h->time_ns = j->last_time;
  j->last_time = h->time_ns;
  h->type = e->type;
  h->flags = e->flags;
  h->disk = e->disk;
  h->offset = e->offset;
  h->length = e->length;
  h->payload_len = e->payload_len;
  s->recs.ptr[s->recs.len++] = (struct pending) {
    .pos = s->used, .size = size, .done = done, .opaque = opaque };
  s->used += size;
  s->copying++;
  j->appended++;
  return h;
}

/* Copy len bytes and return their CRC32C, reading each piece of src
 * twice while it is still in cache instead of all of it twice. */
static uint32_t
copy_crc (uint8_t *dst, const uint8_t *src, uint32_t len)
{
  uint32_t crc = 0, n;

  for (uint32_t off = 0; off < len; off += n) {
    n = len - off < COPY_CHUNK ? len - off : COPY_CHUNK;
    crc = crc32c_extend (crc, src + off, n);
    memcpy (dst + off, src + off, n);
  }
  return crc;
}

void
journal_wake_thread (struct journal *j)
{
  uint64_t one = 1;

  if (write (j->efd, &one, sizeof one) < 0)
    abort ();                       /* an eventfd write cannot fail here */
}

/* With j->lock held: one copy into s is done.  True if the journal
 * thread waits for the current stage to hold this much. */
static bool
copy_done (struct journal *j, struct stage *s)
{
  assert (s->copying > 0);
  s->copying--;
  if (s != &j->stage[j->cur]) {     /* taken: the thread waits for copies */
    if (s->copying == 0)
      pthread_cond_signal (&j->copied);
    return false;
  }
  if (s->used < j->wake_bytes)
    return false;
  j->wake_bytes = WAKE_NEVER;
  return true;
}

int
journal_append (struct journal *j, const struct journal_record *e,
                const void *payload, journal_done_fn done, void *opaque)
{
  uint32_t size, pad;
  struct stage *s;
  struct rec_hdr *h;
  bool wake;
  int r;

  r = validate_record (j, e, payload);
  if (r < 0)
    return r;
  size = rec_disk_size (e->payload_len);
  pthread_mutex_lock (&j->lock);
  r = stage_reserve (j, size, &s);
  if (r < 0) {
    pthread_mutex_unlock (&j->lock);
    return r;
  }
  h = reserve_record (j, s, e, size, done, opaque);
  pthread_mutex_unlock (&j->lock);

  /* The place is ours: neither moved nor read until copy_done. */
  h->crc = copy_crc ((uint8_t *) (h + 1), payload, e->payload_len);
  pad = size - REC_HDR_SIZE - e->payload_len;
  memset ((uint8_t *) (h + 1) + e->payload_len, 0, pad);

  pthread_mutex_lock (&j->lock);
  wake = copy_done (j, s);
  pthread_mutex_unlock (&j->lock);
  if (wake)
    journal_wake_thread (j);
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
