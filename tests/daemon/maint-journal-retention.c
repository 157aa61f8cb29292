/* Journal retention, in-process: once base points cover the history,
 * maintenance reclaims the journal's segments older than
 * --journal-retention, first making a base point at every locked point
 * and bookmark in them (which base-point retention then keeps), and
 * the index forgets what the journal no longer holds.  The points kept
 * read as the disk was then. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/daemon/daemon.h"
#include "recovery/history/qcow2.h"
#include "tests/daemon/daemon-test.h"

#define SIZE (1u << 20)
#define LEN (128u << 10)          /* eight records fill a 1 MiB segment */
#define WRITES 40

/* The base point of disk 0 at exactly seq reads as want. */
static void
check_base (const struct base_catalog *c, uint64_t seq, const void *want)
{
  const struct base_point *bp = catalog_find (c, 0, seq);
  struct qcow2_chain *q;
  void *got = malloc (SIZE);
  char *path;

  cr_assert_not_null (bp, "no base point at %llu", (unsigned long long) seq);
  cr_assert_eq (bp->seq, seq, "no base point at %llu", (unsigned long long) seq);
  path = catalog_path (c, bp->file);
  cr_assert_eq (qcow2_open (path, &q), 0, "%s", cdp_get_error ());
  cr_assert_eq (qcow2_pread (q, got, 0, SIZE), 0);
  cr_assert_eq (memcmp (got, want, SIZE), 0, "base point at %llu reads "
                "otherwise", (unsigned long long) seq);
  qcow2_close (q);
  free (path);
  free (got);
}

Test (maint_journal_retention, reclaimed_around_kept_points, .timeout = 300)
{
  struct dt d;
  struct maint *m;
  struct nbd_handle *h;
  struct journal *j;
  struct journal_record rec;
  struct base_catalog c;
  unsigned char *disk = calloc (1, SIZE), *at_lock = NULL, *at_mark = NULL;
  uint64_t lock_seq = 0, mark_seq = 0, last;
  char *dir;

  dt_task (&d, SIZE, 1u << 20);
  d.t->policy.journal_retention = 1;
  d.t->policy.bp_retention = 1;
  dt_start (&d);
  j = receiver_journal (d.r);
  h = dt_connect (&d);
  for (unsigned i = 0; i < WRITES; i++) {
    uint64_t off = (uint64_t) (i * 3 % 8) * LEN;
    void *buf = dt_pattern (LEN, i);
    cr_assert_eq (nbd_pwrite (h, buf, LEN, off, 0), 0, "%s", nbd_get_error ());
    memcpy (disk + off, buf, LEN);
    free (buf);
    if (i == 9) {                       /* a locked point */
      lock_seq = journal_last_seq (j);
      cr_assert (dt_record (&d, lock_seq, &rec, NULL, 0));
      cr_assert_eq (locks_change (d.t, lock_seq, rec.time_ns, true), 0);
      at_lock = malloc (SIZE);
      memcpy (at_lock, disk, SIZE);
    }
    if (i == 19) {                      /* a bookmark */
      cr_assert_eq (receiver_event (d.r, JOURNAL_BOOKMARK, 0, "mark", 0), 0);
      mark_seq = journal_last_seq (j);
      at_mark = malloc (SIZE);
      memcpy (at_mark, disk, SIZE);
    }
  }
  last = journal_last_seq (j);
  cr_assert_eq (journal_first_seq (j), 1);

  cr_assert_eq (maint_start (d.t, d.r, &m), 0);
  maint_fold_now (m);           /* a base point at the newest, then retention */
  cr_assert_gt (journal_first_seq (j), mark_seq,
                "the segments covered were not reclaimed");
  cr_assert_geq (index_first_seq (receiver_index (d.r)), journal_first_seq (j),
                 "the index still names reclaimed records");
  dir = task_path (d.t, "base");
  cr_assert_eq (catalog_load (dir, false, &c), 0);
  free (dir);
  cr_assert_eq (c.v.len, 3, "base points at the lock, the bookmark and the "
                "newest write, not %zu", c.v.len);
  check_base (&c, lock_seq, at_lock);
  check_base (&c, mark_seq, at_mark);
  check_base (&c, last, disk);
  catalog_free (&c);

  maint_stop (m);
  dt_disconnect (h);
  dt_teardown (&d);
  free (disk);
  free (at_lock);
  free (at_mark);
}
