/* cdp archive: reading one disk of an archived point.
 *
 * Chunks are decoded whole into a cache of recent ones (LRU, 64 MiB),
 * each checked against its name before any byte of it is copied out.
 * A read that continues the one before it (sequential) queues the next
 * chunks for the fetch threads (4 for a directory, 8 for S3), so that
 * their latency overlaps the caller's work.  A chunk that failed is
 * dropped from the cache when its last reader has seen the error: the
 * next read tries again (a store that failed once may answer later;
 * damage fails again). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "recovery/archive/archive-internal.h"

#define CACHE_BYTES (64u << 20)

enum state { LOADING, READY, FAILED };

struct entry {
  uint64_t idx;                     /* the chunk of the disk */
  enum state state;
  int err;
  struct cdp_saved_error msg;
  uint8_t *data;
  unsigned refs;                    /* readers copying out of it */
  uint64_t used;                    /* LRU tick */
};
DEFINE_VECTOR_TYPE (entry_vector, struct entry *)
DEFINE_VECTOR_TYPE (idx_vector, uint64_t)

struct archive_reader {
  struct archive *a;
  uint8_t (*sums)[32];
  uint32_t nchunks, chunk_size;
  uint64_t size;
  pthread_mutex_t lock;
  pthread_cond_t changed;           /* an entry left LOADING */
  pthread_cond_t work;              /* queue not empty, or quit */
  entry_vector cache;
  size_t max_entries;
  idx_vector queue;                 /* chunks to fetch ahead */
  uint64_t tick, next_seq;          /* next_seq: where a sequential read starts */
  bool quit;
  unsigned nthreads;
  pthread_t *threads;
};

static struct entry *
find (struct archive_reader *r, uint64_t idx)
{
  for (size_t i = 0; i < r->cache.len; i++)
    if (r->cache.ptr[i]->idx == idx)
      return r->cache.ptr[i];
  return NULL;
}

static void
drop (struct archive_reader *r, size_t i)
{
  free (r->cache.ptr[i]->data);
  free (r->cache.ptr[i]);
  entry_vector_remove (&r->cache, i);
}

/* Make room for one more entry: drop the least recently used one that
 * no reader holds.  False when every entry is busy. */
static bool
make_room (struct archive_reader *r)
{
  size_t victim = SIZE_MAX;

  if (r->cache.len < r->max_entries)
    return true;
  for (size_t i = 0; i < r->cache.len; i++) {
    struct entry *e = r->cache.ptr[i];
    if (e->refs == 0 && e->state != LOADING
        && (victim == SIZE_MAX || e->used < r->cache.ptr[victim]->used))
      victim = i;
  }
  if (victim == SIZE_MAX)
    return false;
  drop (r, victim);
  return true;
}

/* A new LOADING entry for idx (locked). */
static struct entry *
add_entry (struct archive_reader *r, uint64_t idx)
{
  struct entry *e = calloc (1, sizeof *e);

  if (e == NULL)
    return NULL;
  e->idx = idx;
  e->state = LOADING;
  e->used = ++r->tick;
  if (entry_vector_append (&r->cache, e) < 0) {
    free (e);
    return NULL;
  }
  return e;
}

/* The length of chunk idx: the last one may be short. */
static size_t
chunk_len (const struct archive_reader *r, uint64_t idx)
{
  uint64_t off = idx * r->chunk_size;

  return r->size - off < r->chunk_size ? (size_t) (r->size - off)
                                        : r->chunk_size;
}

/* Fetch and check chunk idx into e (unlocked), then publish it. */
static void
load (struct archive_reader *r, struct entry *e)
{
  uint8_t *data = malloc (r->chunk_size);
  size_t len = 0;
  int err;

  if (data == NULL)
    err = cdp_set_error (-ENOMEM, "out of memory");
  else
    err = archive_chunk_get (r->a, r->sums[e->idx], data, r->chunk_size, &len);
  if (err == 0 && len != chunk_len (r, e->idx))
    err = cdp_set_error (-EUCLEAN, "archive chunk %u of the disk is damaged: "
                         "%zu bytes, not the index's", (unsigned) e->idx, len);
  if (err == -ENOENT) {
    char key[ARCHIVE_CHUNK_KEY_MAX];
    archive_chunk_key (r->sums[e->idx], key);
    err = cdp_set_error (-EUCLEAN, "archive %s: chunk %s is missing",
                         r->a->s->location, key);
  }
  pthread_mutex_lock (&r->lock);
  if (err < 0) {
    free (data);
    e->state = FAILED;
    e->err = err;
    cdp_save_error (&e->msg);
  }
  else {
    e->data = data;
    e->state = READY;
  }
  pthread_cond_broadcast (&r->changed);
  pthread_mutex_unlock (&r->lock);
}

static void *
fetcher (void *opaque)
{
  struct archive_reader *r = opaque;

  pthread_mutex_lock (&r->lock);
  for (;;) {
    struct entry *e;
    uint64_t idx;
    while (!r->quit && r->queue.len == 0)
      pthread_cond_wait (&r->work, &r->lock);
    if (r->quit)
      break;
    idx = r->queue.ptr[0];
    idx_vector_remove (&r->queue, 0);
    if (find (r, idx) || !make_room (r) || (e = add_entry (r, idx)) == NULL)
      continue;                     /* there already, or no room */
    pthread_mutex_unlock (&r->lock);
    load (r, e);
    pthread_mutex_lock (&r->lock);
  }
  pthread_mutex_unlock (&r->lock);
  return NULL;
}

/* Queue chunks [from, from+n) that are neither zero nor cached (locked). */
static void
fetch_ahead (struct archive_reader *r, uint64_t from, unsigned n)
{
  for (uint64_t i = from; i < r->nchunks && i < from + n; i++) {
    bool queued = false;
    if (archive_sum_is_zero (r->sums[i]) || find (r, i))
      continue;
    for (size_t k = 0; k < r->queue.len && !queued; k++)
      queued = r->queue.ptr[k] == i;
    if (!queued && idx_vector_append (&r->queue, i) == 0)
      pthread_cond_signal (&r->work);
  }
}

/* Chunk idx, held (refs) and READY or FAILED. */
static struct entry *
get (struct archive_reader *r, uint64_t idx)
{
  struct entry *e;

  pthread_mutex_lock (&r->lock);
  e = find (r, idx);
  if (e == NULL) {
    make_room (r);                  /* over the bound if all are busy */
    e = add_entry (r, idx);
    if (e == NULL) {
      pthread_mutex_unlock (&r->lock);
      return NULL;
    }
    e->refs++;
    pthread_mutex_unlock (&r->lock);
    load (r, e);
    pthread_mutex_lock (&r->lock);
  }
  else
    e->refs++;
  while (e->state == LOADING)
    pthread_cond_wait (&r->changed, &r->lock);
  e->used = ++r->tick;
  pthread_mutex_unlock (&r->lock);
  return e;
}

static void
put (struct archive_reader *r, struct entry *e)
{
  pthread_mutex_lock (&r->lock);
  if (--e->refs == 0 && e->state == FAILED)
    for (size_t i = 0; i < r->cache.len; i++)
      if (r->cache.ptr[i] == e) {
        drop (r, i);
        break;
      }
  pthread_mutex_unlock (&r->lock);
}

static int
reader_pread (void *h, void *buf, uint64_t off, uint64_t len)
{
  struct archive_reader *r = h;
  uint8_t *out = buf;
  uint64_t end, first, last;
  int err = 0;

  if (len == 0)
    return 0;
  if (__builtin_add_overflow (off, len, &end) || end > r->size)
    return cdp_set_error (-EINVAL, "read past the end of the archived disk");
  first = off / r->chunk_size;
  last = (end - 1) / r->chunk_size;
  pthread_mutex_lock (&r->lock);
  if (first == r->next_seq || first + 1 == r->next_seq)
    fetch_ahead (r, last + 1, r->nthreads);
  r->next_seq = last + 1;
  pthread_mutex_unlock (&r->lock);
  for (uint64_t c = first; err == 0 && c <= last; c++) {
    uint64_t cstart = c * r->chunk_size;
    uint64_t from = off > cstart ? off - cstart : 0;
    uint64_t to = end - cstart < r->chunk_size ? end - cstart : r->chunk_size;
    uint8_t *dst = out + (cstart + from - off);
    struct entry *e;

    if (archive_sum_is_zero (r->sums[c])) {
      memset (dst, 0, to - from);
      continue;
    }
    e = get (r, c);
    if (e == NULL)
      return cdp_set_error (-ENOMEM, "out of memory");
    if (e->state == FAILED) {
      err = e->err;
      cdp_restore_error (&e->msg);
    }
    else
      memcpy (dst, e->data + from, to - from);
    put (r, e);
  }
  return err;
}

/* Chunks [first, last] of [off, off+len) are zero chunks. */
static bool
reader_is_hole (void *h, uint64_t off, uint64_t len)
{
  struct archive_reader *r = h;

  if (len == 0)
    return true;
  for (uint64_t c = off / r->chunk_size; c <= (off + len - 1) / r->chunk_size;
       c++)
    if (c >= r->nchunks || !archive_sum_is_zero (r->sums[c]))
      return false;
  return true;
}

static int
reader_holes (void *h, uint64_t off, uint64_t len, point_hole_fn fn,
              void *opaque)
{
  struct archive_reader *r = h;
  uint64_t end = off + len, at = off;

  while (at < end) {
    uint64_t c = at / r->chunk_size;
    uint64_t cend = (c + 1) * r->chunk_size < end ? (c + 1) * r->chunk_size
                                                  : end;
    uint64_t run = at;
    while (at < end && c < r->nchunks && archive_sum_is_zero (r->sums[c])) {
      at = cend;
      c++;
      cend = (c + 1) * r->chunk_size < end ? (c + 1) * r->chunk_size : end;
    }
    if (at > run) {
      int e = fn (opaque, run, at - run);
      if (e)
        return e;
    }
    else
      at = cend;
  }
  return 0;
}

const struct point_base_ops archive_base_ops = {
  .pread = reader_pread, .is_hole = reader_is_hole, .holes = reader_holes,
};

int
archive_reader_open (struct archive *a, const struct archive_point *pt,
                     size_t disk, struct archive_reader **out)
{
  const struct archive_disk *d;
  struct archive_reader *r;

  *out = NULL;
  if (disk >= pt->ndisks || pt->disks == NULL || pt->disks[disk].sums == NULL)
    return cdp_set_error (-EINVAL, "archived point %s: no disk %zu loaded",
                          pt->key, disk);
  d = &pt->disks[disk];
  r = calloc (1, sizeof *r);
  if (r == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  r->a = a;
  r->nchunks = d->nchunks;
  r->chunk_size = pt->chunk_size;
  r->size = d->size;
  r->sums = malloc ((size_t) d->nchunks * 32 + 1);
  r->nthreads = strcmp (a->s->ops->scheme, "s3") == 0 ? 8 : 4;
  r->threads = calloc (r->nthreads, sizeof *r->threads);
  r->max_entries = CACHE_BYTES / r->chunk_size;
  if (r->max_entries < 2 * r->nthreads + 2)
    r->max_entries = 2 * r->nthreads + 2;
  r->next_seq = 0;
  pthread_mutex_init (&r->lock, NULL);
  pthread_cond_init (&r->changed, NULL);
  pthread_cond_init (&r->work, NULL);
  if (r->sums == NULL || r->threads == NULL) {
    r->nthreads = 0;
    archive_reader_close (r);
    return cdp_set_error (-ENOMEM, "out of memory");
  }
  memcpy (r->sums, d->sums, (size_t) d->nchunks * 32);
  for (unsigned i = 0; i < r->nthreads; i++)
    if (pthread_create (&r->threads[i], NULL, fetcher, r) != 0) {
      r->nthreads = i;
      archive_reader_close (r);
      return cdp_set_error (-EAGAIN, "cannot start a thread");
    }
  *out = r;
  return 0;
}

void
archive_reader_close (struct archive_reader *r)
{
  if (r == NULL)
    return;
  pthread_mutex_lock (&r->lock);
  r->quit = true;
  pthread_cond_broadcast (&r->work);
  pthread_mutex_unlock (&r->lock);
  for (unsigned i = 0; i < r->nthreads; i++)
    pthread_join (r->threads[i], NULL);
  while (r->cache.len > 0)
    drop (r, r->cache.len - 1);
  entry_vector_reset (&r->cache);
  idx_vector_reset (&r->queue);
  pthread_mutex_destroy (&r->lock);
  pthread_cond_destroy (&r->changed);
  pthread_cond_destroy (&r->work);
  free (r->threads);
  free (r->sums);
  free (r);
}

void
archive_reader_point (struct archive_reader *r, struct point *p)
{
  memset (p, 0, sizeof *p);
  p->size = r->size;
  p->base = &archive_base_ops;
  p->base_h = r;
}
