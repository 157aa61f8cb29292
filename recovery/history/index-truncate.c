/* cdp recovery: forgetting records the journal no longer has at its end.
 *
 * A journal written through the page cache (a task with an RPO above 0)
 * can lose its newest records with the host, and the index may have
 * been committed with some of them before (a catch-up by another
 * process reads what the kernel holds).  The journal then goes on from
 * the last record that survived and hands out those sequence numbers
 * again: the index must forget every record past it first, or points
 * would be resolved to records that are not there any more.
 */
#include <errno.h>
#include <string.h>

#include "common/vector.h"
#include "recovery/history/index-internal.h"

struct disk_sec {
  uint32_t disk;
  int64_t sec;
};
DEFINE_VECTOR_TYPE (disk_sec_vector, struct disk_sec)

static int64_t
second_of (int64_t t)
{
  return t >= 0 ? t / 1000000000 : -((-t + 999999999) / 1000000000);
}

/* A dropped extents, times or events entry (their seq past after); the
 * seconds of the writes of times entries dropped are kept in secs.
 * Every database is walked in full: extents keys are (disk, chunk,
 * ~seq), spread all over it; times keys are (time, seq), and a clock
 * that stepped back may have put a dropped record anywhere; events are
 * few.  This runs once after a power loss, never on the write path. */
struct drop {
  uint64_t after;
  disk_sec_vector secs;
};

static int
ext_past (void *opaque, const MDB_val *k, const MDB_val *v)
{
  const struct drop *d = opaque;

  return k->mv_size == sizeof (struct ext_key) &&
         ~get_be64 ((uint8_t *) k->mv_data + 12) > d->after;
}

static int
time_past (void *opaque, const MDB_val *k, const MDB_val *v)
{
  struct drop *d = opaque;
  struct time_val tv;

  if (k->mv_size != 16 || get_be64 ((uint8_t *) k->mv_data + 8) <= d->after)
    return 0;
  if (v->mv_size == sizeof tv) {
    memcpy (&tv, v->mv_data, sizeof tv);
    if (tv.type <= JOURNAL_TRIM &&
        disk_sec_vector_append (&d->secs, (struct disk_sec) {
            tv.disk, second_of (key_time (get_be64 (k->mv_data))) }) < 0)
      return -ENOMEM;
  }
  return 1;
}

static int
event_past (void *opaque, const MDB_val *k, const MDB_val *v)
{
  const struct drop *d = opaque;

  return k->mv_size == 8 && get_be64 (k->mv_data) > d->after;
}

/* The seconds entry of (disk, sec) named a dropped record: point it at
 * the newest write of that second that stays, or drop it. */
static int
redo_second (struct cdp_index *ix, MDB_txn *txn, const struct disk_sec *s)
{
  uint8_t sk[12], kb[16];
  MDB_val skv = { sizeof sk, sk }, k = { sizeof kb, kb }, v;
  MDB_cursor *cur;
  uint64_t best = 0;
  int rc;

  put_be32 (sk, s->disk);
  put_be64 (sk + 4, time_key (s->sec));
  rc = mdb_del (txn, ix->seconds, &skv, NULL);
  if (rc && rc != MDB_NOTFOUND)
    return rc;
  rc = mdb_cursor_open (txn, ix->times, &cur);
  if (rc)
    return rc;
  put_be64 (kb, time_key (s->sec * 1000000000));
  memset (kb + 8, 0, 8);
  rc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && k.mv_size == 16 &&
         second_of (key_time (get_be64 (k.mv_data))) == s->sec) {
    struct time_val tv;
    if (v.mv_size == sizeof tv) {
      memcpy (&tv, v.mv_data, sizeof tv);
      if (tv.disk == s->disk && tv.type <= JOURNAL_TRIM)
        best = get_be64 ((uint8_t *) k.mv_data + 8);
    }
    rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close (cur);
  if (rc && rc != MDB_NOTFOUND)
    return rc;
  if (best == 0)
    return 0;
  v = (MDB_val) { sizeof best, &best };
  return mdb_put (txn, ix->seconds, &skv, &v, 0);
}

int
index_forget_after (struct cdp_index *ix, uint64_t after)
{
  struct drop d = { .after = after, .secs = empty_vector };
  MDB_txn *txn;
  int rc = mdb_txn_begin (ix->env, NULL, 0, &txn);

  if (rc)
    return mdb_to_errno (rc);
  if (meta_get (txn, ix->meta, "last_seq") <= after) {
    mdb_txn_abort (txn);
    return 0;
  }
  if ((rc = dbi_drop_where (txn, ix->extents, ext_past, &d)) == 0 &&
      (rc = dbi_drop_where (txn, ix->times, time_past, &d)) == 0)
    rc = dbi_drop_where (txn, ix->events, event_past, &d);
  for (size_t i = 0; rc == 0 && i < d.secs.len; i++)
    if (i == 0 || d.secs.ptr[i].disk != d.secs.ptr[i - 1].disk ||
        d.secs.ptr[i].sec != d.secs.ptr[i - 1].sec)
      rc = redo_second (ix, txn, &d.secs.ptr[i]);
  /* Where the last record is is not known any more: a catch-up scans
   * its segment from the top. */
  if (rc == 0)
    rc = meta_put (txn, ix->meta, "last_seq", after);
  if (rc == 0)
    rc = meta_put (txn, ix->meta, "last_seg", 0);
  if (rc == 0)
    rc = meta_put (txn, ix->meta, "last_off", 0);
  disk_sec_vector_reset (&d.secs);
  if (rc) {
    mdb_txn_abort (txn);
    return mdb_to_errno (rc);
  }
  return mdb_to_errno (mdb_txn_commit (txn));
}
