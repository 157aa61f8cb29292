/* cdp recovery: CRC32C sums of base point data clusters (see basesum.h
 * for the format and the rules). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/fileio.h"
#include "common/timeutil.h"
#include "recovery/history/basesum.h"
#include "recovery/history/qcow2.h"

#define MAGIC "CDPSUMS1"
#define VERSION 1
#define HDR 64u
#define ENTRY 12u
#define IO_MAX (4u << 20)

static __thread struct basesum_damage last_damage;
static __thread bool have_damage;

bool
basesum_last_damage (struct basesum_damage *d)
{
  if (have_damage && d)
    *d = last_damage;
  return have_damage;
}

static int
damaged (const char *file, uint64_t cluster, bool missing)
{
  snprintf (last_damage.file, sizeof last_damage.file, "%s", file);
  last_damage.offset = cluster * BASESUM_CLUSTER;
  last_damage.missing = missing;
  have_damage = true;
  return -EUCLEAN;
}

char *
basesum_path (const char *image)
{
  size_t n = strlen (image);
  char *p;

  if (n > 6 && strcmp (image + n - 6, ".qcow2") == 0)
    n -= 6;
  p = malloc (n + 6);
  if (p) {
    memcpy (p, image, n);
    strcpy (p + n, ".sums");
  }
  return p;
}

static void
put_le (uint8_t *p, uint64_t v, int bytes)
{
  for (int i = 0; i < bytes; i++)
    p[i] = (uint8_t) (v >> (8 * i));
}

static uint64_t
get_le (const uint8_t *p, int bytes)
{
  uint64_t v = 0;

  for (int i = bytes; i-- > 0;)
    v = v << 8 | p[i];
  return v;
}

int
basesum_save (const char *path, const struct basesum *s)
{
  size_t len = HDR + (size_t) ENTRY * s->v.len;
  uint8_t *b = calloc (1, len);
  int e;

  if (b == NULL)
    return -ENOMEM;
  memcpy (b, MAGIC, 8);
  put_le (b + 8, VERSION, 4);
  put_le (b + 12, BASESUM_CLUSTER, 4);
  put_le (b + 16, s->size, 8);
  put_le (b + 24, s->v.len, 8);
  for (size_t i = 0; i < s->v.len; i++) {
    put_le (b + HDR + ENTRY * i, s->v.ptr[i].cluster, 8);
    put_le (b + HDR + ENTRY * i + 8, s->v.ptr[i].crc, 4);
  }
  put_le (b + 32, crc32c (b + HDR, len - HDR), 4);
  put_le (b + 36, crc32c (b, HDR), 4);
  e = fio_replace (path, b, len, 0644);
  free (b);
  return e;
}

static int
parse (const uint8_t *b, size_t len, struct basesum *s)
{
  uint8_t h[HDR];
  uint64_t n;

  if (len < HDR || memcmp (b, MAGIC, 8) != 0)
    return -EUCLEAN;
  memcpy (h, b, HDR);
  put_le (h + 36, 0, 4);
  if (get_le (b + 36, 4) != crc32c (h, HDR) || get_le (b + 8, 4) != VERSION ||
      get_le (b + 12, 4) != BASESUM_CLUSTER)
    return -EUCLEAN;
  n = get_le (b + 24, 8);
  if (n > (len - HDR) / ENTRY || HDR + n * ENTRY != len ||
      get_le (b + 32, 4) != crc32c (b + HDR, len - HDR))
    return -EUCLEAN;
  s->size = get_le (b + 16, 8);
  if (basesum_vector_reserve (&s->v, n) < 0)
    return -ENOMEM;
  for (uint64_t i = 0; i < n; i++) {
    struct basesum_entry x = { get_le (b + HDR + ENTRY * i, 8),
                               (uint32_t) get_le (b + HDR + ENTRY * i + 8, 4) };
    if (i > 0 && x.cluster <= s->v.ptr[i - 1].cluster)
      return -EUCLEAN;
    s->v.ptr[s->v.len++] = x;
  }
  return 0;
}

int
basesum_load (const char *path, struct basesum *s)
{
  char *b;
  size_t len;
  int e;

  memset (s, 0, sizeof *s);
  e = fio_read (path, &b, &len);
  if (e < 0)
    return e;
  e = parse ((const uint8_t *) b, len, s);
  free (b);
  if (e < 0)
    basesum_free (s);
  return e;
}

void
basesum_free (struct basesum *s)
{
  basesum_vector_reset (&s->v);
}

int
basesum_add (struct basesum *s, uint64_t n, const void *data, size_t len)
{
  struct basesum_entry x = { n, crc32c (data, len) };

  if (s->v.len > 0 && s->v.ptr[s->v.len - 1].cluster >= n)
    return -EINVAL;
  return basesum_vector_append (&s->v, x);
}

const uint32_t *
basesum_find (const struct basesum *s, uint64_t n)
{
  size_t lo = 0, hi = s->v.len;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->v.ptr[mid].cluster < n)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < s->v.len && s->v.ptr[lo].cluster == n ? &s->v.ptr[lo].crc : NULL;
}

/* ---- walking the clusters an image holds ---------------------------------- */

struct ext_list {
  struct qcow2_extent *e;
  size_t n, cap;
};

static int
collect (void *opaque, const struct qcow2_extent *e)
{
  struct ext_list *l = opaque;

  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    struct qcow2_extent *p = realloc (l->e, cap * sizeof *p);
    if (p == NULL)
      return -ENOMEM;
    l->e = p;
    l->cap = cap;
  }
  l->e[l->n++] = *e;
  return 0;
}

/* The bytes of cluster k of a disk of size. */
static size_t
cluster_len (uint64_t size, uint64_t k)
{
  uint64_t start = k * BASESUM_CLUSTER;

  return size - start < BASESUM_CLUSTER ? (size_t) (size - start)
                                        : BASESUM_CLUSTER;
}

/* Call fn with each run of whole clusters (first, count) the top image
 * of c holds, and whether they are zero clusters. */
typedef int (*held_fn) (void *opaque, uint64_t first, uint64_t count, bool zero);

static int
held_clusters (struct qcow2_chain *c, held_fn fn, void *opaque)
{
  struct ext_list l = { 0 };
  uint64_t size = qcow2_size (c);
  int e = size ? qcow2_map (c, 0, size, collect, &l) : 0;

  for (size_t i = 0; e == 0 && i < l.n; i++) {
    const struct qcow2_extent *x = &l.e[i];
    uint64_t first, last;
    if (x->depth != 0 || !(x->flags & QCOW2_EXTENT_PRESENT) || x->len == 0)
      continue;
    first = x->off / BASESUM_CLUSTER;
    last = (x->off + x->len - 1) / BASESUM_CLUSTER;
    e = fn (opaque, first, last - first + 1, x->flags & QCOW2_EXTENT_ZERO);
  }
  free (l.e);
  return e;
}

struct walk {
  struct qcow2_chain *c;
  uint8_t *buf;
  uint64_t size;
  uint64_t bytes;
  uint64_t rate;
  const atomic_bool *stop;
  int64_t t0;                       /* time_mono_ns at the start */
  uint64_t last;                    /* clusters below this were done */
  /* compute */
  const struct basesum *old;
  struct basesum *out;
  /* check */
  const struct basesum *s;
  basesum_bad_fn bad;
  void *opaque;
};

/* Each cluster of the run, with its bytes (read, or zeroes). */
static int
each_cluster (struct walk *w, uint64_t first, uint64_t count, bool zero,
              int (*fn) (struct walk *, uint64_t, const uint8_t *, size_t))
{
  const uint64_t per = IO_MAX / BASESUM_CLUSTER;
  int e = 0;

  if (first < w->last) {            /* shared with the previous run */
    uint64_t skip = w->last - first;
    if (skip >= count)
      return 0;
    first += skip;
    count -= skip;
  }
  for (uint64_t k = first; e == 0 && k < first + count; k += per) {
    if (w->stop && atomic_load (w->stop))
      return -ECANCELED;
    uint64_t n = first + count - k < per ? first + count - k : per;
    uint64_t off = k * BASESUM_CLUSTER;
    uint64_t len = off + n * BASESUM_CLUSTER > w->size ? w->size - off
                                                       : n * BASESUM_CLUSTER;
    if (zero)
      memset (w->buf, 0, len);
    else {
      e = qcow2_pread (w->c, w->buf, off, len);
      w->bytes += len;
    }
    for (uint64_t j = 0; e == 0 && j < n; j++)
      e = fn (w, k + j, w->buf + j * BASESUM_CLUSTER, cluster_len (w->size, k + j));
    time_pace (w->t0, w->bytes, w->rate);
  }
  w->last = first + count;
  return e;
}

static int
compute_one (struct walk *w, uint64_t k, const uint8_t *data, size_t len)
{
  const uint32_t *want = w->old ? basesum_find (w->old, k) : NULL;
  int e = basesum_add (w->out, k, data, len);

  if (e == 0 && want && *want != w->out->v.ptr[w->out->v.len - 1].crc)
    return damaged ("", k, false);
  return e;
}

static int
compute_run (void *opaque, uint64_t first, uint64_t count, bool zero)
{
  return each_cluster (opaque, first, count, zero, compute_one);
}

int
basesum_compute (struct qcow2_chain *c, const struct basesum *old,
                 struct basesum *out, uint64_t *bytes)
{
  struct walk w = { .c = c, .size = qcow2_size (c), .old = old, .out = out };
  int e;

  memset (out, 0, sizeof *out);
  out->size = w.size;
  w.buf = malloc (IO_MAX);
  if (w.buf == NULL)
    return -ENOMEM;
  w.t0 = time_mono_ns ();
  e = held_clusters (c, compute_run, &w);
  free (w.buf);
  if (bytes)
    *bytes = w.bytes;
  if (e < 0)
    basesum_free (out);
  return e;
}

static int
check_one (struct walk *w, uint64_t k, const uint8_t *data, size_t len)
{
  const uint32_t *want = basesum_find (w->s, k);

  if (want == NULL)
    return w->bad (w->opaque, k, true);
  if (*want != crc32c (data, len))
    return w->bad (w->opaque, k, false);
  return 0;
}

static int
check_run (void *opaque, uint64_t first, uint64_t count, bool zero)
{
  return each_cluster (opaque, first, count, zero, check_one);
}

int
basesum_check (struct qcow2_chain *c, const struct basesum *s, uint64_t rate,
               const atomic_bool *stop, basesum_bad_fn fn, void *opaque,
               uint64_t *bytes)
{
  struct walk w = { .c = c, .size = qcow2_size (c), .s = s, .bad = fn,
                    .opaque = opaque, .rate = rate, .stop = stop };
  int e;

  w.buf = malloc (IO_MAX);
  if (w.buf == NULL)
    return -ENOMEM;
  w.t0 = time_mono_ns ();
  e = held_clusters (c, check_run, &w);
  free (w.buf);
  if (bytes)
    *bytes = w.bytes;
  return e;
}

/* ---- reads of a point that check what they read ------------------------------ */

/* Clusters checked lately are read again without a check for TTL_S
 * seconds (as the journal's readers do with records): one bit per
 * cluster and image with sums, all cleared when the epoch is older. */
#define TTL_S 60

struct basesum_chain {
  struct qcow2_chain *c;
  size_t n;
  bool any;                         /* some image has sums */
  char **names;
  struct basesum **sums;
  _Atomic uint64_t **checked;       /* per image with sums: bitmap, or NULL */
  size_t words;                     /* of each bitmap */
  pthread_mutex_t lock;             /* epoch, clearing */
  _Atomic int64_t epoch;            /* monotonic seconds the bitmaps began */
};

static int64_t
mono_s (void)
{
  return time_mono_ns () / 1000000000;
}

/* Forget every check once the epoch is TTL_S old. */
static void
expire (struct basesum_chain *bc)
{
  int64_t now = mono_s ();

  if (now - atomic_load (&bc->epoch) < TTL_S)
    return;
  pthread_mutex_lock (&bc->lock);
  if (now - atomic_load (&bc->epoch) >= TTL_S) {
    for (size_t i = 0; i < bc->n; i++)
      if (bc->checked[i])
        for (size_t w = 0; w < bc->words; w++)
          atomic_store (&bc->checked[i][w], 0);
    atomic_store (&bc->epoch, now);
  }
  pthread_mutex_unlock (&bc->lock);
}

static bool
all_checked (struct basesum_chain *bc, size_t d, uint64_t k0, uint64_t k1)
{
  if (bc->checked[d] == NULL)
    return false;
  expire (bc);
  for (uint64_t k = k0; k < k1; k++)
    if (k / 64 >= bc->words ||
        !(atomic_load (&bc->checked[d][k / 64]) & (1ull << (k % 64))))
      return false;
  return true;
}

static void
mark_checked (struct basesum_chain *bc, size_t d, uint64_t k0, uint64_t k1)
{
  if (bc->checked[d] == NULL)
    return;
  for (uint64_t k = k0; k < k1 && k / 64 < bc->words; k++)
    atomic_fetch_or (&bc->checked[d][k / 64], 1ull << (k % 64));
}

int
basesum_chain_open (struct qcow2_chain *c, char *const *names,
                    struct basesum *const *sums, size_t n,
                    struct basesum_chain **bcp)
{
  struct basesum_chain *bc = calloc (1, sizeof *bc);

  if (bc == NULL)
    return -ENOMEM;
  bc->c = c;
  bc->n = n;
  bc->names = calloc (n ? n : 1, sizeof *bc->names);
  bc->sums = calloc (n ? n : 1, sizeof *bc->sums);
  if (bc->names == NULL || bc->sums == NULL) {
    free (bc->names);
    free (bc->sums);
    free (bc);
    return -ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    bc->names[i] = names[i];
    bc->sums[i] = sums[i];
    bc->any |= sums[i] != NULL;
  }
  pthread_mutex_init (&bc->lock, NULL);
  atomic_store (&bc->epoch, mono_s ());
  bc->words = (qcow2_size (c) / BASESUM_CLUSTER + 64) / 64;
  bc->checked = calloc (n ? n : 1, sizeof *bc->checked);
  for (size_t i = 0; bc->checked && i < n; i++)
    if (sums[i])                    /* without memory: every read checks */
      bc->checked[i] = calloc (bc->words, sizeof **bc->checked);
  *bcp = bc;
  return 0;
}

void
basesum_chain_close (struct basesum_chain *bc)
{
  if (bc == NULL)
    return;
  for (size_t i = 0; i < bc->n; i++) {
    free (bc->names[i]);
    if (bc->sums[i])
      basesum_free (bc->sums[i]);
    free (bc->sums[i]);
  }
  for (size_t i = 0; bc->checked && i < bc->n; i++)
    free ((void *) bc->checked[i]);
  free (bc->checked);
  pthread_mutex_destroy (&bc->lock);
  free (bc->names);
  free (bc->sums);
  qcow2_close (bc->c);
  free (bc);
}

/* Check clusters [k0, k1) of image d, whose bytes are at b (cluster k0
 * at b). */
static int
check_clusters (struct basesum_chain *bc, size_t d, uint64_t k0, uint64_t k1,
                const uint8_t *b)
{
  uint64_t size = qcow2_size (bc->c);

  for (uint64_t k = k0; k < k1; k++) {
    const uint32_t *want = basesum_find (bc->sums[d], k);
    if (want == NULL)
      return damaged (bc->names[d], k, true);
    if (*want != crc32c (b + (k - k0) * BASESUM_CLUSTER, cluster_len (size, k)))
      return damaged (bc->names[d], k, false);
  }
  return 0;
}

/* Check the part [off, off+len) of extent x, already read into buf
 * (which holds offset off); the clusters it covers only in part are
 * read whole into tmp to be checked. */
static int
check_extent (struct basesum_chain *bc, const struct qcow2_extent *x,
              const uint8_t *buf, uint64_t off, uint64_t len, uint8_t **tmp)
{
  uint64_t size = qcow2_size (bc->c), k0, k1, a0, a1;
  int e = 0;

  if (x->depth >= bc->n || bc->sums[x->depth] == NULL ||
      !(x->flags & QCOW2_EXTENT_PRESENT) || (x->flags & QCOW2_EXTENT_ZERO))
    return 0;
  k0 = off / BASESUM_CLUSTER;
  k1 = (off + len + BASESUM_CLUSTER - 1) / BASESUM_CLUSTER;
  if (bc->checked && all_checked (bc, x->depth, k0, k1))
    return 0;
  /* Whole clusters inside the range: checked where they were read. */
  a0 = (off + BASESUM_CLUSTER - 1) / BASESUM_CLUSTER;
  a1 = off + len == size ? k1 : (off + len) / BASESUM_CLUSTER;
  if (a0 < a1)
    e = check_clusters (bc, x->depth, a0, a1, buf + (a0 * BASESUM_CLUSTER - off));
  for (uint64_t k = k0; e == 0 && k < k1; k++) {
    if (a0 < a1 && k >= a0 && k < a1)
      continue;
    if (*tmp == NULL && (*tmp = malloc (BASESUM_CLUSTER)) == NULL)
      return -ENOMEM;
    e = qcow2_pread (bc->c, *tmp, k * BASESUM_CLUSTER, cluster_len (size, k));
    if (e == 0)
      e = check_clusters (bc, x->depth, k, k + 1, *tmp);
  }
  if (e == 0 && bc->checked)
    mark_checked (bc, x->depth, k0, k1);
  return e;
}

/* One read of the range as before, then the clusters of it that images
 * with sums decide are checked in place. */
static int
bs_pread (void *h, void *buf, uint64_t off, uint64_t len)
{
  struct basesum_chain *bc = h;
  struct ext_list l = { 0 };
  uint8_t *tmp = NULL;
  int e;

  have_damage = false;
  e = qcow2_pread (bc->c, buf, off, len);
  if (e < 0 || !bc->any)
    return e;
  e = qcow2_map (bc->c, off, len, collect, &l);
  for (size_t i = 0; e == 0 && i < l.n; i++) {
    uint64_t s = l.e[i].off > off ? l.e[i].off : off;
    uint64_t t = l.e[i].off + l.e[i].len < off + len ? l.e[i].off + l.e[i].len
                                                     : off + len;
    if (s < t)
      e = check_extent (bc, &l.e[i], (const uint8_t *) buf + (s - off), s,
                        t - s, &tmp);
  }
  free (tmp);
  free (l.e);
  return e;
}

static bool
bs_is_hole (void *h, uint64_t off, uint64_t len)
{
  struct basesum_chain *bc = h;

  return qcow2_base_ops.is_hole (bc->c, off, len);
}

static int
bs_holes (void *h, uint64_t off, uint64_t len, point_hole_fn fn, void *opaque)
{
  struct basesum_chain *bc = h;

  return qcow2_base_ops.holes (bc->c, off, len, fn, opaque);
}

const struct point_base_ops basesum_base_ops = {
  .pread = bs_pread, .is_hole = bs_is_hole, .holes = bs_holes,
};
