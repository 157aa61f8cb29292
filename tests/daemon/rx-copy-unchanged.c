/* While a disk's initial copy runs (receiver_copying on), a write is
 * compared with the disk as the journal holds it and only the 4 KiB
 * blocks that differ are journaled: writing again what is journaled
 * keeps nothing (received grows, kept does not), writing something
 * else keeps exactly the blocks that changed.  Once the copy is over,
 * every write is journaled whole again. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tests/daemon/daemon-test.h"

#define SIZE (4u << 20)
#define LEN (64u << 10)

static void
stats (struct dt *d, uint64_t *received, uint64_t *kept)
{
  receiver_copy_stats (d->r, 0, received, kept);
}

static void
pwrite_ok (struct nbd_handle *h, const void *buf, uint64_t len, uint64_t off)
{
  cr_assert_eq (nbd_pwrite (h, buf, len, off, 0), 0, "%s", nbd_get_error ());
}

Test (rx_copy_unchanged, only_what_differs_is_kept, .timeout = 120)
{
  struct dt d;
  struct nbd_handle *h;
  struct journal *j;
  struct journal_record rec;
  unsigned char *a = dt_pattern (LEN, 1), *b = malloc (LEN), got[4096];
  unsigned char *zeroes = calloc (1, LEN);
  uint64_t received, kept, seq;

  dt_setup (&d, SIZE, 1u << 20);
  j = receiver_journal (d.r);
  h = dt_connect (&d);
  pwrite_ok (h, a, LEN, 0);                   /* history before the copy */
  seq = journal_last_seq (j);

  receiver_copying (d.r, 0, true);
  pwrite_ok (h, a, LEN, 0);                   /* the same again */
  stats (&d, &received, &kept);
  cr_assert_eq (received, LEN);
  cr_assert_eq (kept, 0, "an unchanged write was kept");
  cr_assert_eq (journal_last_seq (j), seq, "an unchanged write was journaled");
  pwrite_ok (h, zeroes, LEN, 1 << 20);        /* zeroes where nothing was */
  stats (&d, &received, &kept);
  cr_assert_eq (received, 2 * LEN);
  cr_assert_eq (kept, 0);
  cr_assert_eq (journal_last_seq (j), seq);

  memcpy (b, a, LEN);                         /* one block changed */
  memset (b + 3 * 4096 + 100, 0xee, 10);
  pwrite_ok (h, b, LEN, 0);
  stats (&d, &received, &kept);
  cr_assert_eq (received, 3 * LEN);
  cr_assert_eq (kept, 4096, "kept %llu bytes of one changed block",
                (unsigned long long) kept);
  cr_assert_eq (journal_last_seq (j), seq + 1);
  cr_assert (dt_record (&d, seq + 1, &rec, got, sizeof got));
  cr_assert_eq (rec.type, JOURNAL_WRITE);
  cr_assert_eq (rec.offset, 3 * 4096);
  cr_assert_eq (rec.length, 4096);
  cr_assert_eq (memcmp (got, b + 3 * 4096, 4096), 0);

  pwrite_ok (h, a, LEN, 2 << 20);             /* new data: kept whole */
  stats (&d, &received, &kept);
  cr_assert_eq (received, 4 * LEN);
  cr_assert_eq (kept, 4096 + LEN);
  pwrite_ok (h, b, LEN, 0);                   /* what is journaled now */
  stats (&d, &received, &kept);
  cr_assert_eq (kept, 4096 + LEN);
  seq = journal_last_seq (j);

  receiver_copying (d.r, 0, false);           /* copy over: all journaled */
  pwrite_ok (h, b, LEN, 0);
  cr_assert_eq (journal_last_seq (j), seq + 1);
  stats (&d, &received, &kept);
  cr_assert_eq (received, 5 * LEN, "a write after the copy counted in it");
  cr_assert_eq (kept, 4096 + LEN);
  dt_disconnect (h);
  dt_teardown (&d);
  free (a);
  free (b);
  free (zeroes);
}
