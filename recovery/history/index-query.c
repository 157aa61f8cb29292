/* cdp recovery: time lookups, events, seconds, fidelity, forgetting. */
#include <errno.h>
#include <string.h>

#include "recovery/history/index-internal.h"

static int
read_txn (struct cdp_index *ix, MDB_txn **txn)
{
  return mdb_to_errno (mdb_txn_begin (ix->env, NULL, MDB_RDONLY, txn));
}

int
index_seq_at (struct cdp_index *ix, int64_t t, uint64_t *seq, int64_t *time)
{
  MDB_txn *txn;
  MDB_cursor *cur;
  uint8_t kb[16];
  MDB_val k = { sizeof kb, kb }, v;
  int r, rc;

  *seq = 0;
  if ((r = read_txn (ix, &txn)) < 0)
    return r;
  rc = mdb_cursor_open (txn, ix->times, &cur);
  if (rc == 0) {
    /* The first key past (t, any seq), then one step back. */
    put_be64 (kb, time_key (t) + 1);
    memset (kb + 8, 0, 8);
    if (t == INT64_MAX)
      rc = mdb_cursor_get (cur, &k, &v, MDB_LAST);
    else {
      rc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE);
      rc = rc == MDB_NOTFOUND ? mdb_cursor_get (cur, &k, &v, MDB_LAST)
                              : mdb_cursor_get (cur, &k, &v, MDB_PREV);
    }
    if (rc == 0 && key_time (get_be64 (k.mv_data)) <= t) {
      *seq = get_be64 ((uint8_t *) k.mv_data + 8);
      if (time)
        *time = key_time (get_be64 (k.mv_data));
    }
    mdb_cursor_close (cur);
  }
  mdb_txn_abort (txn);
  return rc == 0 || rc == MDB_NOTFOUND ? 0 : mdb_to_errno (rc);
}

int
index_events (struct cdp_index *ix, uint64_t from, uint64_t to,
              index_event_fn fn, void *opaque)
{
  MDB_txn *txn;
  MDB_cursor *cur;
  uint8_t kb[8];
  MDB_val k = { sizeof kb, kb }, v;
  int r, rc;

  if ((r = read_txn (ix, &txn)) < 0)
    return r;
  rc = mdb_cursor_open (txn, ix->events, &cur);
  if (rc == 0) {
    put_be64 (kb, from);
    rc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && r == 0) {
      struct index_event ev;
      if (get_be64 (k.mv_data) > to || v.mv_size != sizeof ev)
        break;
      memcpy (&ev, v.mv_data, sizeof ev);
      r = fn (opaque, &ev);
      rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close (cur);
  }
  mdb_txn_abort (txn);
  if (r < 0)
    return r;
  return rc == 0 || rc == MDB_NOTFOUND ? 0 : mdb_to_errno (rc);
}

int
index_seconds (struct cdp_index *ix, uint32_t disk, int64_t from_ns,
               int64_t to_ns, index_second_fn fn, void *opaque)
{
  MDB_txn *txn;
  MDB_cursor *cur;
  uint8_t kb[12];
  MDB_val k = { sizeof kb, kb }, v;
  int64_t from = from_ns / 1000000000, to = to_ns / 1000000000;
  int r, rc;

  if ((r = read_txn (ix, &txn)) < 0)
    return r;
  rc = mdb_cursor_open (txn, ix->seconds, &cur);
  if (rc == 0) {
    put_be32 (kb, disk);
    put_be64 (kb + 4, time_key (from));
    rc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && r == 0) {
      uint64_t seq;
      int64_t sec = key_time (get_be64 ((uint8_t *) k.mv_data + 4));
      if (get_be32 (k.mv_data) != disk || sec > to)
        break;
      memcpy (&seq, v.mv_data, sizeof seq);
      r = fn (opaque, sec, seq);
      rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close (cur);
  }
  mdb_txn_abort (txn);
  if (r < 0)
    return r;
  return rc == 0 || rc == MDB_NOTFOUND ? 0 : mdb_to_errno (rc);
}

struct faithful_walk {
  uint32_t disk;
  uint64_t seq;
  int64_t t;
  bool faithful;
};

static int
faithful_cb (void *opaque, const struct index_event *e)
{
  struct faithful_walk *w = opaque;

  if (e->disk != w->disk ||
      (e->type != JOURNAL_GAP && e->type != JOURNAL_RESUME))
    return 0;
  if (e->seq <= w->seq) {
    w->faithful = e->type == JOURNAL_RESUME;
    return 0;
  }
  /* The first gap/resume after the point: a gap journaled after the
   * fact may have begun before t. */
  if (e->type == JOURNAL_GAP && e->time_ns <= w->t)
    w->faithful = false;
  return 1;
}

int
index_faithful (struct cdp_index *ix, uint32_t disk, uint64_t seq,
                int64_t t, bool *faithful)
{
  struct faithful_walk w = { disk, seq, t, true };
  int r = index_events (ix, 0, UINT64_MAX, faithful_cb, &w);

  *faithful = w.faithful;
  return r;
}

int
dbi_drop_where (MDB_txn *txn, MDB_dbi dbi, dbi_drop_fn drop, void *opaque)
{
  MDB_cursor *cur;
  MDB_val k, v;
  int rc = mdb_cursor_open (txn, dbi, &cur), d;

  if (rc)
    return rc;
  rc = mdb_cursor_get (cur, &k, &v, MDB_FIRST);
  while (rc == 0) {
    if ((d = drop (opaque, &k, &v)) < 0) {
      rc = d == -ENOMEM ? ENOMEM : EIO;
      break;
    }
    if (d > 0 && (rc = mdb_cursor_del (cur, 0)) != 0)
      break;
    rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close (cur);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

struct below {
  uint64_t before;
  uint64_t (*seq_of) (const MDB_val *k, const MDB_val *v);
};

static int
is_below (void *opaque, const MDB_val *k, const MDB_val *v)
{
  const struct below *b = opaque;

  return b->seq_of (k, v) < b->before;
}

/* Delete every entry of dbi whose seq (read by seq_of) is below before. */
static int
forget_dbi (MDB_txn *txn, MDB_dbi dbi, uint64_t before,
            uint64_t (*seq_of) (const MDB_val *k, const MDB_val *v))
{
  struct below b = { before, seq_of };

  return dbi_drop_where (txn, dbi, is_below, &b);
}

static uint64_t ext_seq (const MDB_val *k, const MDB_val *v)
{ return ~get_be64 ((uint8_t *) k->mv_data + 12); }
static uint64_t time_seq (const MDB_val *k, const MDB_val *v)
{ return get_be64 ((uint8_t *) k->mv_data + 8); }
static uint64_t sec_seq (const MDB_val *k, const MDB_val *v)
{ uint64_t s; memcpy (&s, v->mv_data, 8); return s; }
static uint64_t ev_seq (const MDB_val *k, const MDB_val *v)
{ return get_be64 (k->mv_data); }

int
index_forget (struct cdp_index *ix, uint64_t before)
{
  MDB_txn *txn;
  int rc = mdb_txn_begin (ix->env, NULL, 0, &txn);

  if (rc)
    return mdb_to_errno (rc);
  if ((rc = forget_dbi (txn, ix->extents, before, ext_seq)) ||
      (rc = forget_dbi (txn, ix->times, before, time_seq)) ||
      (rc = forget_dbi (txn, ix->seconds, before, sec_seq))) {
    mdb_txn_abort (txn);
    return mdb_to_errno (rc);
  }
  (void) ev_seq;                    /* events outlive the journal */
  if (meta_get (txn, ix->meta, "first_seq") < before &&
      (rc = meta_put (txn, ix->meta, "first_seq", before)) != 0) {
    mdb_txn_abort (txn);
    return mdb_to_errno (rc);
  }
  return mdb_to_errno (mdb_txn_commit (txn));
}

int
index_span (struct cdp_index *ix, int64_t *first, int64_t *last)
{
  MDB_txn *txn;
  MDB_cursor *cur;
  MDB_val k, v;
  int r, rc;

  *first = *last = 0;
  if ((r = read_txn (ix, &txn)) < 0)
    return r;
  rc = mdb_cursor_open (txn, ix->times, &cur);
  if (rc == 0) {
    if ((rc = mdb_cursor_get (cur, &k, &v, MDB_FIRST)) == 0)
      *first = key_time (get_be64 (k.mv_data));
    if (rc == 0 && (rc = mdb_cursor_get (cur, &k, &v, MDB_LAST)) == 0)
      *last = key_time (get_be64 (k.mv_data));
    mdb_cursor_close (cur);
  }
  mdb_txn_abort (txn);
  return rc == 0 || rc == MDB_NOTFOUND ? 0 : mdb_to_errno (rc);
}

int
index_changes (struct cdp_index *ix, uint32_t disk, uint64_t from,
               int64_t from_time, uint64_t to, index_change_fn fn,
               void *opaque)
{
  MDB_txn *txn;
  MDB_cursor *cur;
  uint8_t kb[16];
  MDB_val k = { sizeof kb, kb }, v;
  int r, rc;

  if ((r = read_txn (ix, &txn)) < 0)
    return r;
  rc = mdb_cursor_open (txn, ix->times, &cur);
  if (rc == 0) {
    put_be64 (kb, time_key (from_time));
    put_be64 (kb + 8, from);
    rc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && r == 0) {
      uint64_t seq = get_be64 ((uint8_t *) k.mv_data + 8);
      struct time_val tv;
      if (seq > to)
        break;
      if (v.mv_size == sizeof tv) {
        memcpy (&tv, v.mv_data, sizeof tv);
        if (seq > from && tv.disk == disk && tv.type <= JOURNAL_TRIM &&
            tv.len > 0)
          r = fn (opaque, tv.off, tv.len);
      }
      rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close (cur);
  }
  mdb_txn_abort (txn);
  if (r < 0)
    return r;
  return rc == 0 || rc == MDB_NOTFOUND ? 0 : mdb_to_errno (rc);
}
