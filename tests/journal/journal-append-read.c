/* Records appended are durable, dense, time-ordered and read back
 * byte-exact, across segment boundaries and reopen. */
#include <dirent.h>
#include <unistd.h>

#include "journal-test.h"

static const struct journal_options small = {
  .segment_size = 1 << 20, .batch_bytes = 256 << 10, .create = true,
};

Test (journal, append_iterate_read)
{
  char *dir = make_tmpdir ();
  struct journal *j;
  struct journal_reader *r;
  struct journal_iter *it;
  struct journal_record rec, last = { 0 };
  uint64_t n = 0;

  cr_assert_eq (journal_open (dir, &small, &j), 0);
  for (uint64_t i = 1; i <= 600; i++) {
    cr_assert_eq (append_numbered (j, i, 512 * (1 + i % 17), &rec), 0);
    cr_assert_eq (rec.seq, i);
    cr_assert_geq (rec.time_ns, last.time_ns);
    last = rec;
  }
  cr_assert_eq (journal_last_seq (j), 600);
  journal_close (j);

  cr_assert_eq (journal_reader_open (dir, &r), 0);
  cr_assert_eq (journal_iter_new (r, 1, &it), 0);
  while (journal_iter_next (it, &rec) == 1) {
    n++;
    cr_assert_eq (rec.seq, n);
    cr_assert_eq (rec.offset, n * 4096);
    check_payload (r, &rec, n);
  }
  cr_assert_eq (n, 600);
  journal_iter_free (it);
  cr_assert_eq (journal_verify (r), 600);
  journal_reader_close (r);
  remove_tree (dir);
  free (dir);
}

Test (journal, reopen_continues_sequence_and_time)
{
  char *dir = make_tmpdir ();
  struct journal *j;
  struct journal_record a, b;

  cr_assert_eq (journal_open (dir, &small, &j), 0);
  cr_assert_eq (append_numbered (j, 1, 4096, &a), 0);
  journal_close (j);
  cr_assert_eq (journal_open (dir, &(struct journal_options) {
        .segment_size = 1 << 20 }, &j), 0);
  cr_assert_eq (append_numbered (j, 2, 4096, &b), 0);
  cr_assert_eq (b.seq, 2);
  cr_assert_geq (b.time_ns, a.time_ns);
  journal_close (j);
  cr_assert_eq (count_records (dir), 2);
  remove_tree (dir);
  free (dir);
}

Test (journal, missing_journal_is_enoent_and_second_writer_ebusy)
{
  char *dir = make_tmpdir ();
  struct journal *j, *j2;

  cr_assert_eq (journal_open (dir, NULL, &j), -ENOENT);
  cr_assert_eq (journal_open (dir, &small, &j), 0);
  cr_assert_eq (journal_open (dir, &small, &j2), -EBUSY);
  journal_close (j);
  remove_tree (dir);
  free (dir);
}

Test (journal, bad_records_rejected)
{
  char *dir = make_tmpdir ();
  struct journal *j;
  char buf[16] = "x";

  cr_assert_eq (journal_open (dir, &small, &j), 0);
  cr_assert_eq (append_sync (j, 0, 0, 0, 1, buf, 1, NULL), -EINVAL);
  cr_assert_eq (append_sync (j, JOURNAL_WRITE, 0, 0, 2, buf, 1, NULL), -EINVAL);
  cr_assert_eq (append_sync (j, JOURNAL_TRIM, 0, 0, 2, buf, 1, NULL), -EINVAL);
  cr_assert_eq (append_sync (j, JOURNAL_WRITE, 0, 0, 2 << 20, NULL, 2 << 20,
                             NULL), -EINVAL);
  cr_assert_eq (append_sync (j, JOURNAL_WRITE_ZEROES, 3, 512, 1 << 30, NULL, 0,
                             NULL), 0);
  cr_assert_eq (append_sync (j, JOURNAL_BOOKMARK, 0, 0, 0, "label", 5, NULL), 0);
  journal_close (j);
  cr_assert_eq (count_records (dir), 2);
  remove_tree (dir);
  free (dir);
}

Test (journal, find_time)
{
  char *dir = make_tmpdir ();
  struct journal *j;
  struct journal_reader *r;
  struct journal_record recs[300];
  uint64_t seq;

  cr_assert_eq (journal_open (dir, &small, &j), 0);
  for (int i = 0; i < 300; i++)
    cr_assert_eq (append_numbered (j, i + 1, 8192, &recs[i]), 0);
  journal_close (j);
  cr_assert_eq (journal_reader_open (dir, &r), 0);
  for (int i = 0; i < 300; i += 7) {
    cr_assert_eq (journal_find_time (r, recs[i].time_ns, &seq), 0);
    /* first record with time >= t: equal times go to the earliest */
    cr_assert_leq (seq, recs[i].seq);
    cr_assert_eq (recs[seq - 1].time_ns, recs[i].time_ns);
  }
  cr_assert_eq (journal_find_time (r, recs[299].time_ns + 1, &seq), 0);
  cr_assert_eq (seq, 301);
  cr_assert_eq (journal_find_time (r, 0, &seq), 0);
  cr_assert_eq (seq, 1);
  journal_reader_close (r);
  remove_tree (dir);
  free (dir);
}

Test (journal, reclaim_drops_old_segments)
{
  char *dir = make_tmpdir ();
  struct journal *j;
  struct journal_reader *r;
  struct journal_iter *it;
  struct journal_record rec;
  uint64_t first;

  cr_assert_eq (journal_open (dir, &small, &j), 0);
  for (uint64_t i = 1; i <= 200; i++)
    cr_assert_eq (append_numbered (j, i, 32768, NULL), 0);
  cr_assert_gt (journal_reclaim (j, 150), 0);
  first = journal_first_seq (j);
  cr_assert_gt (first, 1);
  cr_assert_leq (first, 150);
  cr_assert_eq (journal_reclaim (j, 0), 0);
  journal_close (j);

  cr_assert_eq (journal_reader_open (dir, &r), 0);
  cr_assert_eq (journal_reader_first_seq (r), first);
  cr_assert_eq (journal_iter_new (r, 0, &it), 0);
  cr_assert_eq (journal_iter_next (it, &rec), 1);
  cr_assert_eq (rec.seq, first);
  check_payload (r, &rec, first);
  journal_iter_free (it);
  cr_assert_eq (journal_verify (r), 200 - first + 1);
  journal_reader_close (r);
  remove_tree (dir);
  free (dir);
}

/* Spare segments in the journal directory (free-*.cdpj). */
static unsigned
count_spares (const char *dir)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  unsigned n = 0;

  cr_assert_not_null (d);
  while ((e = readdir (d)) != NULL)
    n += strncmp (e->d_name, "free-", 5) == 0;
  closedir (d);
  return n;
}

/* The pool keeps what a reclaim drops (what the journal fills until the
 * next one), at least 2; a smaller reclaim trims it, and
 * journal_release_spare empties it.  The preparation thread, which makes
 * the next segment after each switch, takes a spare if it looks for one
 * after a reclaim: on a loaded machine it may be that late, so a count
 * may be one short. */
static void
expect_spares (const char *dir, unsigned want)
{
  unsigned n = count_spares (dir);

  cr_assert (n == want || n + 1 == want, "%u spare segments, not %u", n, want);
}

Test (journal, reclaim_keeps_spares)
{
  char *dir = make_tmpdir ();
  struct journal *j;
  uint64_t i = 0;
  int n;

  cr_assert_eq (journal_open (dir, &small, &j), 0);
  while (++i <= 600)                            /* about 20 segments */
    cr_assert_eq (append_numbered (j, i, 32768, NULL), 0);
  n = journal_reclaim (j, 200);                 /* about 6 */
  cr_assert_geq (n, 4);
  expect_spares (dir, (unsigned) n);
  n = journal_reclaim (j, 240);                 /* one or two */
  cr_assert_geq (n, 1);
  cr_assert_leq (n, 2);
  expect_spares (dir, 2);
  /* New segments take the spares first. */
  for (; i <= 700; i++)
    cr_assert_eq (append_numbered (j, i, 32768, NULL), 0);
  cr_assert_eq (count_spares (dir), 0);
  n = journal_reclaim (j, 695);
  cr_assert_geq (n, 10);
  expect_spares (dir, (unsigned) n);
  journal_release_spare (j);
  cr_assert_eq (count_spares (dir), 0);
  journal_close (j);
  remove_tree (dir);
  free (dir);
}

/* A reader in another process sees what the writer made durable. */
Test (journal, reader_follows_writer)
{
  char *dir = make_tmpdir ();
  struct journal *j;
  struct journal_reader *r;
  struct journal_iter *it;
  struct journal_record rec;
  uint64_t seen = 0;

  cr_assert_eq (journal_open (dir, &small, &j), 0);
  cr_assert_eq (journal_reader_open (dir, &r), 0);
  cr_assert_eq (journal_iter_new (r, 1, &it), 0);
  for (uint64_t i = 1; i <= 120; i++) {
    cr_assert_eq (append_numbered (j, i, 16384, NULL), 0);
    while (journal_iter_next (it, &rec) == 1)
      cr_assert_eq (rec.seq, ++seen);
    cr_assert_eq (seen, i);
  }
  journal_iter_free (it);
  journal_reader_close (r);
  journal_close (j);
  remove_tree (dir);
  free (dir);
}

/* Started with the location of record from - 1 (as the index keeps it),
 * the iterator yields the same records as without; a hint that does not
 * hold is ignored. */
Test (journal, iterate_from_a_hint)
{
  char *dir = make_tmpdir ();
  struct journal *j;
  struct journal_reader *r;
  struct journal_iter *it;
  struct journal_record recs[301], rec;
  struct journal_loc bad[] = { { 0, 0 }, { 999, 4096 }, { 0, 1 } };

  cr_assert_eq (journal_open (dir, &small, &j), 0);
  for (uint64_t i = 1; i <= 300; i++)
    cr_assert_eq (append_numbered (j, i, 512 * (1 + i % 9), &recs[i]), 0);
  journal_close (j);
  cr_assert_eq (journal_reader_open (dir, &r), 0);
  for (uint64_t from = 2; from <= 301; from += 37) {
    for (int h = -1; h < (int) (sizeof bad / sizeof bad[0]); h++) {
      struct journal_loc hint = h < 0 ? recs[from - 1].loc : bad[h];
      uint64_t n = from;
      if (h == 2)
        hint = recs[from > 2 ? from - 2 : 1].loc;   /* another record */
      cr_assert_eq (journal_iter_new_at (r, from, hint, &it), 0);
      while (journal_iter_next (it, &rec) == 1) {
        cr_assert_eq (rec.seq, n, "from %lu hint %d", (unsigned long) from, h);
        cr_assert_eq (rec.loc.offset, recs[n].loc.offset);
        n++;
      }
      cr_assert_eq (n, 301, "from %lu hint %d: ended at %lu",
                    (unsigned long) from, h, (unsigned long) n);
      journal_iter_free (it);
    }
  }
  journal_reader_close (r);
  remove_tree (dir);
  free (dir);
}
