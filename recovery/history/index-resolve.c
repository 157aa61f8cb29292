/* cdp recovery: which records decide the bytes of a read at a point.
 *
 * For each 64 KiB chunk the read touches, walk the chunk's entries from
 * the newest at or before the point towards older ones, and hand out
 * the parts of each record's range that no newer record already
 * decided.  The walk of a chunk stops as soon as the read's part of it
 * is decided, or at the base point.  Cost grows with the size of the
 * read (and the writes to those chunks since the base), not with the
 * length of the journal.
 */
#include <errno.h>
#include <string.h>

#include "common/vector.h"
#include "recovery/history/index-internal.h"

struct span {
  uint64_t off, end;
};
DEFINE_VECTOR_TYPE (span_vector, struct span)

/* Hand out the parts of [o, e) still open in *open, and close them. */
static int
claim (span_vector *open, uint64_t o, uint64_t e, const struct ext_val *v,
       index_piece_fn fn, void *opaque)
{
  for (size_t i = 0; i < open->len; i++) {
    struct span s = open->ptr[i];
    uint64_t a = o > s.off ? o : s.off, b = e < s.end ? e : s.end;
    int r;
    if (a >= b)
      continue;
    struct index_piece p = {
      .off = a, .len = b - a,
      .zero = v->type != JOURNAL_WRITE, .trim = v->type == JOURNAL_TRIM,
      .loc = { v->segment, v->loc_off }, .loc_off = (uint32_t) (a - v->off),
    };
    if ((r = fn (opaque, &p)) < 0)
      return r;
    /* Replace s by what is left of it on either side. */
    span_vector_remove (open, i);
    if (b < s.end && (r = span_vector_append (open, (struct span) { b, s.end })) < 0)
      return r;
    if (s.off < a && (r = span_vector_append (open, (struct span) { s.off, a })) < 0)
      return r;
    i = (size_t) -1;                /* restart: the list changed */
  }
  return 0;
}

static int
resolve_chunk (MDB_cursor *cur, uint32_t disk, uint64_t chunk, uint64_t seq,
               uint64_t base_seq, span_vector *open, index_piece_fn fn,
               void *opaque)
{
  struct ext_key k;
  MDB_val key = { sizeof k, &k }, val;
  uint32_t d;
  uint64_t c, s;
  int rc, r;

  ext_key_make (&k, disk, chunk, seq);
  rc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
  while (rc == 0 && open->len > 0) {
    struct ext_val v;
    ext_key_split (key.mv_data, &d, &c, &s);
    if (d != disk || c != chunk || s <= base_seq)
      return 0;
    memcpy (&v, val.mv_data, sizeof v);
    if ((r = claim (open, v.off, v.off + v.len, &v, fn, opaque)) < 0)
      return r;
    rc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
  }
  return rc == MDB_NOTFOUND ? 0 : mdb_to_errno (rc);
}

int
index_resolve (struct cdp_index *ix, uint32_t disk, uint64_t seq,
               uint64_t base_seq, uint64_t off, uint64_t len,
               index_piece_fn fn, void *opaque)
{
  span_vector open = empty_vector;
  MDB_txn *txn;
  MDB_cursor *cur = NULL;
  uint64_t end, c;
  int r;

  if (len == 0)
    return 0;
  if (__builtin_add_overflow (off, len, &end))
    return -EINVAL;
  r = mdb_to_errno (mdb_txn_begin (ix->env, NULL, MDB_RDONLY, &txn));
  if (r < 0)
    return r;
  /* Records after base_seq that the index forgot (with the journal they
   * were in) would silently read as the base: the point is gone. */
  if (seq > base_seq && meta_get (txn, ix->meta, "first_seq") > base_seq + 1) {
    mdb_txn_abort (txn);
    return -ESTALE;
  }
  r = mdb_to_errno (mdb_cursor_open (txn, ix->extents, &cur));
  for (c = off / INDEX_CHUNK; r == 0 && c <= (end - 1) / INDEX_CHUNK; c++) {
    uint64_t a = c * INDEX_CHUNK, b = a + INDEX_CHUNK;
    open.len = 0;
    r = span_vector_append (&open, (struct span) { a > off ? a : off,
                                                   b < end ? b : end });
    if (r == 0)
      r = resolve_chunk (cur, disk, c, seq, base_seq, &open, fn, opaque);
  }
  if (cur)
    mdb_cursor_close (cur);
  mdb_txn_abort (txn);
  span_vector_reset (&open);
  return r;
}
