/* The journal's segment renames are durable before the index_forget
 * that follows a reclaim, so a power loss can leave an index that still
 * holds records the journal no longer has, with its last seq beyond the
 * journal's first.  Catching up must forget them: the index's first seq
 * never below the journal's, no time before the journal's first record
 * resolving to a point, and a read needing the lost records refused
 * (-ESTALE) instead of handing out locations of segments gone. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recovery/history/index.h"
#include "tests/journal/journal-test.h"

/* Append a 64 KiB write of record i at chunk i % 64, durably. */
static struct journal_record
append_write (struct journal *j, uint64_t i)
{
  static uint8_t buf[65536];
  struct journal_record rec;

  memset (buf, (int) i, sizeof buf);
  cr_assert_eq (append_sync (j, JOURNAL_WRITE, 0, (i % 64) * 65536,
                             sizeof buf, buf, sizeof buf, &rec), 0);
  return rec;
}

static int
count_piece (void *opaque, const struct index_piece *p)
{
  (*(int *) opaque)++;
  return 0;
}

Test (index, catch_up_forgets_what_the_journal_lost, .timeout = 120)
{
  char dir[] = "/var/tmp/cdp-catchup-XXXXXX", jdir[256], idir[256], cmd[300];
  struct journal_options o = { .segment_size = 1 << 20, .create = true };
  struct journal_record recs[80];
  struct journal *j;
  struct journal_reader *r;
  struct cdp_index *ix;
  uint64_t first, seq;
  int64_t t0, t1;
  int pieces;

  cr_assert_not_null (mkdtemp (dir));
  snprintf (jdir, sizeof jdir, "%s/journal", dir);
  snprintf (idir, sizeof idir, "%s/index", dir);
  cr_assert_eq (journal_open (jdir, &o, &j), 0);
  for (uint64_t i = 0; i < 80; i++)
    recs[i] = append_write (j, i + 1);
  cr_assert_eq (journal_reader_open (jdir, &r), 0);
  cr_assert_eq (index_open (idir, &ix), 0);
  cr_assert_eq (index_catch_up (ix, r), 80);
  cr_assert_eq (index_last_seq (ix), 80);

  /* Reclaim behind the index's back: its index_forget never happened. */
  cr_assert_gt (journal_reclaim (j, 40), 0);
  first = journal_first_seq (j);
  cr_assert_gt (first, 1);
  cr_assert_leq (first, 40);
  journal_close (j);
  cr_assert_eq (journal_reader_refresh (r), 0);
  cr_assert_eq (journal_reader_first_seq (r), first);
  cr_assert_lt (index_first_seq (ix), first, "the index still claims them");

  cr_assert_eq (index_catch_up (ix, r), 0);
  cr_expect_eq (index_first_seq (ix), first,
                "after catching up the index claims only what the journal has");
  cr_expect_eq (index_last_seq (ix), 80);

  /* No time before the journal's first record is a point any more. */
  cr_assert_eq (index_seq_at (ix, recs[first - 2].time_ns, &seq, NULL), 0);
  cr_expect (seq == 0 || recs[seq - 1].time_ns == recs[first - 1].time_ns,
             "time of record %llu resolves to record %llu, which is gone",
             (unsigned long long) first - 1, (unsigned long long) seq);
  cr_assert_eq (index_span (ix, &t0, &t1), 0);
  cr_expect_geq (t0, recs[first - 1].time_ns, "the index's span starts in "
                 "the reclaimed journal");
  cr_expect_eq (t1, recs[79].time_ns);

  /* A read that needs the lost records is refused; one that does not
   * finds only records the journal holds. */
  pieces = 0;
  cr_expect_eq (index_resolve (ix, 0, 80, 0, 0, 64 * 65536, count_piece,
                               &pieces), -ESTALE);
  pieces = 0;
  cr_expect_eq (index_resolve (ix, 0, 80, first - 1, 0, 64 * 65536,
                               count_piece, &pieces), 0);
  cr_expect_gt (pieces, 0);

  index_close (ix);
  journal_reader_close (r);
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq (system (cmd), 0);
}
