/* cdp archive: checking that every chunk of points is there and is what
 * its name says, each distinct chunk once, on several threads. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "recovery/archive/archive-internal.h"

struct vsum {
  uint8_t b[32];
};
DEFINE_VECTOR_TYPE (vsum_vector, struct vsum)

struct verify {
  struct archive *a;
  vsum_vector sums;
  atomic_size_t next;
  uint32_t chunk_size;
  void (*bad) (void *opaque, const char *key, const char *why);
  void *opaque;
  struct archive_verify_stats *st;
  pthread_mutex_t lock;
  int err;                          /* a failure that is not damage */
  struct cdp_saved_error errmsg;
};

static void
report (struct verify *v, const char *key, const char *why)
{
  pthread_mutex_lock (&v->lock);
  v->st->bad++;
  if (v->bad)
    v->bad (v->opaque, key, why);
  pthread_mutex_unlock (&v->lock);
}

/* A chunk that fails its name goes to bad/ (kept for a look), so that
 * the next push of a point holding that data finds it missing and puts
 * it again: one good copy heals every point that names it.  Without
 * this, pushes would keep touching the damaged copy and name it in
 * every new point.  The why of the report says where it went, or why
 * it could not be moved. */
static void
quarantine (struct verify *v, const char *key, char *why, size_t len)
{
  struct archive_store *s = v->a->s;
  char bad[ARCHIVE_CHUNK_KEY_MAX + 8];
  size_t n = strlen (why), blen;
  void *buf;
  int r;

  snprintf (bad, sizeof bad, "bad/%s", key + strlen ("chunks/"));
  r = s->ops->get (s, key, &buf, &blen);
  if (r == 0) {
    r = s->ops->put (s, bad, buf, blen);
    free (buf);
  }
  if (r == 0)
    r = s->ops->del (s, key);
  if (r == 0)
    snprintf (why + n, len - n, "; moved to %s: the next push of this data "
              "puts it again", bad);
  else
    snprintf (why + n, len - n, "; could not be moved aside: %s",
              cdp_get_error ());
}

static int
add_point (struct verify *v, const struct archive_point *p)
{
  if (p->chunk_size > v->chunk_size)
    v->chunk_size = p->chunk_size;
  for (size_t d = 0; d < p->ndisks; d++)
    for (uint32_t c = 0; c < p->disks[d].nchunks; c++) {
      struct vsum s;
      if (archive_sum_is_zero (p->disks[d].sums[c]))
        continue;
      memcpy (s.b, p->disks[d].sums[c], 32);
      if (vsum_vector_append (&v->sums, s) < 0)
        return cdp_set_error (-ENOMEM, "out of memory");
    }
  return 0;
}

static void unique (vsum_vector *s);

/* The chunks of every point of task: a damaged index is reported.  The
 * sums are made unique as they grow: points share most chunks. */
static int
add_points (struct verify *v, const char *task)
{
  string_vector keys;
  int r = archive_index_keys (v->a, task, &keys);
  size_t distinct = 0;

  for (size_t i = 0; r == 0 && i < keys.len; i++) {
    struct archive_point p;
    r = archive_index_load (v->a, keys.ptr[i], &p);
    if (r == -ENOENT) {             /* forgotten meanwhile */
      cdp_clear_error ();
      r = 0;
    }
    else if (r == -EUCLEAN) {
      v->st->points++;
      report (v, keys.ptr[i], cdp_get_error ());
      r = 0;
    }
    else if (r == 0) {
      v->st->points++;
      r = add_point (v, &p);
      archive_point_free (&p);
    }
    if (v->sums.len > 2 * distinct + 65536) {
      unique (&v->sums);
      distinct = v->sums.len;
    }
  }
  archive_index_keys_free (&keys);
  return r;
}

static void *
worker (void *opaque)
{
  struct verify *v = opaque;
  uint8_t *buf = malloc (v->chunk_size);

  for (;;) {
    size_t i = atomic_fetch_add (&v->next, 1);
    char key[ARCHIVE_CHUNK_KEY_MAX];
    size_t len = 0;
    int r;

    if (i >= v->sums.len || buf == NULL)
      break;
    archive_chunk_key (v->sums.ptr[i].b, key);
    r = archive_chunk_get (v->a, v->sums.ptr[i].b, buf, v->chunk_size, &len);
    if (r == -ENOENT)
      report (v, key, "missing");
    else if (r == -EUCLEAN) {
      char why[CDP_ERROR_MAX + 256];
      snprintf (why, sizeof why, "%s", cdp_get_error ());
      quarantine (v, key, why, sizeof why);
      report (v, key, why);
    }
    else if (r < 0) {
      pthread_mutex_lock (&v->lock);
      if (v->err == 0) {
        v->err = r;
        cdp_save_error (&v->errmsg);
      }
      pthread_mutex_unlock (&v->lock);
      break;
    }
    pthread_mutex_lock (&v->lock);
    v->st->chunks++;
    v->st->bytes += len;
    pthread_mutex_unlock (&v->lock);
  }
  if (buf == NULL) {
    pthread_mutex_lock (&v->lock);
    if (v->err == 0) {
      v->err = cdp_set_error (-ENOMEM, "out of memory");
      cdp_save_error (&v->errmsg);
    }
    pthread_mutex_unlock (&v->lock);
  }
  free (buf);
  return NULL;
}

static int
cmp_sum (const void *x, const void *y)
{
  return memcmp (x, y, 32);
}

/* Sort and drop repeats. */
static void
unique (vsum_vector *s)
{
  size_t n = 0;

  if (s->len > 1)
    qsort (s->ptr, s->len, 32, cmp_sum);
  for (size_t i = 0; i < s->len; i++)
    if (n == 0 || memcmp (s->ptr[n - 1].b, s->ptr[i].b, 32) != 0)
      s->ptr[n++] = s->ptr[i];
  s->len = n;
}

int
archive_verify (struct archive *a, const struct archive_point *p,
                const char *task, unsigned threads,
                void (*bad) (void *opaque, const char *key, const char *why),
                void *opaque, struct archive_verify_stats *stats)
{
  struct verify v = { .a = a, .bad = bad, .opaque = opaque, .st = stats,
                      .chunk_size = a->chunk_size,
                      .lock = PTHREAD_MUTEX_INITIALIZER };
  pthread_t tids[64];
  unsigned n = threads ? threads : 4, started = 0;
  int r;

  memset (stats, 0, sizeof *stats);
  if (n > 64)
    n = 64;
  if (p)
    stats->points = 1;
  r = p ? add_point (&v, p) : add_points (&v, task);
  if (r == 0) {
    unique (&v.sums);
    for (; started < n; started++)
      if (pthread_create (&tids[started], NULL, worker, &v) != 0)
        break;
    if (started == 0)
      r = cdp_set_error (-EAGAIN, "cannot start a thread");
    for (unsigned i = 0; i < started; i++)
      pthread_join (tids[i], NULL);
  }
  vsum_vector_reset (&v.sums);
  if (r == 0 && v.err) {
    cdp_restore_error (&v.errmsg);
    r = v.err;
  }
  if (r == 0 && stats->bad > 0)
    r = cdp_set_error (-EUCLEAN, "archive %s: %" PRIu64 " damaged or missing",
                       a->s->location, stats->bad);
  return r;
}
