/* cdp: the second points of a disk over a range, in one walk of the
 * index's seconds (what view_resolve decides for each of them). */
#include <errno.h>
#include <stdlib.h>

#include "cdp/task/task.h"

#define NS 1000000000LL

DEFINE_VECTOR_TYPE (seq_vector, uint64_t)
DEFINE_VECTOR_TYPE (time_vector, int64_t)
DEFINE_VECTOR_TYPE (event_vector, struct index_event)

/* view_resolve at T, the end of a second, turns on the point's seq
 * s = index_seq_at (T) only through comparisons with a few seqs (the
 * bounds): whether the journal covers s (s >= the disk's oldest base
 * point a read may start from) and where s lies among the disk's gaps
 * and resumes.  The seconds database gives the last seq of each second
 * that changed the disk; s lies between it and the next one's, so the
 * index is asked for s only where a bound lies in between.  Times that
 * view_resolve treats apart (those of locks, bookmarks and the disk's
 * base points) go to view_resolve itself. */
struct sec_walk {
  struct task_view *v;
  const struct task_disk *d;
  int64_t to;                   /* no point after it (--to, now) */
  bool cover_all;               /* the journal covers every seq */
  uint64_t cover_from;          /* ... or every seq from this one */
  seq_vector bounds;            /* sorted */
  size_t bi;                    /* first bound above the last second's seq */
  event_vector evs;             /* gaps and resumes of d, by seq */
  time_vector special;          /* sorted */
  bool pending;                 /* a second waits for the next one's seq */
  int64_t sec;
  uint64_t seq;
  bool stopped;                 /* fn said stop, or past to */
  view_second_fn fn;
  void *opaque;
};

static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

  return (x > y) - (x < y);
}

static int
cmp_i64 (const void *a, const void *b)
{
  int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

  return (x > y) - (x < y);
}

static int
gather_event (void *opaque, const struct index_event *e)
{
  struct sec_walk *w = opaque;

  if (e->type == JOURNAL_BOOKMARK &&
      time_vector_append (&w->special, e->time_ns) < 0)
    return -ENOMEM;
  if (e->disk != w->d->id ||
      (e->type != JOURNAL_GAP && e->type != JOURNAL_RESUME))
    return 0;
  if (event_vector_append (&w->evs, *e) < 0 ||
      seq_vector_append (&w->bounds, e->seq) < 0)
    return -ENOMEM;
  return 0;
}

/* What view_resolve reads besides the index's seconds: the locks, the
 * bookmarks, the base points, where the journal begins. */
static int
gather (struct sec_walk *w)
{
  const lock_vector *locks = view_locks (w->v);
  const base_vector *bps = &w->v->cat.v;
  uint64_t first = journal_reader_first_seq (w->v->jr);
  uint64_t ifirst = index_first_seq (w->v->ix);
  int r;

  if (w->v->locks_err < 0)
    return w->v->locks_err;
  if ((r = index_events (w->v->ix, 0, UINT64_MAX, gather_event, w)) < 0)
    return r;
  for (size_t i = 0; i < locks->len; i++)
    if (time_vector_append (&w->special, locks->ptr[i].time_ns) < 0)
      return -ENOMEM;
  if (ifirst > first)
    first = ifirst;
  /* journal_covers (view.c): the newest base point at or before s is
   * at first - 1 or later, or first <= 1. */
  w->cover_all = first <= 1;
  w->cover_from = UINT64_MAX;
  for (size_t i = 0; i < bps->len; i++) {
    const struct base_point *bp = &bps->ptr[i];
    if (bp->disk != w->d->id)
      continue;
    if (time_vector_append (&w->special, bp->time_ns) < 0)
      return -ENOMEM;
    if (!w->cover_all && bp->seq + 1 >= first && bp->seq < w->cover_from)
      w->cover_from = bp->seq;
  }
  if (!w->cover_all && w->cover_from != UINT64_MAX &&
      seq_vector_append (&w->bounds, w->cover_from) < 0)
    return -ENOMEM;
  if (w->bounds.len > 1)
    qsort (w->bounds.ptr, w->bounds.len, sizeof w->bounds.ptr[0], cmp_u64);
  if (w->special.len > 1)
    qsort (w->special.ptr, w->special.len, sizeof w->special.ptr[0], cmp_i64);
  return 0;
}

static bool
is_special (const struct sec_walk *w, int64_t t)
{
  size_t lo = 0, hi = w->special.len;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (w->special.ptr[mid] < t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < w->special.len && w->special.ptr[lo] == t;
}

/* index_faithful for the events gathered. */
static bool
faithful (const struct sec_walk *w, uint64_t s, int64_t t)
{
  size_t lo = 0, hi = w->evs.len;

  while (lo < hi) {             /* the first event after s */
    size_t mid = lo + (hi - lo) / 2;
    if (w->evs.ptr[mid].seq <= s)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo > 0 && w->evs.ptr[lo - 1].type != JOURNAL_RESUME)
    return false;
  return !(lo < w->evs.len && w->evs.ptr[lo].type == JOURNAL_GAP &&
           w->evs.ptr[lo].time_ns <= t);
}

/* Is the end of second sec, whose last change of the disk is seq and
 * the next second's is next, a point? */
static int
is_point (struct sec_walk *w, int64_t t, uint64_t seq, uint64_t next,
          bool *point)
{
  uint64_t s = seq;
  int r;

  if (is_special (w, t)) {
    r = view_resolve (w->v, w->d, t, &s);
    *point = r == VIEW_POINT;
    return r < 0 ? r : 0;
  }
  while (w->bi < w->bounds.len && w->bounds.ptr[w->bi] <= seq)
    w->bi++;
  if (w->bi < w->bounds.len && w->bounds.ptr[w->bi] < next &&
      (r = index_seq_at (w->v->ix, t, &s, NULL)) < 0)
    return r;
  /* No base point of the disk is at t (t is not special): a seq the
   * journal does not cover is no point. */
  *point = (w->cover_all || s >= w->cover_from) && s >= w->d->added_seq &&
           faithful (w, s, t);
  return 0;
}

/* Decide the second waiting, now that the next one's seq is known. */
static int
flush_pending (struct sec_walk *w, uint64_t next)
{
  int64_t t;
  bool point;
  int r;

  if (!w->pending)
    return 0;
  w->pending = false;
  t = (w->sec + 1) * NS - 1;
  if (t > w->to) {
    w->stopped = true;
    return 1;
  }
  if ((r = is_point (w, t, w->seq, next, &point)) < 0)
    return r;
  if (point && (r = w->fn (w->opaque, t, w->seq)) != 0) {
    w->stopped = true;
    return r;
  }
  return 0;
}

static int
second_cb (void *opaque, int64_t sec, uint64_t seq)
{
  struct sec_walk *w = opaque;
  int r = flush_pending (w, seq);

  if (r != 0)
    return r;
  w->pending = true;
  w->sec = sec;
  w->seq = seq;
  return 0;
}

int
view_seconds (struct task_view *v, const struct task_disk *d, int64_t from,
              int64_t to, int64_t now, view_second_fn fn, void *opaque)
{
  struct sec_walk w = { .v = v, .d = d, .to = to < now ? to : now,
                        .bounds = empty_vector, .evs = empty_vector,
                        .special = empty_vector, .fn = fn,
                        .opaque = opaque };
  int r;

  if (from < 0)
    from = 0;
  if (from > w.to)
    return 0;
  r = gather (&w);
  if (r == 0)
    r = index_seconds (v->ix, d->id, from, w.to, second_cb, &w);
  if (r == 0 && !w.stopped)
    r = flush_pending (&w, UINT64_MAX);
  seq_vector_reset (&w.bounds);
  event_vector_reset (&w.evs);
  time_vector_reset (&w.special);
  return r < 0 ? r : 0;
}
