/* Zeroes (and trims) of an initial copy are not journaled as they
 * come: QEMU's mirror zeroes the whole target and then copies the data
 * over it.  The receiver remembers the zeroed ranges, a later write of
 * the copy takes its range out again, and when the copy ends
 * (receiver_copying off) what is left is journaled as zeroes only
 * where the disk as journaled is not zero already.  The disk then
 * reads as if everything had been journaled in order. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tests/daemon/daemon-test.h"

#define SIZE (1u << 20)
#define K 1024u

Test (rx_copy_zeroes, journaled_at_the_end_where_not_zero, .timeout = 120)
{
  struct dt d;
  struct nbd_handle *h;
  struct journal *j;
  struct journal_record rec;
  unsigned char *p = dt_pattern (64 * K, 5), *q = dt_pattern (64 * K, 6);
  unsigned char *got = malloc (SIZE), *want = calloc (1, SIZE);
  uint64_t received, kept, seq;

  dt_setup (&d, SIZE, 1u << 20);
  j = receiver_journal (d.r);
  h = dt_connect (&d);
  /* History before the copy: data at 0 and at 256 KiB. */
  cr_assert_eq (nbd_pwrite (h, p, 64 * K, 0, 0), 0, "%s", nbd_get_error ());
  cr_assert_eq (nbd_pwrite (h, q, 64 * K, 256 * K, 0), 0, "%s", nbd_get_error ());
  seq = journal_last_seq (j);

  receiver_copying (d.r, 0, true);
  cr_assert_eq (nbd_zero (h, 512 * K, 0, 0), 0, "%s", nbd_get_error ());
  cr_assert_eq (nbd_trim (h, 100 * K, 600 * K, 0), 0, "%s", nbd_get_error ());
  cr_assert_eq (journal_last_seq (j), seq, "zeroes of the copy journaled at once");
  /* The copy writes the data at 0 again; at 256 KiB the disk is zero
   * now, and nothing is written there. */
  cr_assert_eq (nbd_pwrite (h, p, 64 * K, 0, 0), 0, "%s", nbd_get_error ());
  memcpy (want, p, 64 * K);
  cr_assert_eq (journal_last_seq (j), seq);
  receiver_copy_stats (d.r, 0, &received, &kept);
  cr_assert_eq (received, 676 * K);
  cr_assert_eq (kept, 0);

  receiver_copying (d.r, 0, false);
  cr_assert_eq (journal_last_seq (j), seq + 1,
                "one range of zeroes where the disk was not zero");
  cr_assert_geq (journal_durable_seq (j), seq + 1);
  cr_assert (dt_record (&d, seq + 1, &rec, NULL, 0));
  cr_assert_eq (rec.type, JOURNAL_WRITE_ZEROES);
  cr_assert_eq (rec.offset, 256 * K);
  cr_assert_eq (rec.length, 64 * K);
  receiver_copy_stats (d.r, 0, &received, &kept);
  cr_assert_eq (kept, 64 * K);

  for (uint64_t off = 0; off < SIZE; off += 128 * K)
    cr_assert_eq (nbd_pread (h, got + off, 128 * K, off, 0), 0, "%s",
                  nbd_get_error ());
  cr_assert_eq (memcmp (got, want, SIZE), 0, "the disk reads otherwise");
  dt_disconnect (h);
  dt_teardown (&d);
  free (p);
  free (q);
  free (got);
  free (want);
}
