/* cdp recovery: walking the whole index, for checks against the
 * journal (cdp verify). */
#include <errno.h>
#include <string.h>

#include "recovery/history/index-internal.h"

int
index_walk (struct cdp_index *ix, index_extent_fn ext_fn,
            index_time_fn time_fn, void *opaque, struct index_bounds *b)
{
  MDB_txn *txn;
  MDB_cursor *cur;
  MDB_val k, v;
  int r = 0, rc;

  rc = mdb_txn_begin (ix->env, NULL, MDB_RDONLY, &txn);
  if (rc)
    return mdb_to_errno (rc);
  b->first_seq = meta_get (txn, ix->meta, "first_seq");
  b->last_seq = meta_get (txn, ix->meta, "last_seq");
  rc = mdb_cursor_open (txn, ix->extents, &cur);
  for (int op = MDB_FIRST; rc == 0 && r == 0; op = MDB_NEXT) {
    struct index_extent x = { 0 };
    struct ext_val ev;
    if ((rc = mdb_cursor_get (cur, &k, &v, op)) != 0)
      break;
    x.malformed = k.mv_size != sizeof (struct ext_key) || v.mv_size != sizeof ev;
    if (!x.malformed) {
      ext_key_split (k.mv_data, &x.disk, &x.chunk, &x.seq);
      memcpy (&ev, v.mv_data, sizeof ev);
      x.loc = (struct journal_loc) { ev.segment, ev.loc_off };
      x.type = ev.type;
      x.off = ev.off;
      x.len = ev.len;
    }
    r = ext_fn (opaque, &x);
  }
  if (rc == 0 || rc == MDB_NOTFOUND) {
    mdb_cursor_close (cur);
    rc = mdb_cursor_open (txn, ix->times, &cur);
  }
  for (int op = MDB_FIRST; rc == 0 && r == 0; op = MDB_NEXT) {
    struct index_time x = { 0 };
    struct time_val tv;
    if ((rc = mdb_cursor_get (cur, &k, &v, op)) != 0)
      break;
    x.malformed = k.mv_size != 16 || v.mv_size != sizeof tv;
    if (!x.malformed) {
      memcpy (&tv, v.mv_data, sizeof tv);
      x.time_ns = key_time (get_be64 (k.mv_data));
      x.seq = get_be64 ((uint8_t *) k.mv_data + 8);
      x.disk = tv.disk;
      x.type = tv.type;
      x.off = tv.off;
      x.len = tv.len;
    }
    r = time_fn (opaque, &x);
  }
  if (cur)
    mdb_cursor_close (cur);
  mdb_txn_abort (txn);
  if (r != 0)
    return r;
  return rc == 0 || rc == MDB_NOTFOUND ? 0 : mdb_to_errno (rc);
}
