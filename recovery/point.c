/* cdp recovery: reading a point — journal pieces over the base. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "recovery/point.h"

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

/* Fill [off, off+len) from the base. */
static int
from_base (const struct point *p, uint8_t *buf, uint64_t off, uint64_t len,
           point_extent_vector *holes)
{
  int r;

  if (len == 0)
    return 0;
  r = p->base->pread (p->base_h, buf, off, len);
  if (r == 0 && p->base->is_hole (p->base_h, off, len))
    r = add_hole (holes, off, len);
  return r;
}

static int
from_piece (const struct point *p, uint8_t *buf, const struct index_piece *pc,
            point_extent_vector *holes)
{
  if (pc->zero) {
    memset (buf, 0, pc->len);
    return add_hole (holes, pc->off, pc->len);
  }
  return journal_pread_payload (p->jr, pc->loc, pc->loc_off, buf,
                                (uint32_t) pc->len);
}

int
point_pread (const struct point *p, void *buf, uint64_t off, uint64_t len,
             point_extent_vector *holes)
{
  piece_vector pieces = empty_vector;
  uint8_t *b = buf;
  uint64_t at = off, end;
  int r;

  if (__builtin_add_overflow (off, len, &end) || end > p->size)
    return -EINVAL;
  r = index_resolve (p->ix, p->disk, p->seq, p->base_seq, off, len,
                     collect, &pieces);
  if (r == 0 && pieces.len > 1)     /* qsort (NULL, 0) is undefined */
    qsort (pieces.ptr, pieces.len, sizeof pieces.ptr[0], cmp_piece);
  for (size_t i = 0; r == 0 && i < pieces.len; i++) {
    const struct index_piece *pc = &pieces.ptr[i];
    r = from_base (p, b + (at - off), at, pc->off - at, holes);
    if (r == 0)
      r = from_piece (p, b + (pc->off - off), pc, holes);
    at = pc->off + pc->len;
  }
  if (r == 0)
    r = from_base (p, b + (at - off), at, end - at, holes);
  piece_vector_reset (&pieces);
  return r;
}
