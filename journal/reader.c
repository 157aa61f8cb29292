/* cdp journal: readers, in this process or any other.
 *
 * A reader lists the segments and opens them read-only on demand.  It
 * trusts nothing it reads: every record's CRC is checked while
 * iterating, every segment but the last must be valid up to the end its
 * successor's header names, and sequence numbers must run on without a
 * hole across segments.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "journal/internal.h"

struct seg_fd {
  uint64_t number;
  int fd;
  unsigned refs;                    /* users right now */
  bool gone;                        /* no longer listed: close when unused */
};
DEFINE_VECTOR_TYPE (seg_fd_vector, struct seg_fd)

struct journal_reader {
  int dirfd;
  pthread_mutex_t lock;
  seg_vector segs;
  seg_fd_vector fds;                /* open segments, reference counted */
  uint8_t uuid[16];
  bool have_uuid;
  struct vcache cache;              /* checked payloads (vread.c) */
};

int
journal_reader_open (const char *dir, struct journal_reader **rp)
{
  struct journal_reader *r = calloc (1, sizeof *r);
  int e;

  clear_last_error ();
  if (r == NULL)
    return -ENOMEM;
  pthread_mutex_init (&r->lock, NULL);
  vc_init (&r->cache, VCACHE_DEFAULT);
  r->dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (r->dirfd < 0) {
    e = -errno;
    journal_reader_close (r);
    return e;
  }
  e = journal_reader_refresh (r);
  if (e < 0) {
    journal_reader_close (r);
    return e;
  }
  *rp = r;
  return 0;
}

void
journal_reader_close (struct journal_reader *r)
{
  if (r == NULL)
    return;
  for (size_t i = 0; i < r->fds.len; i++)
    close (r->fds.ptr[i].fd);
  seg_fd_vector_reset (&r->fds);
  seg_vector_reset (&r->segs);
  vc_destroy (&r->cache);
  if (r->dirfd >= 0)
    close (r->dirfd);
  pthread_mutex_destroy (&r->lock);
  free (r);
}

static void drop_unused (struct journal_reader *r);

/* Is segment number in the list (a seg_vector)? */
static bool
listed (void *opaque, uint64_t number)
{
  const seg_vector *segs = opaque;

  for (size_t k = 0; k < segs->len; k++)
    if (segs->ptr[k].number == number)
      return true;
  return false;
}

int
journal_reader_refresh (struct journal_reader *r)
{
  seg_vector segs = empty_vector;
  int e;

  e = seg_list (r->dirfd, &segs, r->uuid, &r->have_uuid);
  if (e < 0) {
    seg_vector_reset (&segs);
    return e;
  }
  pthread_mutex_lock (&r->lock);
  seg_vector_reset (&r->segs);
  r->segs = segs;
  /* Reclaimed segments: close their files (once nobody reads them), so
   * that their space is really given back. */
  for (size_t i = 0; i < r->fds.len; i++) {
    bool listed = false;
    for (size_t k = 0; k < r->segs.len && !listed; k++)
      listed = r->segs.ptr[k].number == r->fds.ptr[i].number;
    r->fds.ptr[i].gone = !listed;
  }
  drop_unused (r);
  vc_drop_segments (&r->cache, listed, &r->segs);  /* lock order: r, cache */
  pthread_mutex_unlock (&r->lock);
  return 0;
}

int
journal_reader_dirfd (struct journal_reader *r)
{
  return r->dirfd;
}

int
journal_reader_segments (struct journal_reader *r, seg_vector *segs)
{
  int e = journal_reader_refresh (r);

  if (e < 0)
    return e;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&r->lock);
  segs->len = 0;
  e = seg_vector_reserve (segs, r->segs.len);
  if (e < 0)
    return e;
  if (r->segs.len > 0)
    memcpy (segs->ptr, r->segs.ptr, r->segs.len * sizeof *r->segs.ptr);
  segs->len = r->segs.len;
  return 0;
}

void
journal_reader_cache_limit (struct journal_reader *r, size_t bytes)
{
  pthread_mutex_lock (&r->cache.lock);
  r->cache.budget = bytes;
  pthread_mutex_unlock (&r->cache.lock);
}

uint64_t
journal_reader_first_seq (struct journal_reader *r)
{
  uint64_t s;

  pthread_mutex_lock (&r->lock);
  s = r->segs.len ? r->segs.ptr[0].first_seq : 0;
  pthread_mutex_unlock (&r->lock);
  return s;
}

/* With r->lock held: close the files of reclaimed segments nobody uses. */
static void
drop_unused (struct journal_reader *r)
{
  for (size_t i = 0; i < r->fds.len;)
    if (r->fds.ptr[i].gone && r->fds.ptr[i].refs == 0) {
      close (r->fds.ptr[i].fd);
      seg_fd_vector_remove (&r->fds, i);
    }
    else
      i++;
}

/* The reader's fd for a segment (opened on first use), with a reference
 * that reader_put gives back; -errno. */
static int
reader_fd (struct journal_reader *r, uint64_t number)
{
  CLEANUP_FREE char *name = seg_name (number);
  int fd;

  if (name == NULL)
    return -ENOMEM;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&r->lock);
  for (size_t i = 0; i < r->fds.len; i++)
    if (r->fds.ptr[i].number == number) {
      r->fds.ptr[i].refs++;
      return r->fds.ptr[i].fd;
    }
  fd = openat (r->dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? -ESTALE : -errno;
  if (seg_fd_vector_append (&r->fds, (struct seg_fd) { number, fd, 1, false }) < 0) {
    close (fd);
    return -ENOMEM;
  }
  return fd;
}

static void
reader_put (struct journal_reader *r, uint64_t number)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&r->lock);
  for (size_t i = 0; i < r->fds.len; i++)
    if (r->fds.ptr[i].number == number && r->fds.ptr[i].refs > 0) {
      r->fds.ptr[i].refs--;
      break;
    }
  drop_unused (r);
}

static int
read_record_fd (int fd, struct journal_loc loc, struct journal_record *rec,
                void *payload)
{
  struct rec_hdr h;
  int e = seg_read_record (fd, loc.segment, loc.offset, UINT32_MAX, &h, payload);

  if (e < 0)
    return e;
  if (e == 0 || h.type == REC_PAD)
    return seg_stale_or_corrupt (fd, loc.segment, loc.offset);
  rec_to_record (&h, loc.segment, loc.offset, rec);
  return 0;
}

int
journal_read_record (struct journal_reader *r, struct journal_loc loc,
                     struct journal_record *rec, void *payload)
{
  int fd = reader_fd (r, loc.segment), e;

  if (fd < 0)
    return fd;
  e = read_record_fd (fd, loc, rec, payload);
  reader_put (r, loc.segment);
  return e;
}

int
journal_pread_payload (struct journal_reader *r, struct journal_loc loc,
                       uint32_t off, void *buf, uint32_t len)
{
  int fd, e;

  clear_last_damage ();
  fd = reader_fd (r, loc.segment);
  if (fd < 0)
    return fd;
  e = vc_pread (&r->cache, fd, loc, off, buf, len);
  reader_put (r, loc.segment);
  return e;
}

/* ---- iteration --------------------------------------------------------- */

struct journal_iter {
  struct journal_reader *r;
  seg_vector segs;                  /* snapshot, refreshed at the end */
  size_t i;                         /* current segment */
  int fd;                           /* the reader's, not ours */
  struct seg_window w;
  uint32_t pos;
  uint64_t expect;                  /* next seq, or 0 before the first */
  uint64_t from;
  bool thorough;                    /* journal_verify: check the tail too */
  uint64_t held;                    /* segment whose fd it holds */
};

static int
snapshot (struct journal_iter *it)
{
  struct journal_reader *r = it->r;
  int e;

  e = journal_reader_refresh (r);
  if (e < 0)
    return e;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&r->lock);
  it->segs.len = 0;
  e = seg_vector_reserve (&it->segs, r->segs.len);
  if (e < 0)
    return e;
  if (r->segs.len > 0)
    memcpy (it->segs.ptr, r->segs.ptr, r->segs.len * sizeof *r->segs.ptr);
  it->segs.len = r->segs.len;
  return 0;
}

static int
enter_segment (struct journal_iter *it, size_t i)
{
  int fd = reader_fd (it->r, it->segs.ptr[i].number);

  if (fd < 0)
    return fd;
  if (it->fd >= 0)
    reader_put (it->r, it->held);
  it->held = it->segs.ptr[i].number;
  win_free (&it->w);
  win_init (&it->w, fd);
  it->fd = fd;
  it->i = i;
  it->pos = SEG_HDR_SIZE;
  return 0;
}

/* Start after the record at hint if it is record from - 1 of the
 * current segment. */
static void
skip_to_hint (struct journal_iter *it, uint64_t from, struct journal_loc hint)
{
  struct rec_hdr h;

  if (from < 2 || hint.segment != it->segs.ptr[it->i].number ||
      hint.offset < SEG_HDR_SIZE)
    return;
  if (seg_read_record (it->fd, hint.segment, hint.offset, UINT32_MAX, &h,
                       NULL) != 1 || h.type == REC_PAD || h.seq != from - 1)
    return;
  it->pos = hint.offset + rec_disk_size (h.payload_len);
  it->expect = from;
}

int
journal_iter_new_at (struct journal_reader *r, uint64_t from,
                     struct journal_loc hint, struct journal_iter **itp)
{
  int e = journal_iter_new (r, from, itp);

  if (e == 0 && (*itp)->fd >= 0)
    skip_to_hint (*itp, from, hint);
  return e;
}

int
journal_iter_new (struct journal_reader *r, uint64_t from,
                  struct journal_iter **itp)
{
  struct journal_iter *it = calloc (1, sizeof *it);
  size_t i = 0;
  int e;

  if (it == NULL)
    return -ENOMEM;
  it->r = r;
  it->from = from;
  it->fd = -1;
  e = snapshot (it);
  if (e == 0 && it->segs.len > 0) {
    while (i + 1 < it->segs.len && it->segs.ptr[i + 1].first_seq <= from)
      i++;
    it->expect = it->segs.ptr[i].first_seq;
    e = enter_segment (it, i);
  }
  if (e < 0) {
    journal_iter_free (it);
    return e;
  }
  *itp = it;
  return 0;
}

void
journal_iter_free (struct journal_iter *it)
{
  if (it == NULL)
    return;
  if (it->fd >= 0)
    reader_put (it->r, it->held);
  win_free (&it->w);
  seg_vector_reset (&it->segs);
  free (it);
}

/* The last segment ends at it->pos: a tail, or damage before as many
 * later batches as its writer had in flight (scan.c)?  Only
 * journal_verify asks: it reads the rest of the segment.  A writer still
 * appending has fewer than that in flight, so this holds while it runs. */
static int
check_tail (struct journal_iter *it, uint64_t number)
{
  off_t size = lseek (it->fd, 0, SEEK_END);
  struct seg_hdr h;
  uint32_t found, want;
  int e;

  if (size < 0)
    return -errno;
  e = seg_read_hdr (it->fd, &h);
  if (e < 0)
    return e == -EUCLEAN ? seg_stale_or_corrupt (it->fd, number, 0) : e;
  want = seg_tail_window (&h, sync_marker_present (it->r->dirfd));
  e = later_batches (&it->w, number, it->pos, 512,
                     size > UINT32_MAX ? UINT32_MAX : (uint32_t) size,
                     want, &found);
  if (e < 0)
    return e;
  if ((uint32_t) e < want)
    return 0;
  return set_last_error (-EUCLEAN, "segment %" PRIu64 " offset %" PRIu32
                         ": invalid record before valid records of %" PRIu32
                         " later batches (the last at %" PRIu32 ")",
                         number, it->pos, want, found);
}

/* The scan of segment i stopped at it->pos: the end, the next segment,
 * or damage?  Returns 1 to go on, 0 at the end, -errno. */
static int
segment_end (struct journal_iter *it)
{
  const struct seg_info *next;
  uint64_t number = it->segs.ptr[it->i].number;
  int e;

  if (it->i + 1 == it->segs.len) {
    e = snapshot (it);              /* has the writer moved on? */
    if (e < 0)
      return e;
    if (it->i + 1 >= it->segs.len) {
      if (it->thorough)
        return check_tail (it, number);
      it->w.len = 0;                /* reread when asked again */
      return 0;
    }
    /* The writer moved on since the window was read: past the records
     * durable then, it showed what the file held before.  Read again. */
    it->w.len = 0;
    return 1;
  }
  next = &it->segs.ptr[it->i + 1];
  if (it->pos < next->prev_end)
    return seg_stale_or_corrupt (it->fd, number, it->pos);
  if (next->first_seq != it->expect) {
    return set_last_error (-EUCLEAN, "segment %" PRIu64 ": sequence runs "
                           "on at %" PRIu64 ", expected %" PRIu64,
                           next->number, next->first_seq, it->expect);
  }
  e = enter_segment (it, it->i + 1);
  return e < 0 ? e : 1;
}

int
journal_iter_next (struct journal_iter *it, struct journal_record *rec)
{
  struct rec_hdr h;
  const uint8_t *payload;
  uint32_t limit;
  int e;

  while (it->fd >= 0) {
    limit = it->i + 1 < it->segs.len ? it->segs.ptr[it->i + 1].prev_end
                                     : UINT32_MAX;
    e = win_record (&it->w, it->segs.ptr[it->i].number, it->pos, limit,
                    &h, &payload);
    if (e < 0)
      return e;
    if (e == 1 && h.type != REC_PAD && h.seq != it->expect)
      e = 0;
    if (e == 0) {
      e = segment_end (it);
      if (e <= 0)
        return e;
      continue;
    }
    it->pos += rec_disk_size (h.payload_len);
    if (h.type == REC_PAD)
      continue;
    it->expect = h.seq + 1;
    if (h.seq < it->from)
      continue;
    rec_to_record (&h, it->segs.ptr[it->i].number,
                   it->pos - rec_disk_size (h.payload_len), rec);
    return 1;
  }
  return 0;
}

/* Start the iterator in the newest segment whose first record is older
 * than t: every record before that segment is older still. */
static int
find_time_segment (struct journal_iter *it, int64_t t)
{
  struct rec_hdr h;
  int fd, e;

  for (size_t i = it->segs.len; i-- > 1;) {
    uint64_t number = it->segs.ptr[i].number;
    fd = reader_fd (it->r, number);
    if (fd < 0)
      return fd;
    e = seg_read_record (fd, number, SEG_HDR_SIZE, UINT32_MAX, &h, NULL);
    reader_put (it->r, number);
    if (e < 0)
      return e;
    if (e == 1 && h.type != REC_PAD && h.time_ns < t) {
      it->expect = it->segs.ptr[i].first_seq;
      return enter_segment (it, i);
    }
  }
  return 0;
}

int
journal_find_time (struct journal_reader *r, int64_t t, uint64_t *seq)
{
  struct journal_iter *it;
  struct journal_record rec;
  int e;

  e = journal_iter_new (r, 0, &it);
  if (e < 0)
    return e;
  /* Skip whole segments whose successor starts before t. */
  e = find_time_segment (it, t);
  while (e >= 0 && (e = journal_iter_next (it, &rec)) == 1)
    if (rec.time_ns >= t)
      break;
  if (e >= 0)
    *seq = e == 1 ? rec.seq : it->expect;
  journal_iter_free (it);
  return e < 0 ? e : 0;
}

int64_t
journal_verify (struct journal_reader *r)
{
  struct journal_iter *it;
  struct journal_record rec;
  int64_t n = 0;
  int e;

  e = journal_iter_new (r, 0, &it);
  if (e < 0)
    return e;
  it->thorough = true;
  while ((e = journal_iter_next (it, &rec)) == 1)
    n++;
  journal_iter_free (it);
  return e < 0 ? e : n;
}
