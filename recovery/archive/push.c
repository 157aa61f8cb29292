/* cdp archive: pushing a point.
 *
 * Order (archive.h): the lease; every chunk, in parallel — read (a chunk
 * all hole, or all zero bytes, is a zero chunk: not stored), hash, then
 * touch it when it exists or compress and put it when it does not; if
 * the lease went stale, every chunk touched again; once no collection
 * runs, every chunk checked again if one ran meanwhile (gc.c); the
 * index last.  A crash before the index leaves chunks and no point: the
 * next push of the same point touches them instead of putting them. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/timeutil.h"
#include "recovery/archive/archive-internal.h"

/* The chunks this push has done (or is doing): open addressing. */
struct sumset {
  uint8_t (*sums)[32];
  bool *used;
  size_t cap;                       /* a power of 2 */
};

/* A pass over the chunks: the first reads and hashes them; later ones
 * know their sums and only touch (or stat) them, reading again those
 * that are gone. */
enum mode { PASS_READ, PASS_TOUCH, PASS_STAT };

struct push {
  struct archive *a;
  enum mode mode;
  const struct archive_push *o;
  struct archive_point *pt;
  uint64_t *first;                  /* the first global chunk of each disk */
  uint64_t nchunks;                 /* of all disks */
  atomic_uint_fast64_t next;        /* the next global chunk to do */
  pthread_mutex_t lock;
  pthread_cond_t cond;              /* a chunk done, or a worker ended */
  struct sumset done;
  unsigned running;
  bool stop;
  int err;                          /* the first failure */
  struct cdp_saved_error errmsg;
  uint64_t done_bytes;
  int64_t pace_start;
  uint64_t put_bytes;
  struct archive_push_stats st;
};

static int
sumset_init (struct sumset *s, uint64_t n)
{
  size_t cap = 64;

  while (cap < 2 * n && cap < SIZE_MAX / 64)
    cap *= 2;
  s->sums = malloc (cap * 32);
  s->used = calloc (cap, 1);
  s->cap = cap;
  return s->sums && s->used ? 0 : -ENOMEM;
}

static void
sumset_free (struct sumset *s)
{
  free (s->sums);
  free (s->used);
}

/* Add sum; false when it was there already. */
static bool
sumset_claim (struct sumset *s, const uint8_t sum[32])
{
  size_t h;

  memcpy (&h, sum, sizeof h);
  for (h &= s->cap - 1;; h = (h + 1) & (s->cap - 1)) {
    if (!s->used[h]) {
      s->used[h] = true;
      memcpy (s->sums[h], sum, 32);
      return true;
    }
    if (memcmp (s->sums[h], sum, 32) == 0)
      return false;
  }
}

static void
fail (struct push *p, int err)
{
  pthread_mutex_lock (&p->lock);
  if (p->err == 0) {
    p->err = err;
    cdp_save_error (&p->errmsg);
  }
  p->stop = true;
  pthread_mutex_unlock (&p->lock);
}

static bool
all_zero (const uint8_t *b, size_t len)
{
  return len == 0 || (b[0] == 0 && memcmp (b, b + 1, len - 1) == 0);
}

/* Is [off, off+len) of the disk all hole, from its allocation only? */
static int
all_hole (const struct point *pt, uint64_t off, uint64_t len)
{
  point_extent_vector holes = empty_vector;
  int r = point_block_status (pt, off, len, &holes);

  if (r == 0)
    r = holes.len == 1 && holes.ptr[0].off == off && holes.ptr[0].len == len;
  point_extent_vector_reset (&holes);
  return r;
}

/* Wait until total put bytes are within the bandwidth bound, in slices
 * of at most 100 ms: a cancel (or another worker's failure) ends the
 * wait at once, however low the bound.  0 or -ECANCELED. */
static int
pace (struct push *p, uint64_t total)
{
  for (;;) {
    int64_t want, now = time_mono_ns ();
    bool stop;
    pthread_mutex_lock (&p->lock);
    stop = p->stop;
    pthread_mutex_unlock (&p->lock);
    if (stop || (p->o->cancel && *p->o->cancel))
      return cdp_set_error (-ECANCELED, "the push was cancelled");
    if (p->o->bandwidth == 0)
      return 0;
    want = (int64_t) ((double) total / (double) p->o->bandwidth * 1e9)
           - (now - p->pace_start);
    if (want <= 0)
      return 0;
    time_pace (now, want < 100000000 ? (uint64_t) want : 100000000,
               1000000000);
  }
}

/* Compress and put the chunk of sum; count its bytes as the point's
 * unless it was counted already (a pass after the first). */
static int
put_chunk (struct push *p, const char *key, const void *buf, size_t len)
{
  struct archive_store *s = p->a->s;
  uint64_t total;
  void *obj;
  size_t olen;
  int r;

  if ((r = archive_chunk_encode (buf, len, &obj, &olen)) < 0)
    return r;
  pthread_mutex_lock (&p->lock);
  total = p->put_bytes += olen;
  pthread_mutex_unlock (&p->lock);
  if ((r = pace (p, total)) < 0) {
    free (obj);
    return r;
  }
  r = s->ops->put (s, key, obj, olen);
  free (obj);
  if (r == 0) {
    pthread_mutex_lock (&p->lock);
    p->st.new_chunks++;
    p->st.new_bytes += olen;
    if (p->mode == PASS_READ)
      p->pt->stored_bytes += olen;
    pthread_mutex_unlock (&p->lock);
  }
  return r;
}

/* Touch (or, in a PASS_STAT, stat) the chunk of sum when the store has
 * it, so that a collection that started before this push keeps it;
 * else put it (buf NULL: read it again first, into rbuf). */
static int
store_chunk (struct push *p, const uint8_t sum[32], const struct point *pt,
             uint64_t off, size_t len, const uint8_t *buf, uint8_t *rbuf)
{
  struct archive_store *s = p->a->s;
  char key[ARCHIVE_CHUNK_KEY_MAX];
  uint64_t size = 0;
  uint8_t again[32];
  int r;

  archive_chunk_key (sum, key);
  r = p->mode == PASS_STAT ? 0 : s->ops->touch (s, key);
  if (r == 0 && (r = s->ops->stat (s, key, &size, NULL)) == 0) {
    pthread_mutex_lock (&p->lock);
    if (p->mode == PASS_READ)
      p->pt->stored_bytes += size;
    pthread_mutex_unlock (&p->lock);
    return 0;
  }
  if (r != -ENOENT)
    return r;
  cdp_clear_error ();
  if (buf == NULL) {
    if ((r = point_pread (pt, rbuf, off, len, NULL)) < 0)
      return r;
    archive_sha256 (rbuf, len, again);
    if (memcmp (again, sum, 32) != 0)
      return cdp_set_error (-EIO, "the point changed while it was archived "
                            "(at byte %" PRIu64 ")", off);
    buf = rbuf;
  }
  return put_chunk (p, key, buf, len);
}

/* Read, hash and store global chunk g (a later pass: store it again). */
static int
do_chunk (struct push *p, uint64_t g, uint8_t *buf)
{
  size_t d = 0;
  const struct point *pt;
  uint64_t c, off, len;
  uint8_t *sum;
  bool zero, claimed;
  int r;

  while (d + 1 < p->pt->ndisks && g >= p->first[d + 1])
    d++;
  pt = p->o->disks[d].p;
  c = g - p->first[d];
  off = c * p->pt->chunk_size;
  len = pt->size - off < p->pt->chunk_size ? pt->size - off
                                            : p->pt->chunk_size;
  sum = p->pt->disks[d].sums[c];
  if (p->mode != PASS_READ)
    zero = archive_sum_is_zero (sum);
  else {
    if ((r = all_hole (pt, off, len)) < 0)
      return r;
    zero = r > 0;
    if (!zero) {
      if ((r = point_pread (pt, buf, off, len, NULL)) < 0)
        return r;
      zero = all_zero (buf, len);
    }
    if (zero)
      memset (sum, 0, 32);
    else
      archive_sha256 (buf, len, sum);
  }
  pthread_mutex_lock (&p->lock);
  if (!zero && p->mode == PASS_READ)
    p->st.read_bytes += len;
  claimed = !zero && sumset_claim (&p->done, sum);
  pthread_mutex_unlock (&p->lock);
  r = !claimed ? 0
    : store_chunk (p, sum, pt, off, len, p->mode == PASS_READ ? buf : NULL,
                   buf);
  pthread_mutex_lock (&p->lock);
  p->done_bytes += len;
  if (zero && p->mode == PASS_READ)
    p->st.zero_chunks++;
  pthread_cond_signal (&p->cond);
  pthread_mutex_unlock (&p->lock);
  return r;
}

static void *
worker (void *opaque)
{
  struct push *p = opaque;
  uint8_t *buf = malloc (p->pt->chunk_size);
  int r = buf ? 0 : cdp_set_error (-ENOMEM, "out of memory");

  while (r == 0) {
    uint64_t g = atomic_fetch_add (&p->next, 1);
    bool stop;
    pthread_mutex_lock (&p->lock);
    stop = p->stop;
    pthread_mutex_unlock (&p->lock);
    if (stop || g >= p->nchunks)
      break;
    r = do_chunk (p, g, buf);
  }
  if (r < 0)
    fail (p, r);
  free (buf);
  pthread_mutex_lock (&p->lock);
  p->running--;
  pthread_cond_signal (&p->cond);
  pthread_mutex_unlock (&p->lock);
  return NULL;
}

static bool
cancelled (struct push *p, uint64_t done, uint64_t total)
{
  if (p->o->cancel && *p->o->cancel)
    return true;
  return p->o->progress && p->o->progress (p->o->opaque, done, total) != 0;
}

/* One pass over every chunk, with the lease kept alive meanwhile. */
static int
pass (struct push *p, enum mode mode, struct archive_lease *lease,
      uint64_t total)
{
  /* S3: a request's latency, not the CPU, bounds a thread; 8 as the
   * reader fetches (docs/BENCHMARKS.md, "The archive"). */
  unsigned dflt = strcmp (p->a->s->ops->scheme, "s3") == 0 ? 8 : 4;
  unsigned n = p->o->threads == 0 ? dflt : p->o->threads > 64 ? 64
               : p->o->threads;
  pthread_t *tids = calloc (n, sizeof *tids);
  unsigned started = 0;

  if (tids == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  atomic_store (&p->next, 0);
  p->mode = mode;
  p->done_bytes = 0;
  memset (p->done.used, 0, p->done.cap);
  p->running = n;
  for (; started < n; started++)
    if (pthread_create (&tids[started], NULL, worker, p) != 0)
      break;
  if (started == 0)
    fail (p, cdp_set_error (-EAGAIN, "cannot start a thread"));
  pthread_mutex_lock (&p->lock);
  p->running -= n - started;
  while (p->running > 0) {
    struct timespec t = time_deadline (CLOCK_REALTIME, 500000000);
    uint64_t done = p->done_bytes;
    pthread_cond_timedwait (&p->cond, &p->lock, &t);
    pthread_mutex_unlock (&p->lock);
    archive_lease_refresh (lease, false);
    if (!p->stop && cancelled (p, p->mode == PASS_READ ? done : total,
                               total)) {
      cdp_set_error (-ECANCELED, "the push was cancelled");
      fail (p, -ECANCELED);
    }
    pthread_mutex_lock (&p->lock);
  }
  pthread_mutex_unlock (&p->lock);
  for (unsigned i = 0; i < started; i++)
    pthread_join (tids[i], NULL);
  free (tids);
  if (p->err)
    cdp_restore_error (&p->errmsg);
  return p->err;
}

/* The point being pushed, its disks' sums still to fill. */
static int
new_point (struct push *p, const char *key, const char *host,
           const char *store, const char *id)
{
  struct archive_point *pt = p->pt;
  const struct archive_push *o = p->o;
  uint64_t total = 0;

  pt->key = strdup (key);
  pt->task = strdup (o->task);
  pt->kind = strdup (o->kind ? o->kind : "push");
  pt->label = o->label ? strdup (o->label) : NULL;
  pt->host = strdup (host);
  pt->store = strdup (store);
  pt->store_id = strdup (id);
  pt->time_ns = o->time_ns;
  pt->chunk_size = p->a->chunk_size;
  pt->ndisks = o->ndisks;
  pt->disks = calloc (o->ndisks, sizeof *pt->disks);
  p->first = calloc (o->ndisks, sizeof *p->first);
  if (!pt->key || !pt->task || !pt->kind || (o->label && !pt->label)
      || !pt->host || !pt->store || !pt->store_id || !pt->disks || !p->first)
    return cdp_set_error (-ENOMEM, "out of memory");
  for (size_t i = 0; i < o->ndisks; i++) {
    struct archive_disk *d = &pt->disks[i];
    uint64_t n = (o->disks[i].p->size + pt->chunk_size - 1) / pt->chunk_size;
    if (n > UINT32_MAX)
      return cdp_set_error (-EFBIG, "disk %s is too large to archive",
                            o->disks[i].name);
    d->nchunks = (uint32_t) n;
    d->size = o->disks[i].p->size;
    d->name = strdup (o->disks[i].name);
    d->sums = calloc (n ? n : 1, 32);
    if (d->name == NULL || d->sums == NULL)
      return cdp_set_error (-ENOMEM, "out of memory");
    p->first[i] = total;
    total += n;
  }
  p->nchunks = total;
  p->st.chunks = total;
  return sumset_init (&p->done, total) < 0
    ? cdp_set_error (-ENOMEM, "out of memory") : 0;
}

static int
check_options (const struct archive_push *o)
{
  if (!archive_task_name_ok (o->task))
    return cdp_set_error (-EINVAL, "'%s' cannot be archived: not a task "
                          "name", o->task ? o->task : "");
  if (o->time_ns < 0 || o->ndisks == 0 || o->store == NULL)
    return cdp_set_error (-EINVAL, "nothing to archive");
  for (size_t i = 0; i < o->ndisks; i++)
    if (o->disks[i].name == NULL || o->disks[i].p == NULL)
      return cdp_set_error (-EINVAL, "nothing to archive");
  return 0;
}

/* Write the index: the point exists from now on. */
static int
put_index (struct push *p)
{
  void *buf;
  size_t len;
  int r;

  if (p->a->s->ops->now (p->a->s, &p->pt->pushed_ns) < 0)
    p->pt->pushed_ns = time_now_ns ();
  cdp_clear_error ();
  r = archive_index_encode (p->pt, &buf, &len);
  if (r == 0)
    r = p->a->s->ops->put (p->a->s, p->pt->key, buf, len);
  free (buf);
  return r;
}

struct gc_scan {
  struct archive *a;
  int64_t start, now;
  bool overlap, running;
};

static int
record_seen (void *opaque, const struct archive_obj *o)
{
  struct gc_scan *g = opaque;
  bool running = false;
  void *buf;
  size_t len;
  int r;

  if (o->mtime_ns >= g->start)      /* it ran, or ended, since start */
    g->overlap = true;
  if (o->mtime_ns < g->now - ARCHIVE_LEASE_LIVE_NS)
    return 0;                       /* ended long ago, or dead */
  r = g->a->s->ops->get (g->a->s, o->key, &buf, &len);
  if (r == -ENOENT) {
    cdp_clear_error ();
    return 0;
  }
  if (r < 0)
    return r;
  if (archive_gc_record_parse (buf, len, &running) < 0)
    running = true;                 /* cannot tell: wait for it to age */
  free (buf);
  if (running)
    g->overlap = g->running = true;
  return 0;
}

/* Wait until no collection runs; true in *overlap when one ran since
 * the push started.  Keeps the lease, honours cancel. */
static int
wait_collections (struct push *p, struct archive_lease *lease, uint64_t total,
                  bool *overlap)
{
  struct archive_store *s = p->a->s;
  struct gc_scan g = { .a = p->a, .start = archive_lease_started (lease) };
  int r;

  for (;;) {
    g.running = false;
    if ((r = s->ops->now (s, &g.now)) < 0
        || (r = s->ops->list (s, "gc/", record_seen, &g)) < 0)
      return r;
    if (!g.running)
      break;
    for (int i = 0; i < 20; i++) {  /* 2 s, then look again */
      struct timespec t = { 0, 100000000 };
      if (cancelled (p, total, total))
        return cdp_set_error (-ECANCELED, "the push was cancelled");
      nanosleep (&t, NULL);
    }
    archive_lease_refresh (lease, false);
  }
  *overlap = g.overlap;
  return 0;
}

static int
push_chunks (struct push *p)
{
  struct archive_lease *lease;
  uint64_t total = 0;
  bool overlap = false;
  int r;

  for (size_t i = 0; i < p->pt->ndisks; i++)
    total += p->pt->disks[i].size;
  r = archive_lease_take (p->a, p->pt->store_id, p->pt->task, &lease);
  if (r < 0)
    return r;
  p->pace_start = time_mono_ns ();
  r = pass (p, PASS_READ, lease, total);
  while (r == 0) {
    /* Lease not renewed for long: a collection may have judged it dead
     * and removed chunks this push reused.  Touch (or put) them all
     * again.  Asked again after the waits below, right before the
     * index: the lease may lapse while collections are waited for. */
    if (archive_lease_stale (lease)) {
      archive_lease_refresh (lease, true);
      if (archive_lease_stale (lease))
        r = cdp_set_error (-EIO, "archive %s: the push's lease cannot be "
                           "renewed", p->a->s->location);
      else
        r = pass (p, PASS_TOUCH, lease, total);
      continue;
    }
    overlap = false;
    r = wait_collections (p, lease, total, &overlap);
    if (r == 0 && overlap)
      r = pass (p, PASS_STAT, lease, total);
    if (r == 0 && !archive_lease_stale (lease))
      break;
  }
  if (r == 0) {
    if (p->o->progress && p->o->progress (p->o->opaque, total, total) != 0)
      r = cdp_set_error (-ECANCELED, "the push was cancelled");
    else
      r = put_index (p);
  }
  archive_lease_drop (lease);
  return r;
}

int
archive_push (struct archive *a, const struct archive_push *o,
              struct archive_push_stats *stats)
{
  struct archive_point pt = { 0 };
  struct push p = { .a = a, .o = o, .pt = &pt,
                    .lock = PTHREAD_MUTEX_INITIALIZER,
                    .cond = PTHREAD_COND_INITIALIZER };
  char host[HOST_NAME_MAX + 1] = "", id[13], key[sizeof stats->key];
  char *store;
  int r;

  memset (stats, 0, sizeof *stats);
  if ((r = check_options (o)) < 0)
    return r;
  gethostname (host, sizeof host - 1);
  store = realpath (o->store, NULL);
  archive_store_id (host, store ? store : o->store, id);
  if (archive_index_key (o->task, o->time_ns, id, key, sizeof key) < 0)
    r = cdp_set_error (-EINVAL, "'%s' cannot be archived: its name is too "
                       "long", o->task);
  if (r == 0) {
    memcpy (stats->key, key, sizeof key);
    r = a->s->ops->stat (a->s, key, NULL, NULL);
    if (r == 0)                     /* pushed already */
      goto out;
    if (r == -ENOENT) {
      cdp_clear_error ();
      r = archive_ensure_manifest (a);
    }
  }
  if (r == 0)
    r = new_point (&p, key, host, store ? store : o->store, id);
  if (r == 0)
    r = push_chunks (&p);
  if (r == 0) {
    memcpy (p.st.key, key, sizeof key);
    *stats = p.st;
  }
 out:
  free (store);
  free (p.first);
  sumset_free (&p.done);
  archive_point_free (&pt);
  return r;
}
