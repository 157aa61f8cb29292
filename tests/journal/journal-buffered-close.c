/* A clean close in the page cache mode makes everything durable and
 * leaves no page cache mode behind: after it, with an interval of an
 * hour that never came, every record is in the journal, the marker file
 * is gone, and the next open reports no lost tail. */
#include "common/error.h"
#include "journal-buffered.h"

#define NREC 3000

static _Atomic uint64_t acked;

static void
ack_cb (void *opaque, const struct journal_record *rec, int err)
{
  cr_assert_eq (err, 0);
  cr_assert_eq (rec->seq, (uintptr_t) opaque);
  atomic_fetch_add (&acked, 1);
}

Test (journal_buffered_close, close_makes_everything_durable, .timeout = 300)
{
  char *dir = make_tmpdir ();
  struct journal_options o = { .segment_size = 8 << 20, .create = true };
  struct journal *j;
  struct journal_record *recs;
  struct journal_reader *r;
  uint8_t *buf = malloc (16384);
  int64_t since = 0;
  size_t n;

  cr_assert_eq (journal_open (dir, &o, &j), 0);
  cr_assert_eq (journal_set_sync_interval (j, HOUR), 0);
  for (uint64_t k = 1; k <= NREC; k++) {
    uint32_t len = 512 * (1 + k % 32);
    struct journal_record e = { .type = JOURNAL_WRITE, .offset = k * 512,
                                .length = len, .payload_len = len };
    fill_payload (buf, len, k);
    cr_assert_eq (journal_append (j, &e, buf, ack_cb, (void *) (uintptr_t) k),
                  0);
  }
  journal_wait (j);
  cr_assert_eq (atomic_load (&acked), NREC);
  cr_assert_eq (journal_last_seq (j), NREC);
  cr_assert_lt (journal_durable_seq (j), NREC, "synced within the hour");
  cr_assert (marker_is_this_boot (dir));
  journal_close (j);
  cr_assert (!marker_exists (dir), "marker left after a clean close");

  n = all_records (dir, &recs);
  cr_assert_eq (n, NREC);
  cr_assert_eq (journal_reader_open (dir, &r), 0);
  cr_assert_eq (journal_verify (r), NREC, "%s", cdp_get_error ());
  for (size_t i = 0; i < n; i++) {
    cr_assert_eq (recs[i].seq, i + 1);
    check_payload (r, &recs[i], i + 1);
  }
  journal_reader_close (r);
  free (recs);

  cr_assert_eq (journal_open (dir, &o, &j), 0, "%s", cdp_get_error ());
  cr_assert (!journal_lost_tail (j, &since));
  cr_assert_eq (since, 0);
  cr_assert_eq (journal_last_seq (j), NREC);
  cr_assert_eq (journal_durable_seq (j), NREC);
  journal_close (j);
  cr_assert_eq (count_records (dir), NREC);
  free (buf);
  remove_tree (dir);
  free (dir);
}
