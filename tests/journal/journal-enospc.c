/* A full file system fails appends with ENOSPC and nothing else: every
 * record acknowledged before is still there after reopening, and once
 * space is reclaimed appends succeed again.  The journal lives on a
 * small tmpfs mounted for the test (needs root, as CI is). */
#include <sys/mount.h>
#include <unistd.h>

#include "common/error.h"
#include "journal-test.h"

Test (journal_enospc, full_fs_keeps_acknowledged_records, .timeout = 120)
{
  char *mnt = make_tmpdir ();
  char dir[512];
  struct journal_options o = { .segment_size = 1 << 20, .create = true,
                               .free_segments = 1 };
  struct journal *j;
  struct journal_record rec, *recs;
  uint64_t acked = 0, i;
  int e = 0, fails = 0;
  size_t n;

  cr_assert_eq (mount ("cdp-test", mnt, "tmpfs", 0, "size=6m"), 0,
                "mounting a tmpfs needs root");
  snprintf (dir, sizeof dir, "%s/journal", mnt);
  cr_assert_eq (journal_open (dir, &o, &j), 0);
  for (i = 1; i < 100000 && fails < 20; i++) {
    e = append_numbered (j, i, 32768, &rec);
    if (e == 0) {
      cr_assert_eq (fails, 0, "no success after the first ENOSPC");
      acked = rec.seq;
      cr_assert_eq (rec.offset, i * 4096);
    }
    else {
      cr_assert_eq (e, -ENOSPC, "append failed with %d", e);
      fails++;
    }
  }
  cr_assert_eq (fails, 20);
  cr_assert_gt (acked, 100);
  journal_close (j);

  /* Reopen on the full file system: every acknowledged record is there. */
  cr_assert_eq (journal_open (dir, &o, &j), 0, "%s", cdp_get_error ());
  n = all_records (dir, &recs);
  cr_assert_eq (n, acked);
  free (recs);

  /* Reclaim the oldest half: writing works again and the sequence runs on. */
  cr_assert_gt (journal_reclaim (j, acked / 2), 0);
  cr_assert_eq (append_numbered (j, 1, 32768, &rec), 0, "%s",
                cdp_get_error ());
  cr_assert_eq (rec.seq, acked + 1);
  journal_close (j);
  {
    struct journal_reader *r;
    cr_assert_eq (journal_reader_open (dir, &r), 0);
    uint64_t first = journal_reader_first_seq (r);
    cr_assert_gt (first, 1);
    cr_assert_eq (journal_verify (r), (int64_t) (acked + 1 - first + 1));
    journal_reader_close (r);
  }
  umount2 (mnt, MNT_DETACH);
  remove_tree (mnt);
  free (mnt);
}
