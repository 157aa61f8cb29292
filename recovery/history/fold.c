/* cdp recovery: making base points. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/vector.h"
#include "recovery/history/basesum.h"
#include "recovery/history/fold.h"
#include "recovery/history/imgwrite.h"
#include "recovery/history/qcow2.h"

#define CLUSTER (64u << 10)
#define IO_MAX (4u << 20)

/* ---- opening points on base points --------------------------------------- */

/* The sums of every image of the chain of bp, top first (NULL where an
 * image has none or they cannot be read: those reads go unchecked, and
 * cdp verify says why).  0 or -ENOMEM. */
static int
chain_sums (const struct base_catalog *cat, const struct base_point *bp,
            struct qcow2_chain *chain, struct basesum_chain **bcp)
{
  char *names[QCOW2_MAX_CHAIN] = { 0 };
  struct basesum *sums[QCOW2_MAX_CHAIN] = { 0 };
  size_t n = 0;
  int r = 0;

  for (; r == 0 && bp && n < QCOW2_MAX_CHAIN && n < qcow2_depth (chain);
       n++) {
    CLEANUP_FREE char *path = catalog_path (cat, bp->file);
    CLEANUP_FREE char *sp = path ? basesum_path (path) : NULL;

    names[n] = strdup (bp->file);
    sums[n] = calloc (1, sizeof *sums[n]);
    if (sp == NULL || names[n] == NULL || sums[n] == NULL)
      r = -ENOMEM;
    else if (basesum_load (sp, sums[n]) < 0) {
      free (sums[n]);
      sums[n] = NULL;
    }
    bp = *bp->parent ? catalog_by_file (cat, bp->parent) : NULL;
  }
  if (r == 0)
    r = basesum_chain_open (chain, names, sums, n, bcp);
  if (r < 0)
    for (size_t i = 0; i < n; i++) {
      free (names[i]);
      if (sums[i])
        basesum_free (sums[i]);
      free (sums[i]);
    }
  return r;
}

int
point_open (struct cdp_index *ix, struct journal_reader *jr,
            const struct base_catalog *cat, uint32_t disk, uint64_t size,
            uint64_t seq, struct point *p)
{
  const struct base_point *bp = cat ? catalog_find (cat, disk, seq) : NULL;
  struct qcow2_chain *chain;
  struct basesum_chain *bc;
  char *path;
  int r;

  *p = (struct point) { .ix = ix, .jr = jr, .disk = disk, .size = size,
                        .seq = seq, .base = &point_zero_base };
  if (bp == NULL)
    return 0;
  path = catalog_path (cat, bp->file);
  if (path == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  r = qcow2_open (path, &chain);
  free (path);
  if (r < 0)
    return cdp_set_error (r, "base point %s: %s", bp->file, cdp_get_error ());
  r = chain_sums (cat, bp, chain, &bc);
  if (r < 0) {
    qcow2_close (chain);
    return cdp_set_error (r, "base point %s: %s", bp->file, strerror (-r));
  }
  p->base = &basesum_base_ops;
  p->base_h = bc;
  p->base_seq = bp->seq;
  p->base_size = qcow2_size (chain);
  return 0;
}

void
point_close (struct point *p)
{
  if (p->base == &qcow2_base_ops)
    qcow2_close (p->base_h);
  else if (p->base == &basesum_base_ops)
    basesum_chain_close (p->base_h);
  p->base = &point_zero_base;
  p->base_h = NULL;
}

/* ---- the ranges to fold -------------------------------------------------- */

struct range {
  uint64_t off, end;
};
DEFINE_VECTOR_TYPE (range_vector, struct range)

static int
add_change (void *opaque, uint64_t off, uint64_t len)
{
  return range_vector_append (opaque, (struct range) { off, off + len });
}

static int
cmp_range (const void *a, const void *b)
{
  const struct range *x = a, *y = b;

  return x->off < y->off ? -1 : x->off > y->off;
}

/* Sort, widen to whole clusters, clip to size, merge. */
static void
normalize (range_vector *v, uint64_t size)
{
  size_t n = 0;

  for (size_t i = 0; i < v->len; i++) {
    v->ptr[i].off -= v->ptr[i].off % CLUSTER;
    v->ptr[i].end = (v->ptr[i].end + CLUSTER - 1) / CLUSTER * CLUSTER;
    if (v->ptr[i].end > size)
      v->ptr[i].end = size;
    if (v->ptr[i].off >= v->ptr[i].end)   /* past a disk since shrunk */
      v->ptr[i--] = v->ptr[--v->len];
  }
  if (v->len > 1)
    qsort (v->ptr, v->len, sizeof v->ptr[0], cmp_range);
  for (size_t i = 0; i < v->len; i++) {
    if (n > 0 && v->ptr[i].off <= v->ptr[n - 1].end) {
      if (v->ptr[i].end > v->ptr[n - 1].end)
        v->ptr[n - 1].end = v->ptr[i].end;
    }
    else
      v->ptr[n++] = v->ptr[i];
  }
  v->len = n;
}

/* ---- copying a range of the point into the image ------------------------- */

/* Write [off, off+len) of p into w: data as data, zeroes as zeroes (an
 * overlay must record them: its backing may hold data there); a full
 * image skips zero ranges, which read as zero anyway. */
/* Is all of [off, off+len) inside one of the holes? */
static bool
in_hole (const point_extent_vector *holes, uint64_t off, uint64_t len)
{
  for (size_t i = 0; i < holes->len; i++)
    if (holes->ptr[i].off <= off &&
        holes->ptr[i].off + holes->ptr[i].len >= off + len)
      return true;
  return false;
}

/* The sums of the clusters of [off, off+len) (cluster-aligned) that the
 * image gets: all of them in an overlay (data, or zeroes over the
 * backing), those with data in a full image.  buf holds what the guest
 * reads, zeroes in the holes. */
static int
add_sums (struct basesum *sums, const uint8_t *buf, uint64_t off,
          uint64_t len, bool overlay, const point_extent_vector *holes)
{
  int r = 0;

  for (uint64_t at = off; r == 0 && at < off + len; at += BASESUM_CLUSTER) {
    uint64_t n = off + len - at < BASESUM_CLUSTER ? off + len - at
                                                  : BASESUM_CLUSTER;
    if (overlay || !in_hole (holes, at, n))
      r = basesum_add (sums, at / BASESUM_CLUSTER, buf + (at - off), n);
  }
  return r;
}

/* Write [off, off+len) of p into w: data as data, zeroes as zeroes (an
 * overlay must record them: its backing may hold data there); a full
 * image skips zero ranges, which read as zero anyway. */
static int
copy_range (const struct point *p, struct imgw *w, uint8_t *buf, uint64_t off,
            uint64_t len, bool overlay, struct basesum *sums,
            struct fold_stats *st)
{
  point_extent_vector holes = empty_vector;
  uint64_t at = off;
  int r = point_pread (p, buf, off, len, &holes);

  if (r < 0)
    cdp_clear_error ();   /* not the image's failure: make_image says r */
  for (size_t i = 0; r == 0 && i <= holes.len; i++) {
    uint64_t h = i < holes.len ? holes.ptr[i].off : off + len;
    uint64_t hl = i < holes.len ? holes.ptr[i].len : 0;
    if (h > at) {
      r = imgw_write (w, buf + (at - off), at, h - at);
      st->bytes_written += h - at;
    }
    if (r == 0 && hl > 0 && overlay) {
      r = imgw_zero (w, h, hl);
      st->bytes_zeroed += hl;
    }
    at = h + hl;
  }
  if (r == 0)
    r = add_sums (sums, buf, off, len, overlay, &holes);
  point_extent_vector_reset (&holes);
  return r;
}

static int
copy_ranges (const struct point *p, struct imgw *w, const range_vector *v,
             bool overlay, struct basesum *sums, struct fold_stats *st)
{
  uint8_t *buf = malloc (IO_MAX);
  int r = buf ? 0 : -ENOMEM;

  for (size_t i = 0; r == 0 && i < v->len; i++)
    for (uint64_t o = v->ptr[i].off; r == 0 && o < v->ptr[i].end; o += IO_MAX) {
      uint64_t n = v->ptr[i].end - o < IO_MAX ? v->ptr[i].end - o : IO_MAX;
      r = copy_range (p, w, buf, o, n, overlay, sums, st);
      st->ranges++;
    }
  free (buf);
  return r;
}

/* ---- fold ----------------------------------------------------------------- */

static int
make_image (const struct fold_source *s, const struct base_point *prev,
            const struct point *p, const char *tmp, bool full,
            const range_vector *changes, struct basesum *sums,
            struct fold_stats *st)
{
  range_vector all = empty_vector;
  struct imgw *w;
  char *backing = full ? NULL : catalog_path (s->cat, prev->file);
  int r;

  if (!full && backing == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  r = imgw_create (tmp, "qcow2", p->size, backing, &w);
  free (backing);
  if (r < 0)
    return r;
  if (full) {
    range_vector_append (&all, (struct range) { 0, p->size });
    r = copy_ranges (p, w, &all, false, sums, st);
  }
  else
    r = copy_ranges (p, w, changes, true, sums, st);
  range_vector_reset (&all);
  if (r < 0) {
    cdp_set_error (r, "writing the base point: %s", *cdp_get_error ()
                   ? cdp_get_error () : strerror (-r));
    imgw_abort (w);
    return r;
  }
  r = imgw_finish (w);
  return r < 0 ? r : 0;
}

int
fold_disk (const struct fold_source *s, uint32_t disk, uint64_t size,
           uint64_t seq, int64_t t, unsigned max_chain, struct fold_stats *st)
{
  const struct base_point *prev = catalog_find (s->cat, disk, seq);
  struct base_point bp = { .disk = disk, .seq = seq, .time_ns = t, .depth = 1 };
  range_vector changes = empty_vector;
  struct basesum sums = { 0 };
  struct point p;
  CLEANUP_FREE char *final = NULL, *tmp = NULL, *sums_path = NULL;
  bool full;
  int r;

  memset (st, 0, sizeof *st);
  if (prev && prev->seq == seq)
    return 0;
  full = prev == NULL || prev->depth + 1 > max_chain;
  snprintf (bp.file, sizeof bp.file, "d%" PRIu32 "-%016" PRIx64 ".qcow2", disk, seq);
  if (!full) {
    strcpy (bp.parent, prev->file);
    bp.depth = prev->depth + 1;
    cdp_clear_error ();
    r = index_changes (s->ix, disk, prev->seq, prev->time_ns, seq, add_change,
                       &changes);
    if (r < 0)
      return cdp_set_error (r, "reading the index: %s", cdp_get_error ());
    normalize (&changes, size);
  }
  final = catalog_path (s->cat, bp.file);
  if (final == NULL || asprintf (&tmp, "%s.tmp", final) < 0)
    tmp = NULL;
  sums_path = final ? basesum_path (final) : NULL;
  if (tmp == NULL || sums_path == NULL)
    r = cdp_set_error (-ENOMEM, "out of memory");
  else
    r = point_open (s->ix, s->jr, s->cat, disk, size, seq, &p);
  if (r < 0) {
    range_vector_reset (&changes);
    return r;
  }
  sums.size = size;
  r = make_image (s, prev, &p, tmp, full, &changes, &sums, st);
  point_close (&p);
  range_vector_reset (&changes);
  /* Durability order: the image is durable (imgw_finish), then its sums
   * (written, synced, renamed, directory synced), then the image gets
   * its name, then the directory entry is synced, then the catalog. */
  if (r == 0 && (r = basesum_save (sums_path, &sums)) < 0)
    cdp_set_error (r, "writing the sums of the base point: %s", strerror (-r));
  basesum_free (&sums);
  if (r == 0 && rename (tmp, final) < 0)
    r = cdp_set_error (-errno, "renaming %s: %s", tmp, strerror (errno));
  if (r == 0) {
    int dfd = open (s->cat->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      fsync (dfd);
      close (dfd);
    }
    r = catalog_add (s->cat, &bp);
    if (r == 0)
      r = catalog_save (s->cat);
    if (r < 0) {
      catalog_remove (s->cat, bp.file);
      unlink (final);
      unlink (sums_path);
      cdp_set_error (r, "saving the catalog: %s", strerror (-r));
    }
  }
  else {
    unlink (tmp);
    unlink (sums_path);
  }
  return r;
}
