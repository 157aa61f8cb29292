/* A journal that lost its page cache tail with the host hands the lost
 * sequence numbers out again: the index forgets every record past the
 * journal's end first.  Afterwards the index is what it would have been
 * had it never seen them: points, seconds, events and resolves of the
 * records that stay are unchanged, and records with the same sequence
 * numbers but other contents are taken (not skipped as already held). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recovery/history/index.h"

#define SEC 1000000000LL

static int
count_piece (void *opaque, const struct index_piece *p)
{
  (*(int *) opaque)++;
  return 0;
}

static int
add_second (void *opaque, int64_t second, uint64_t seq)
{
  uint64_t *last = opaque;

  last[0]++;
  last[1] = seq;
  last[2] = (uint64_t) second;
  return 0;
}

static int
count_event (void *opaque, const struct index_event *e)
{
  (*(int *) opaque)++;
  return 0;
}

/* Records first..: disk seq % 2 (record 6: disk 1), one 4 KiB write
 * each at its own 64 KiB chunk; two records per second from second 100
 * on; record 7 a gap. */
static void
make (struct journal_record *recs, size_t n, uint64_t first, uint64_t chunk0)
{
  for (size_t i = 0; i < n; i++) {
    uint64_t seq = first + i;
    recs[i] = (struct journal_record) {
      .seq = seq, .time_ns = 100 * SEC + (int64_t) (seq - 1) / 2 * SEC
                             + (int64_t) ((seq + 1) % 2) * 1000,
      .type = seq == 7 ? JOURNAL_GAP : JOURNAL_WRITE,
      .disk = seq == 6 ? 1 : seq % 2, .offset = seq == 7 ? 0 : (chunk0 + seq) * 65536,
      .length = seq == 7 ? 0 : 4096,
      .payload_len = seq == 7 ? 3 : 4096,
      .loc = { .segment = 1, .offset = 4096 * (uint32_t) seq } };
  }
}

Test (index, forget_after_drops_the_lost_tail)
{
  char dir[] = "/tmp/cdp-index-forget-after-XXXXXX";
  const char *labels[12] = { [6] = "gap" };
  struct journal_record recs[12];
  struct cdp_index *ix;
  uint64_t seq, sec[3];
  int64_t t;
  int n;

  cr_assert_not_null (mkdtemp (dir));
  cr_assert_eq (index_open (dir, &ix), 0);
  make (recs, 12, 1, 0);
  cr_assert_eq (index_apply (ix, recs, labels, 12), 0);
  cr_assert_eq (index_last_seq (ix), 12);

  /* Records 6..12 were in the page cache only: 5 is the last one left.
   * Records 5 and 6 are disk 1's writes of second 102. */
  cr_assert_eq (index_forget_after (ix, 5), 0);
  cr_expect_eq (index_last_seq (ix), 5);
  cr_assert_eq (index_seq_at (ix, INT64_MAX, &seq, &t), 0);
  cr_expect_eq (seq, 5, "the newest point is record 5, not %lu",
                (unsigned long) seq);
  n = 0;
  cr_assert_eq (index_events (ix, 0, UINT64_MAX, count_event, &n), 0);
  cr_expect_eq (n, 0, "the gap of record 7 is gone");
  /* Disk 1 (odd records): seconds 100, 101, 102 with records 1, 3, 5. */
  memset (sec, 0, sizeof sec);
  cr_assert_eq (index_seconds (ix, 1, 0, INT64_MAX, add_second, sec), 0);
  cr_expect_eq (sec[0], 3, "disk 1 has %lu seconds", (unsigned long) sec[0]);
  cr_expect_eq (sec[1], 5, "its last second ends at record 5, not %lu",
                (unsigned long) sec[1]);
  /* Disk 0: seconds 100, 101 (records 2, 4); 8, 10, 12 are gone. */
  memset (sec, 0, sizeof sec);
  cr_assert_eq (index_seconds (ix, 0, 0, INT64_MAX, add_second, sec), 0);
  cr_expect_eq (sec[0], 2, "disk 0 has %lu seconds", (unsigned long) sec[0]);
  cr_expect_eq (sec[1], 4);
  n = 0;
  cr_assert_eq (index_resolve (ix, 0, 12, 0, 0, 64 << 20, count_piece, &n), 0);
  cr_expect_eq (n, 2, "disk 0 holds records 2 and 4 only, not %d pieces", n);

  /* The journal goes on from 6 with other writes: taken, not skipped. */
  make (recs, 3, 6, 100);
  cr_assert_eq (index_apply (ix, recs, NULL, 3), 0);
  cr_expect_eq (index_last_seq (ix), 8);
  n = 0;
  cr_assert_eq (index_resolve (ix, 0, 8, 0, 0, 64 << 20, count_piece, &n), 0);
  cr_expect_eq (n, 3, "disk 0: records 2, 4 and the new 8, not %d", n);

  /* Nothing past the end: a no-op. */
  cr_assert_eq (index_forget_after (ix, 8), 0);
  cr_expect_eq (index_last_seq (ix), 8);
  index_close (ix);

  char cmd[128];
  snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
  cr_assert_eq (system (cmd), 0);
}
