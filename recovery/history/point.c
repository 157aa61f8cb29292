/* cdp recovery: reading a point — journal pieces over the base. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "recovery/history/point.h"

static int
zero_pread (void *h, void *buf, uint64_t off, uint64_t len)
{
  memset (buf, 0, len);
  return 0;
}

static bool
zero_is_hole (void *h, uint64_t off, uint64_t len)
{
  return true;
}

const struct point_base_ops point_zero_base = {
  .pread = zero_pread, .is_hole = zero_is_hole,
};

static __thread enum point_source last_failure;

enum point_source
point_last_failure (void)
{
  return last_failure;
}

DEFINE_VECTOR_TYPE (piece_vector, struct index_piece)

static int
collect (void *opaque, const struct index_piece *p)
{
  return piece_vector_append (opaque, *p);
}

static int
cmp_piece (const void *a, const void *b)
{
  const struct index_piece *x = a, *y = b;

  return x->off < y->off ? -1 : x->off > y->off;
}

static int
add_hole (point_extent_vector *holes, uint64_t off, uint64_t len)
{
  if (holes == NULL || len == 0)
    return 0;
  if (holes->len > 0) {
    struct point_extent *last = &holes->ptr[holes->len - 1];
    if (last->off + last->len == off) {
      last->len += len;
      return 0;
    }
  }
  return point_extent_vector_append (holes, (struct point_extent) { off, len });
}

static int
add_base_hole (void *opaque, uint64_t off, uint64_t len)
{
  return add_hole (opaque, off, len);
}

/* How much of [off, off+len) lies inside the base: a disk grown since
 * its base point reads as zero past the base's size. */
static uint64_t
in_base (const struct point *p, uint64_t off, uint64_t len)
{
  uint64_t bs = p->base_size && p->base_size < p->size ? p->base_size
                                                       : p->size;

  return off >= bs ? 0 : len < bs - off ? len : bs - off;
}

/* The holes of [off, off+len) of the base, from its allocation only. */
static int
base_holes (const struct point *p, uint64_t off, uint64_t len,
            point_extent_vector *holes)
{
  uint64_t n = in_base (p, off, len);
  int r = 0;

  if (holes == NULL)
    return 0;
  if (n > 0 && p->base->holes)
    r = p->base->holes (p->base_h, off, n, add_base_hole, holes);
  else if (n > 0 && p->base->is_hole (p->base_h, off, n))
    r = add_hole (holes, off, n);
  return r == 0 ? add_hole (holes, off + n, len - n) : r;
}

/* Read [off, off+len) of the base into buf, zeroes past its size. */
static int
base_pread (const struct point *p, uint8_t *buf, uint64_t off, uint64_t len)
{
  uint64_t n = in_base (p, off, len);

  memset (buf + n, 0, len - n);
  return n > 0 ? p->base->pread (p->base_h, buf, off, n) : 0;
}

/* Fill [off, off+len) from the base (buf NULL: report its holes only). */
static int
from_base (const struct point *p, uint8_t *buf, uint64_t off, uint64_t len,
           point_extent_vector *holes)
{
  int r = 0;

  if (len == 0)
    return 0;
  if (buf)
    r = base_pread (p, buf, off, len);
  if (r < 0)
    last_failure = POINT_SRC_BASE;
  return r == 0 ? base_holes (p, off, len, holes) : r;
}

/* Fill the piece from the journal (buf NULL: report its hole only). */
static int
from_piece (const struct point *p, uint8_t *buf, const struct index_piece *pc,
            point_extent_vector *holes)
{
  int r;

  if (pc->zero) {
    if (buf)
      memset (buf, 0, pc->len);
    return add_hole (holes, pc->off, pc->len);
  }
  if (buf == NULL)
    return 0;
  r = journal_pread_payload (p->jr, pc->loc, pc->loc_off, buf,
                             (uint32_t) pc->len);
  if (r < 0)
    last_failure = POINT_SRC_JOURNAL;
  return r;
}

/* Resolve [off, off+len) into journal pieces and base ranges, and fill
 * buf from them (if not NULL) and holes (if not NULL).  The one walk
 * behind point_pread and point_block_status, so that both report the
 * same holes. */
static int
walk (const struct point *p, uint8_t *buf, uint64_t off, uint64_t len,
      point_extent_vector *holes)
{
  piece_vector pieces = empty_vector;
  uint8_t *bbuf = buf;              /* where base reads go, or NULL */
  uint64_t at = off, end;
  int r;

  last_failure = POINT_SRC_NONE;
  cdp_clear_error ();
  if (__builtin_add_overflow (off, len, &end) || end > p->size)
    return -EINVAL;
  r = p->ix == NULL ? 0         /* no journal above the base */
      : index_resolve (p->ix, p->disk, p->seq, p->base_seq, off, len,
                       collect, &pieces);
  if (r == 0 && pieces.len > 1)     /* qsort (NULL, 0) is undefined */
    qsort (pieces.ptr, pieces.len, sizeof pieces.ptr[0], cmp_piece);
  /* Journal pieces scattered over a base point: one read of the base
   * for the whole range (which checks whole clusters in place) instead
   * of a read, and the check of the clusters at its edges, per gap.
   * Damage there may lie under the pieces: then read the gaps alone. */
  if (r == 0 && buf && pieces.len > 1 && p->base != &point_zero_base) {
    r = base_pread (p, buf, off, len);
    if (r < 0 && r != -EUCLEAN)
      last_failure = POINT_SRC_BASE;
    else if (r == 0)
      bbuf = NULL;
    if (r == -EUCLEAN) {
      cdp_clear_error ();           /* the gaps alone are read below */
      r = 0;
    }
  }
  for (size_t i = 0; r == 0 && i < pieces.len; i++) {
    const struct index_piece *pc = &pieces.ptr[i];
    r = from_base (p, bbuf ? bbuf + (at - off) : NULL, at, pc->off - at, holes);
    if (r == 0)
      r = from_piece (p, buf ? buf + (pc->off - off) : NULL, pc, holes);
    at = pc->off + pc->len;
  }
  if (r == 0)
    r = from_base (p, bbuf ? bbuf + (at - off) : NULL, at, end - at, holes);
  piece_vector_reset (&pieces);
  return r;
}

int
point_pread (const struct point *p, void *buf, uint64_t off, uint64_t len,
             point_extent_vector *holes)
{
  return walk (p, buf, off, len, holes);
}

int
point_block_status (const struct point *p, uint64_t off, uint64_t len,
                    point_extent_vector *holes)
{
  return walk (p, NULL, off, len, holes);
}
