/* Once the index forgets records with the journal they were in, a point
 * that needed them is refused (-ESTALE) rather than read as its base:
 * before that, an export open across a retention cycle returned the
 * base's bytes for everything written since.  The watermark survives
 * closing the index. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recovery/history/index.h"

static int
count_piece (void *opaque, const struct index_piece *p)
{
  (*(int *) opaque)++;
  return 0;
}

static int
resolve (struct cdp_index *ix, uint64_t seq, uint64_t base_seq, int *pieces)
{
  *pieces = 0;
  return index_resolve (ix, 0, seq, base_seq, 0, 1 << 20, count_piece, pieces);
}

Test (index, forget_makes_older_points_stale)
{
  char dir[] = "/tmp/cdp-index-forget-XXXXXX";
  struct journal_record recs[10];
  struct cdp_index *ix;
  int n;

  cr_assert_not_null (mkdtemp (dir));
  cr_assert_eq (index_open (dir, &ix), 0);
  for (int i = 0; i < 10; i++)
    recs[i] = (struct journal_record) {
      .seq = (uint64_t) i + 1, .time_ns = 1000 + i, .type = JOURNAL_WRITE,
      .disk = 0, .offset = (uint64_t) i * 65536, .length = 4096,
      .payload_len = 4096, .loc = { .segment = 1, .offset = 4096 * (i + 1) } };
  cr_assert_eq (index_apply (ix, recs, NULL, 10), 0);
  cr_assert_eq (resolve (ix, 10, 0, &n), 0);
  cr_expect_eq (n, 10);

  cr_assert_eq (index_forget (ix, 6), 0);
  cr_expect_eq (resolve (ix, 10, 0, &n), -ESTALE, "records 1-5 are gone");
  cr_expect_eq (resolve (ix, 10, 4, &n), -ESTALE, "record 5 is gone");
  cr_expect_eq (resolve (ix, 10, 5, &n), 0, "a base at 5 needs 6-10 only");
  cr_expect_eq (n, 5);
  cr_expect_eq (resolve (ix, 3, 3, &n), 0, "a point that is its base needs nothing");
  cr_expect_eq (n, 0);

  index_close (ix);
  cr_assert_eq (index_open (dir, &ix), 0);
  cr_expect_eq (resolve (ix, 10, 0, &n), -ESTALE, "the watermark is kept");
  cr_assert_eq (index_forget (ix, 3), 0);
  cr_expect_eq (resolve (ix, 10, 4, &n), -ESTALE, "it never moves back");
  index_close (ix);
  char cmd[128];
  snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
  cr_assert_eq (system (cmd), 0);
}
