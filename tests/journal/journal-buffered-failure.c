/* A write through the page cache that fails (journal_batch_fault: the
 * bytes are in the file, the write reported an error) fails its records
 * with that error, and only them: every other record is acknowledged,
 * in order, with dense sequence numbers; records after a failure go to
 * a new segment, whose header ends the old one before the failed
 * records; the reader sees exactly the acknowledged ones, also after a
 * reopen. */
#include <semaphore.h>

#include "common/error.h"
#include "journal/internal.h"
#include "journal-buffered.h"

#define NREC 1500
#define QD 16
#define SIZE 8192
#define FAIL_EVERY 9

struct outcome {
  uint64_t seq;
  uint64_t segment;
  int err;
  bool done;
};

static struct outcome out[NREC];
static size_t ndone, nfail_batches;
static uint64_t batches, failed_recs;
static sem_t slots;

static int
fault (uint64_t first_seq, size_t records)
{
  if (++batches % FAIL_EVERY)
    return 0;
  nfail_batches++;
  failed_recs += records;
  return -EIO;
}

static void
done_cb (void *opaque, const struct journal_record *rec, int err)
{
  uint64_t key = (uintptr_t) opaque;

  cr_assert (!out[key].done, "record %lu completed twice",
             (unsigned long) key);
  cr_assert_eq (key, ndone, "completion of %lu out of order",
                (unsigned long) key);
  out[key] = (struct outcome) { .seq = rec->seq, .segment = rec->loc.segment,
                                .err = err, .done = true };
  ndone++;
  sem_post (&slots);
}

Test (journal_buffered_failure, failed_write_fails_only_its_records,
      .timeout = 300)
{
  char *dir = make_tmpdir ();
  struct journal_options o = { .segment_size = 32 << 20,
                               .batch_bytes = 64 << 10, .create = true };
  struct journal *j;
  struct journal_stats st;
  struct journal_record *recs, rec;
  struct journal_reader *r;
  uint8_t *buf = malloc (SIZE);
  uint64_t next = 1, failed = 0, seg_switches = 0, prev_seg = 0;
  bool after_fail = false;

  cr_assert_eq (journal_open (dir, &o, &j), 0);
  cr_assert_eq (journal_set_sync_interval (j, HOUR), 0);
  journal_batch_fault = fault;
  sem_init (&slots, 0, QD);
  for (uint64_t k = 0; k < NREC; k++) {
    struct journal_record e = { .type = JOURNAL_WRITE, .offset = k * SIZE,
                                .length = SIZE, .payload_len = SIZE };
    while (sem_wait (&slots) < 0)
      ;
    fill_payload (buf, SIZE, k);
    cr_assert_eq (journal_append (j, &e, buf, done_cb, (void *) (uintptr_t) k),
                  0);
  }
  journal_wait (j);
  journal_batch_fault = NULL;
  cr_assert_gt (nfail_batches, 3);

  for (size_t k = 0; k < NREC; k++) {
    if (out[k].err) {
      cr_assert_eq (out[k].err, -EIO);
      cr_assert_eq (out[k].seq, 0);
      failed++;
      after_fail = true;
      continue;
    }
    cr_assert_eq (out[k].seq, next++, "record %zu", k);
    if (prev_seg && out[k].segment != prev_seg)
      seg_switches++;
    if (after_fail)
      cr_assert_neq (out[k].segment, prev_seg, "record %zu written into the "
                     "segment of a failed write", k);
    after_fail = false;
    prev_seg = out[k].segment;
  }
  cr_assert_eq (failed, failed_recs);
  cr_assert_geq (seg_switches, nfail_batches - 1);
  journal_stats (j, &st);
  cr_assert_eq (st.failed, failed);
  cr_assert_eq (st.records, NREC - failed);
  cr_assert_eq (journal_last_seq (j), NREC - failed);
  journal_close (j);
  cr_assert (!marker_exists (dir));

  cr_assert_eq (all_records (dir, &recs), NREC - failed);
  cr_assert_eq (journal_reader_open (dir, &r), 0);
  cr_assert_eq (journal_verify (r), (int64_t) (NREC - failed), "%s",
                cdp_get_error ());
  for (size_t k = 0; k < NREC; k++) {
    if (out[k].err)
      continue;
    cr_assert_eq (recs[out[k].seq - 1].offset, k * SIZE);
    check_payload (r, &recs[out[k].seq - 1], k);
  }
  journal_reader_close (r);
  free (recs);

  cr_assert_eq (journal_open (dir, &o, &j), 0, "%s", cdp_get_error ());
  cr_assert (!journal_lost_tail (j, NULL));
  cr_assert_eq (journal_set_sync_interval (j, HOUR), 0);
  cr_assert_eq (append_numbered (j, 7, 4096, &rec), 0);
  cr_assert_eq (rec.seq, NREC - failed + 1);
  journal_close (j);
  cr_assert_eq (count_records (dir), (int64_t) (NREC - failed + 1));
  free (buf);
  remove_tree (dir);
  free (dir);
}
