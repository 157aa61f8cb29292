/* cdp recovery: bringing the index up to the journal. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "recovery/history/index-internal.h"

#define BATCH 8192

/* Move last_seq up to first - 1 where the journal lost older records. */
static int
skip_reclaimed (struct cdp_index *ix, uint64_t first)
{
  MDB_txn *txn;
  MDB_val k = { 8, "last_seq" }, v;
  uint64_t last = 0, want = first - 1;
  int rc;

  rc = mdb_txn_begin (ix->env, NULL, 0, &txn);
  if (rc)
    return mdb_to_errno (rc);
  if (mdb_get (txn, ix->meta, &k, &v) == 0 && v.mv_size == 8)
    memcpy (&last, v.mv_data, 8);
  if (last >= want) {
    mdb_txn_abort (txn);
    return 0;
  }
  v = (MDB_val) { 8, &want };
  rc = mdb_put (txn, ix->meta, &k, &v, 0);
  if (rc == 0 && meta_get (txn, ix->meta, "first_seq") < first)
    rc = meta_put (txn, ix->meta, "first_seq", first);
  if (rc) {
    mdb_txn_abort (txn);
    return mdb_to_errno (rc);
  }
  return mdb_to_errno (mdb_txn_commit (txn));
}

/* Labels of bookmark/gap/resume records come from their payloads. */
static int
read_label (struct journal_reader *r, const struct journal_record *rec,
            char **label)
{
  struct journal_record full;
  char *buf;
  int e;

  *label = NULL;
  if (rec->type < JOURNAL_BOOKMARK || rec->type > JOURNAL_RESUME)
    return 0;
  buf = calloc (1, rec->payload_len + 1);
  if (buf == NULL)
    return -ENOMEM;
  e = journal_read_record (r, rec->loc, &full, buf);
  if (e < 0) {
    free (buf);
    return e;
  }
  *label = buf;
  return 0;
}

static void
free_labels (char **labels, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free (labels[i]);
    labels[i] = NULL;
  }
}

/* Does the journal still hold the index's last record?  If it ends
 * before it (its page cache tail was lost with the host), the index
 * forgets what it lost, before those sequence numbers are used again. */
static int
drop_lost_tail (struct cdp_index *ix, struct journal_reader *r)
{
  struct journal_record rec;
  struct journal_loc loc;
  uint64_t last, end;
  int e = index_last_loc (ix, &last, &loc);

  if (e < 0 || last == 0)
    return e;
  if (loc.segment != 0 &&
      journal_read_record (r, loc, &rec, NULL) == 0 && rec.seq == last)
    return 0;                       /* the usual case, at one read */
  if (journal_reader_first_seq (r) > last)
    return 0;                       /* reclaimed past it: skip_reclaimed */
  e = journal_find_time (r, INT64_MAX, &end);
  if (e < 0)
    return e;
  if (end == 0 || end - 1 >= last)
    return 0;
  return index_forget_after (ix, end - 1);
}

int64_t
index_catch_up (struct cdp_index *ix, struct journal_reader *r)
{
  struct journal_record *recs = malloc (BATCH * sizeof *recs);
  char **labels = calloc (BATCH, sizeof *labels);
  struct journal_iter *it = NULL;
  uint64_t first = journal_reader_first_seq (r);
  int64_t added = 0;
  size_t n = 0;
  int e = recs && labels ? 0 : -ENOMEM;

  struct journal_loc hint = { 0, 0 };
  uint64_t last = 0;

  /* The journal's segment renames are durable before the index_forget
   * that follows them: after a crash the index may still hold records
   * the journal has lost.  Whatever it holds below the journal's first
   * record goes now, else points would be offered on records gone. */
  if (e == 0)
    e = drop_lost_tail (ix, r);
  if (e == 0 && first > 0 && index_first_seq (ix) < first)
    e = index_forget (ix, first);
  if (e == 0 && first > index_last_seq (ix) + 1)
    e = skip_reclaimed (ix, first);
  if (e == 0)
    e = index_last_loc (ix, &last, &hint);
  if (e == 0)
    e = journal_iter_new_at (r, last + 1, hint, &it);
  while (e == 0) {
    int more = journal_iter_next (it, &recs[n]);
    if (more < 0)
      e = more;
    else if (more == 1)
      e = read_label (r, &recs[n], &labels[n]);
    if (e == 0 && more == 1)
      n++;
    if (e == 0 && n > 0 && (n == BATCH || more == 0)) {
      e = index_apply (ix, recs, (const char *const *) labels, n);
      free_labels (labels, n);
      added += n;
      n = 0;
    }
    if (more == 0)
      break;
  }
  free_labels (labels, n);
  journal_iter_free (it);
  free (recs);
  free (labels);
  return e < 0 ? e : added;
}
