/* cdp journal: checking every record, reporting all damage found.
 *
 * Unlike iteration, which stops at the first record that does not check
 * out, journal_check goes on past damage: a record whose header is
 * plausible but whose CRC fails is reported and stepped over (its
 * header says how long it is); where no plausible header is found, the
 * scan looks for the next valid record of the segment, 64 bytes at a
 * time, and reports what lies between as damaged.  The end of the last
 * segment is told apart from damage the way journal_verify does (valid
 * first records of as many later batches as its writer had in flight,
 * scan.c), also, in a page cache segment that may be torn, where a
 * record there fails its CRC: the torn tail.
 * Segments are read through a window of a few MiB, sequentially, so the
 * check runs at the speed of the disk (or of the rate asked for).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/crc32c.h"
#include "common/timeutil.h"
#include "journal/internal.h"

struct check {
  struct journal_reader *r;
  const struct journal_check_opts *o;
  journal_check_fn fn;
  void *opaque;
  struct journal_check_stats *st;
  int64_t t0;                       /* time_mono_ns at the start */
  uint64_t expect;                  /* next seq (0: not known) */
  int64_t last_time;                /* of the last valid record */
  int stop;                         /* fn's non-zero return */
};

static bool
stopped (struct check *c)
{
  return c->stop != 0 || (c->o->stop && atomic_load (c->o->stop));
}

static bool
in_range (const struct check *c, uint64_t seq)
{
  return seq >= c->o->from_seq && (c->o->to_seq == 0 || seq <= c->o->to_seq);
}

static void
report (struct check *c, const struct journal_damage *d)
{
  c->st->damaged++;
  if (c->stop == 0)
    c->stop = c->fn (c->opaque, NULL, d);
}

/* Damage whose record cannot be told: [pos, end) of segment number. */
static void
report_unreadable (struct check *c, uint64_t number, uint32_t pos,
                   uint32_t end)
{
  struct journal_damage d = {
    .loc = { number, pos }, .seq = c->expect, .time_ns = c->last_time,
    .end = end, .header_damaged = true,
  };

  if (c->expect == 0 || in_range (c, c->expect))
    report (c, &d);
}

/* The next offset after pos, up to limit, where a valid record (a
 * padding one, or one with seq >= the one expected) begins; limit if
 * none. */
static int
resync (struct check *c, struct seg_window *w, uint64_t number, uint32_t pos,
        uint32_t limit, uint32_t *next)
{
  struct rec_hdr h;
  const uint8_t *payload;
  int r;

  for (pos += REC_ALIGN; (uint64_t) pos + REC_HDR_SIZE <= limit;
       pos += REC_ALIGN) {
    r = win_record (w, number, pos, limit, &h, &payload);
    if (r < 0)
      return r;
    if (r == 1 && (h.type == REC_PAD || h.seq >= c->expect)) {
      *next = pos;
      return 0;
    }
  }
  *next = limit;
  return 0;
}

/* Do the last segment's records end at pos, an invalid record there
 * being its torn tail (1), or do valid batches follow, making it damage
 * (0)?  -errno. */
static int
tail_at (struct check *c, struct seg_window *w, int fd, uint64_t number,
         uint32_t pos, uint32_t size)
{
  struct seg_hdr sh;
  uint32_t found, want;
  int e = seg_read_hdr (fd, &sh);

  if (e < 0)
    return e;
  want = seg_tail_window (&sh,
                          sync_marker_present (journal_reader_dirfd (c->r)));
  e = later_batches (w, number, pos, 512, size, want, &found);
  return e < 0 ? e : (uint32_t) e < want;
}

/* Is the last segment one written through the page cache that a host
 * going down may have left torn (its marker is there)?  Writeback may
 * then have landed a record's header and not its payload.  An O_DIRECT
 * segment's record that fails its check is reported: it may have been
 * acknowledged, and nothing in the journal says otherwise. */
static bool
torn_payload_possible (struct check *c, int fd)
{
  struct seg_hdr sh;

  return seg_read_hdr (fd, &sh) == 0 &&
         sh.inflight == SEG_INFLIGHT_BUFFERED &&
         sync_marker_present (journal_reader_dirfd (c->r));
}

/* The scan of the last segment stopped at pos: its end, or damage? */
static int
last_end (struct check *c, struct seg_window *w, int fd, uint64_t number,
          uint32_t pos, uint32_t size, uint32_t *next)
{
  int e = tail_at (c, w, fd, number, pos, size);

  *next = size;
  if (e != 0)
    return e < 0 ? e : 0;           /* the end of the records */
  e = resync (c, w, number, pos, size, next);
  if (e == 0)
    report_unreadable (c, number, pos, *next);
  return e;
}

static bool
record_ok (const struct rec_hdr *h, const uint8_t *p)
{
  if (h->type == REC_PAD)                   /* its padding is not covered */
    return rec_crc (h, 0) == h->crc;
  return rec_crc (h, crc32c (p + REC_HDR_SIZE, h->payload_len)) == h->crc;
}

/* Check the record at pos (a plausible header h); advance *pos. */
static void
check_record (struct check *c, uint64_t number,
              uint32_t *pos, const struct rec_hdr *h, bool ok)
{
  uint32_t size = rec_disk_size (h->payload_len);
  struct journal_record rec;

  c->st->bytes += size;
  if (h->type != REC_PAD && in_range (c, h->seq)) {
    if (ok) {
      c->st->records++;
      rec_to_record (h, number, *pos, &rec);
      if (c->stop == 0)
        c->stop = c->fn (c->opaque, &rec, NULL);
    }
    else {
      struct journal_damage d = {
        .loc = { number, *pos }, .seq = h->seq, .time_ns = h->time_ns,
        .disk = h->disk, .offset = h->offset, .length = h->length,
        .end = *pos + size,
      };
      report (c, &d);
    }
  }
  else if (h->type == REC_PAD && !ok)
    report_unreadable (c, number, *pos, *pos + size);
  if (h->type != REC_PAD) {
    c->expect = h->seq + 1;
    if (ok)
      c->last_time = h->time_ns;
  }
  *pos += size;
}

/* Check the records of segment i of segs, up to limit (the next
 * segment's prev_end, or the file's end for the last one). */
static int
check_segment (struct check *c, const seg_vector *segs, size_t i)
{
  uint64_t number = segs->ptr[i].number;
  bool last = i + 1 == segs->len;
  struct seg_window w;
  struct rec_hdr h;
  const uint8_t *p;
  uint32_t pos = SEG_HDR_SIZE, limit, next;
  off_t size;
  int fd, e = 0;
  CLEANUP_FREE char *name = seg_name (number);

  if (name == NULL)
    return -ENOMEM;
  fd = openat (journal_reader_dirfd (c->r), name, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : -errno;    /* reclaimed meanwhile */
  size = lseek (fd, 0, SEEK_END);
  limit = last ? (size > UINT32_MAX ? UINT32_MAX : (uint32_t) size)
               : segs->ptr[i + 1].prev_end;
  posix_fadvise (fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  win_init (&w, fd);
  c->expect = segs->ptr[i].first_seq;
  while (e == 0 && !stopped (c) && (uint64_t) pos + REC_HDR_SIZE <= limit) {
    if (c->o->to_seq && c->expect > c->o->to_seq)
      break;
    e = win_get (&w, pos, REC_HDR_SIZE, &p);
    if (e < 0)
      break;
    if (e == 1)
      memcpy (&h, p, sizeof h);
    if (e == 1 && rec_hdr_plausible (&h, number, pos, limit))
      e = win_get (&w, pos, REC_HDR_SIZE + (size_t) h.payload_len, &p);
    else
      e = 0;
    if (e == 1) {
      bool ok = record_ok (&h, p);
      /* In the last page cache segment, a record that fails its check
       * may be the torn tail, as when journal_verify's scan stops there. */
      if (!ok && last && torn_payload_possible (c, fd) &&
          (e = tail_at (c, &w, fd, number, pos, limit)) != 0) {
        if (e > 0) {
          pos = limit;
          e = 0;
        }
        continue;
      }
      check_record (c, number, &pos, &h, ok);
      e = 0;
      time_pace (c->t0, c->st->bytes, c->o->rate);
      continue;
    }
    if (e < 0)
      break;
    if (last)
      e = last_end (c, &w, fd, number, pos, limit, &next);
    else if ((e = resync (c, &w, number, pos, limit, &next)) == 0)
      report_unreadable (c, number, pos, next);
    pos = next;
  }
  win_free (&w);
  close (fd);
  return e;
}

int
journal_check (struct journal_reader *r, const struct journal_check_opts *o,
               journal_check_fn fn, void *opaque,
               struct journal_check_stats *st)
{
  struct check c = { .r = r, .o = o, .fn = fn, .opaque = opaque, .st = st };
  seg_vector segs = empty_vector;
  int e;

  memset (st, 0, sizeof *st);
  c.t0 = time_mono_ns ();
  e = journal_reader_segments (r, &segs);
  for (size_t i = 0; e == 0 && i < segs.len && !stopped (&c); i++) {
    if (i + 1 < segs.len && segs.ptr[i + 1].first_seq <= o->from_seq)
      continue;                     /* every record of it is older */
    if (o->to_seq && segs.ptr[i].first_seq > o->to_seq)
      break;
    if (i > 0 && c.expect && segs.ptr[i].first_seq != c.expect) {
      struct journal_damage d = {
        .loc = { segs.ptr[i].number, SEG_HDR_SIZE }, .seq = c.expect,
        .time_ns = c.last_time, .end = SEG_HDR_SIZE, .header_damaged = true,
      };
      report (&c, &d);
    }
    e = check_segment (&c, &segs, i);
    st->segments++;
  }
  seg_vector_reset (&segs);
  return e;
}
