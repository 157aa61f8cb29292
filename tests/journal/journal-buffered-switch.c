/* Switching the sync interval 0 -> 1 s -> 0 -> ... while several
 * threads append loses nothing and reorders nothing: every record is
 * acknowledged exactly once, sequence numbers run 1, 2, 3 ... in
 * callback order, and the reader finds every record with its payload.
 * A switch on an empty segment keeps it, one with records starts a new
 * segment; back at 0, once flushed, the marker file is gone (also with
 * no record appended since the switch). */
#include <stdatomic.h>

#include "common/error.h"
#include "journal-buffered.h"

#define THREADS 4
#define PER_THREAD 1500
#define SWITCHES 8

static struct journal *jrnl;
static _Atomic uint32_t acks[THREADS * PER_THREAD];
static uint64_t next_seq = 1;           /* journal thread only */
static uint64_t seq_of[THREADS * PER_THREAD];
static atomic_uint_fast64_t nacked;

static void
ack_cb (void *opaque, const struct journal_record *rec, int err)
{
  uint64_t key = (uintptr_t) opaque;

  cr_assert_eq (err, 0, "record %lu failed: %d", (unsigned long) key, err);
  cr_assert_eq (atomic_fetch_add (&acks[key], 1), 0,
                "record %lu acknowledged twice", (unsigned long) key);
  cr_assert_eq (rec->seq, next_seq, "ack of seq %lu, want %lu",
                (unsigned long) rec->seq, (unsigned long) next_seq);
  next_seq++;
  seq_of[key] = rec->seq;
  atomic_fetch_add (&nacked, 1);
}

static void *
appender (void *arg)
{
  uint64_t t = (uintptr_t) arg;
  uint8_t *buf = malloc (16384);

  for (uint64_t i = 0; i < PER_THREAD; i++) {
    uint64_t key = t * PER_THREAD + i;
    uint32_t len = 512 * (1 + (key * 7) % 32);
    struct journal_record e = { .type = JOURNAL_WRITE, .offset = key * 512,
                                .length = len, .payload_len = len };
    fill_payload (buf, len, key);
    cr_assert_eq (journal_append (jrnl, &e, buf, ack_cb,
                                  (void *) (uintptr_t) key), 0);
    if (i % 64 == 63)
      journal_wait (jrnl);              /* let the switches land among them */
  }
  free (buf);
  return NULL;
}

static bool
acked_at_least (void *arg)
{
  return atomic_load (&nacked) >= (uintptr_t) arg;
}

Test (journal_buffered_switch, switches_while_appending, .timeout = 600)
{
  char *dir = make_tmpdir ();
  struct journal_options o = { .segment_size = 32 << 20, .create = true };
  pthread_t th[THREADS];
  struct journal_record *recs;
  struct journal_reader *r;
  struct journal_stats st;
  size_t n;

  cr_assert_eq (journal_open (dir, &o, &jrnl), 0);
  for (uintptr_t t = 0; t < THREADS; t++)
    cr_assert_eq (pthread_create (&th[t], NULL, appender, (void *) t), 0);
  for (int s = 1; s <= SWITCHES; s++) {
    uintptr_t want = (uintptr_t) s * THREADS * PER_THREAD / (SWITCHES + 1);
    cr_assert (wait_for (acked_at_least, (void *) want));
    cr_assert_eq (journal_set_sync_interval (jrnl, s % 2 ? SEC : 0), 0);
  }
  for (int t = 0; t < THREADS; t++)
    pthread_join (th[t], NULL);
  journal_wait (jrnl);
  cr_assert_eq (atomic_load (&nacked), THREADS * PER_THREAD);
  for (size_t k = 0; k < THREADS * PER_THREAD; k++)
    cr_assert_eq (acks[k], 1, "record %zu acknowledged %u times", k, acks[k]);

  /* The last switch was to 0: once flushed, no page cache mode. */
  cr_assert_eq (journal_flush (jrnl, NULL, NULL), 0);
  cr_assert (wait_for (marker_gone_cond, dir), "marker left at interval 0");
  journal_stats (jrnl, &st);
  cr_assert_gt (st.segments, 1, "no switch started a segment");
  cr_log_info ("%lu segments over %d switches", (unsigned long) st.segments,
               SWITCHES);
  journal_close (jrnl);
  cr_assert_eq (journal_open (dir, &o, &jrnl), 0, "%s", cdp_get_error ());
  cr_assert (!journal_lost_tail (jrnl, NULL));
  cr_assert_eq (journal_last_seq (jrnl), THREADS * PER_THREAD);
  journal_close (jrnl);

  n = all_records (dir, &recs);
  cr_assert_eq (n, THREADS * PER_THREAD);
  cr_assert_eq (journal_reader_open (dir, &r), 0);
  cr_assert_eq (journal_verify (r), (int64_t) n, "%s", cdp_get_error ());
  for (size_t k = 0; k < THREADS * PER_THREAD; k++) {
    struct journal_record *rec = &recs[seq_of[k] - 1];
    cr_assert_eq (rec->seq, seq_of[k]);
    cr_assert_eq (rec->offset, k * 512, "seq %lu", (unsigned long) rec->seq);
    check_payload (r, rec, k);
  }
  journal_reader_close (r);
  free (recs);
  remove_tree (dir);
  free (dir);
}

static uint64_t
segments (void)
{
  struct journal_stats st;

  journal_stats (jrnl, &st);
  return st.segments;
}

Test (journal_buffered_switch, empty_segment_is_kept, .timeout = 300)
{
  char *dir = make_tmpdir ();
  struct journal_options o = { .segment_size = 8 << 20, .create = true };
  struct journal_record rec;
  uint64_t k = 0;

  cr_assert_eq (journal_open (dir, &o, &jrnl), 0);
  cr_assert_eq (segments (), 1);

  /* The empty first segment changes mode in place, both ways. */
  cr_assert_eq (journal_set_sync_interval (jrnl, SEC), 0);
  cr_assert_eq (journal_set_sync_interval (jrnl, 0), 0);
  cr_assert_eq (journal_set_sync_interval (jrnl, SEC), 0);
  cr_assert (!marker_exists (dir), "marker before any record");
  cr_assert_eq (append_numbered (jrnl, ++k, 4096, &rec), 0);
  cr_assert_eq (segments (), 1, "an empty segment was replaced");
  cr_assert (marker_is_this_boot (dir));

  /* With records in it, a switch starts a new segment. */
  cr_assert_eq (journal_set_sync_interval (jrnl, 0), 0);
  cr_assert_eq (append_numbered (jrnl, ++k, 4096, &rec), 0);
  cr_assert_eq (segments (), 2);
  cr_assert_eq (rec.loc.segment, 2);
  cr_assert (!marker_exists (dir), "marker left in a durable segment");
  cr_assert_eq (journal_set_sync_interval (jrnl, SEC), 0);
  cr_assert_eq (append_numbered (jrnl, ++k, 4096, &rec), 0);
  cr_assert_eq (segments (), 3);
  cr_assert_eq (rec.loc.segment, 3);
  cr_assert (marker_exists (dir));
  /* The same interval again, or another one > 0: no switch. */
  cr_assert_eq (journal_set_sync_interval (jrnl, 2 * SEC), 0);
  cr_assert_eq (append_numbered (jrnl, ++k, 4096, &rec), 0);
  cr_assert_eq (segments (), 3);
  journal_close (jrnl);
  cr_assert (!marker_exists (dir));
  cr_assert_eq (count_records (dir), (int64_t) k);
  remove_tree (dir);
  free (dir);
}

/* Back to 0 with nothing appended after: a flush makes everything
 * durable, and the page cache mode is left then, not at the next
 * record or at close. */
Test (journal_buffered_switch, back_to_zero_without_records, .timeout = 300)
{
  char *dir = make_tmpdir ();
  struct journal_options o = { .segment_size = 8 << 20, .create = true };

  cr_assert_eq (journal_open (dir, &o, &jrnl), 0);
  cr_assert_eq (journal_set_sync_interval (jrnl, HOUR), 0);
  for (uint64_t k = 1; k <= 10; k++)
    cr_assert_eq (append_numbered (jrnl, k, 4096, NULL), 0);
  cr_assert (marker_exists (dir));
  cr_assert_lt (journal_durable_seq (jrnl), 10);
  cr_assert_eq (journal_set_sync_interval (jrnl, 0), 0);
  cr_assert_eq (journal_flush (jrnl, NULL, NULL), 0);
  cr_assert (wait_for (marker_gone_cond, dir),
             "marker left at interval 0 with everything durable");
  cr_assert_eq (journal_durable_seq (jrnl), 10);

  /* And back again: the marker returns before the next record. */
  cr_assert_eq (journal_set_sync_interval (jrnl, HOUR), 0);
  cr_assert_eq (append_numbered (jrnl, 11, 4096, NULL), 0);
  cr_assert (marker_is_this_boot (dir));
  journal_close (jrnl);
  cr_assert (!marker_exists (dir));
  cr_assert_eq (count_records (dir), 11);
  remove_tree (dir);
  free (dir);
}
