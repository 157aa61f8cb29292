/* A receiver started again on the same task carries on where the last
 * one stopped: the journal's sequence runs on, the disk reads as it was
 * written, and receiver_open_end tells whether history ended without a
 * gap (whoever journaled it last did not stop cleanly: the time of the
 * last record) or with one (0). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tests/daemon/daemon-test.h"

#define SIZE (1u << 20)
#define LEN (64u << 10)

static void
read_all (struct nbd_handle *h, unsigned char *got)
{
  for (uint64_t off = 0; off < SIZE; off += LEN)
    cr_assert_eq (nbd_pread (h, got + off, LEN, off, 0), 0, "%s",
                  nbd_get_error ());
}

Test (rx_restart, carries_on, .timeout = 120)
{
  struct dt d;
  struct nbd_handle *h;
  struct journal_record rec;
  unsigned char *want = calloc (1, SIZE), *got = malloc (SIZE);
  uint64_t last;

  dt_setup (&d, SIZE, 1u << 20);
  cr_assert_eq (receiver_open_end (d.r, 0), 0, "no history yet");
  h = dt_connect (&d);
  for (unsigned i = 0; i < 12; i++) {
    void *buf = dt_pattern (LEN, i);
    uint64_t off = (uint64_t) (i * 5 % 16) * LEN;
    cr_assert_eq (nbd_pwrite (h, buf, LEN, off, 0), 0, "%s", nbd_get_error ());
    memcpy (want + off, buf, LEN);
    free (buf);
  }
  last = journal_last_seq (receiver_journal (d.r));
  dt_disconnect (h);
  receiver_stop (d.r);
  d.r = NULL;

  /* History ends without a gap. */
  dt_start (&d);
  cr_assert_eq (journal_last_seq (receiver_journal (d.r)), last);
  cr_assert_eq (index_last_seq (receiver_index (d.r)), last);
  cr_assert (dt_record (&d, last, &rec, NULL, 0));
  cr_assert_eq (receiver_open_end (d.r, 0), rec.time_ns);
  h = dt_connect (&d);
  read_all (h, got);
  cr_assert_eq (memcmp (got, want, SIZE), 0, "the disk reads otherwise");
  cr_assert_eq (nbd_pwrite (h, want, 512, 0, 0), 0, "%s", nbd_get_error ());
  cr_assert_eq (journal_last_seq (receiver_journal (d.r)), last + 1);
  cr_assert_eq (receiver_event (d.r, JOURNAL_GAP, 0, "stopped", 0), 0);
  dt_disconnect (h);
  receiver_stop (d.r);
  d.r = NULL;

  /* History ends with a gap. */
  dt_start (&d);
  cr_assert_eq (journal_last_seq (receiver_journal (d.r)), last + 2);
  cr_assert_eq (receiver_open_end (d.r, 0), 0);
  h = dt_connect (&d);
  read_all (h, got);
  cr_assert_eq (memcmp (got, want, SIZE), 0, "the disk reads otherwise");
  dt_disconnect (h);
  dt_teardown (&d);
  free (want);
  free (got);
}
