/* A batch whose write fails fails its records and every later batch in
 * flight with it, and never anything before it: callbacks stay in
 * sequence order, acknowledged records stay dense and readable, failed
 * ones are not in the journal, and writing goes on in a new segment.
 * Failures come from journal_batch_fault: the failed batch is written
 * (as if the device failed the flush after the data landed), so its
 * records are on disk past the end the next segment names for this one,
 * and must never be read. */
#include <semaphore.h>
#include <time.h>

#include "common/error.h"
#include "journal/internal.h"
#include "journal-test.h"

#define NREC 2400
#define QD 32
#define SIZE 16384
#define FAIL_EVERY 25                   /* fail every 25th batch */

struct outcome {
  uint64_t seq;
  int err;
  bool done;
};

static struct outcome out[NREC];
static uint64_t order[NREC];            /* keys in callback order */
static size_t ndone;
static sem_t slots;

/* Journal thread only (hook and callbacks).  For each failed batch, how
 * many records must fail with it: its own and those of the batches
 * submitted before its failure was reported (in flight with it). */
static size_t expect[NREC];
static size_t nfail;
static bool fail_reported = true;
static uint64_t batches, later_in_flight;

static int
fault (uint64_t first_seq, size_t records)
{
  if (!fail_reported) {
    expect[nfail - 1] += records;
    later_in_flight++;
  }
  if (++batches % FAIL_EVERY)
    return 0;
  expect[nfail++] = records;
  fail_reported = false;
  /* Let the appender fill the next stage, so that the thread submits it
   * before it can see this batch complete. */
  nanosleep (&(struct timespec) { 0, 5000000 }, NULL);
  return -EIO;
}

static void
done_cb (void *opaque, const struct journal_record *rec, int err)
{
  uint64_t key = (uintptr_t) opaque;

  cr_assert (!out[key].done);
  out[key] = (struct outcome) { .seq = rec->seq, .err = err, .done = true };
  order[ndone++] = key;
  if (err)
    fail_reported = true;
  sem_post (&slots);
}

static void
append_all (struct journal *j)
{
  uint8_t *buf = malloc (SIZE);

  sem_init (&slots, 0, QD);
  for (uint64_t k = 0; k < NREC; k++) {
    struct journal_record e = { .type = JOURNAL_WRITE, .offset = k * 4096,
                                .length = SIZE, .payload_len = SIZE };
    while (sem_wait (&slots) < 0)
      ;
    fill_payload (buf, SIZE, k);
    cr_assert_eq (journal_append (j, &e, buf, done_cb, (void *) (uintptr_t) k),
                  0);
  }
  journal_wait (j);
  free (buf);
}

/* Callbacks ran in append order; acknowledged seqs are 1, 2, 3, ...; a
 * failed record's seq is 0.  Returns the number acknowledged. */
static uint64_t
check_outcomes (void)
{
  uint64_t next = 1, failed = 0;
  size_t run = 0, runs = 0;

  cr_assert_eq (ndone, NREC);
  for (size_t i = 0; i < NREC; i++) {
    cr_assert_eq (order[i], i, "callback %zu was for record %lu", i,
                  (unsigned long) order[i]);
    if (out[i].err) {
      cr_assert_eq (out[i].err, -EIO);
      cr_assert_eq (out[i].seq, 0);
      failed++;
      run++;
      continue;
    }
    cr_assert_eq (out[i].seq, next++, "record %zu", i);
    if (run) {
      cr_assert_lt (runs, nfail);
      cr_assert_eq (run, expect[runs], "failure %zu: %zu records failed, "
                    "want %zu", runs, run, expect[runs]);
      runs++;
      run = 0;
    }
  }
  if (run) {                            /* the last batch failed */
    cr_assert_lt (runs, nfail);
    cr_assert_eq (run, expect[runs], "failure %zu: %zu records failed, "
                  "want %zu", runs, run, expect[runs]);
    runs++;
  }
  cr_assert_eq (runs, nfail);
  cr_log_info ("%lu of %d records failed in %zu failed batches; batches "
               "in flight with a failed one: %lu", (unsigned long) failed,
               NREC, nfail, (unsigned long) later_in_flight);
  return next - 1;
}

static void
check_journal (const char *dir, uint64_t acked)
{
  struct journal_record *recs;
  struct journal_reader *r;
  size_t n = all_records (dir, &recs);

  cr_assert_eq (n, acked);
  cr_assert_eq (journal_reader_open (dir, &r), 0);
  cr_assert_eq (journal_verify (r), (int64_t) acked, "%s",
                cdp_get_error ());
  for (uint64_t k = 0; k < NREC; k++) {
    if (out[k].err)
      continue;
    struct journal_record *rec = &recs[out[k].seq - 1];
    cr_assert_eq (rec->offset, k * 4096, "seq %lu", (unsigned long) rec->seq);
    check_payload (r, rec, k);
  }
  journal_reader_close (r);
  free (recs);
}

Test (journal_batch_failure, fails_later_batches_and_keeps_earlier, .timeout = 120)
{
  char *dir = make_tmpdir ();
  struct journal_options o = { .segment_size = 32 << 20,
                               .batch_bytes = 64 << 10, .create = true };
  struct journal *j;
  struct journal_stats st;
  uint64_t acked;
  char *seg;

  cr_assert_eq (journal_open (dir, &o, &j), 0);
  journal_batch_fault = fault;
  append_all (j);
  journal_batch_fault = NULL;
  journal_stats (j, &st);
  acked = check_outcomes ();
  cr_assert_eq (st.records, acked);
  cr_assert_eq (st.failed, NREC - acked);
  cr_assert_gt (nfail, 2);
  /* A failure seals the segment; the next write starts a new one, and
   * when the failed batch was the last, no write comes after it. */
  cr_assert_geq (st.segments, nfail + (out[NREC - 1].err == 0 ? 1 : 0),
                 "every failure seals the segment");
  journal_close (j);
  check_journal (dir, acked);
  seg = last_segment (dir);
  if (window_of (seg) > 1)
    cr_assert_gt (later_in_flight, 0, "no batch was in flight with a failed "
                  "one: the case this test is for did not happen");
  free (seg);

  /* Reopen: nothing to cut, and the sequence runs on. */
  cr_assert_eq (journal_open (dir, &o, &j), 0, "%s", cdp_get_error ());
  struct journal_record rec;
  cr_assert_eq (append_numbered (j, 7, 4096, &rec), 0);
  cr_assert_eq (rec.seq, acked + 1);
  journal_close (j);
  cr_assert_eq (count_records (dir), (int64_t) acked + 1);
  remove_tree (dir);
  free (dir);
}
