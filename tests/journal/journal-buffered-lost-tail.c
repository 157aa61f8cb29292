/* The host went down in the page cache mode: a child appends through
 * the page cache (one batch per record) and dies; the marker is then
 * made to hold another boot's id, as a restart leaves it, and the
 * records the page cache never wrote back are taken away: the last few
 * batches zeroed, or a page in the middle zeroed with valid batches
 * after it (writeback is in no particular order).  journal_open then
 * succeeds (a hole in a page cache segment is its torn tail), reports
 * the lost tail with the time of the last record that survived, keeps
 * every record before the hole, and appends on from there.  The marker
 * and the report survive a close and reopen until
 * journal_forget_lost_tail; then the marker is gone (interval 0) or
 * holds this boot's id (interval > 0).  A marker that cannot be read
 * (a directory) counts as a restart. */
#include "common/error.h"
#include "journal-buffered.h"

#define NREC 80

enum damage { ZERO_TAIL, ZERO_PAGE };

static void
zero_range (const char *seg, off_t from, off_t to)
{
  int fd = open (seg, O_RDWR);
  off_t size = lseek (fd, 0, SEEK_END);
  size_t len;
  uint8_t *z;

  cr_assert_geq (fd, 0);
  if (to > size)
    to = size;
  len = to - from;
  z = calloc (1, len);
  cr_assert_eq (pwrite (fd, z, len, from), (ssize_t) len);
  close (fd);
  free (z);
}

/* A journal whose host went down: returns how many records survive,
 * their records in *recs, the time of the last in *since. */
static size_t
lose_tail (const char *dir, enum damage how, struct journal_record **recs,
           int64_t *since)
{
  struct ack_report *acks;
  size_t n, keep = 0, after = 0;
  char *seg;
  off_t from, to;

  n = run_child (dir, 8 << 20, NREC, true, &acks);
  cr_assert_eq (n, NREC);
  free (acks);
  cr_assert (marker_is_this_boot (dir));
  marker_other_boot (dir);
  cr_assert_eq (all_records (dir, recs), NREC);
  seg = last_segment (dir);
  if (how == ZERO_TAIL) {
    from = (*recs)[NREC - 6].loc.offset;
    to = INT64_MAX;
  }
  else {
    from = (*recs)[NREC / 2].loc.offset & ~(off_t) 4095;
    to = from + 4096;
  }
  zero_range (seg, from, to);
  free (seg);
  while (keep < NREC && rec_end (&(*recs)[keep]) <= from)
    keep++;
  for (size_t i = keep; i < NREC; i++)
    after += (*recs)[i].loc.offset >= to;
  if (how == ZERO_PAGE)
    cr_assert_geq (after, 10, "no valid batches after the hole");
  cr_assert_gt (keep, 0);
  *since = (*recs)[keep - 1].time_ns;
  return keep;
}

static void
check_kept (const char *dir, const struct journal_record *recs, size_t keep,
            size_t extra)
{
  struct journal_record *got;
  struct journal_reader *r;
  size_t n = all_records (dir, &got);

  cr_assert_eq (n, keep + extra);
  cr_assert_eq (journal_reader_open (dir, &r), 0);
  cr_assert_eq (journal_verify (r), (int64_t) n, "%s", cdp_get_error ());
  for (size_t i = 0; i < n; i++) {
    cr_assert_eq (got[i].seq, i + 1);
    if (i < keep) {
      cr_assert_eq (got[i].loc.segment, recs[i].loc.segment);
      cr_assert_eq (got[i].loc.offset, recs[i].loc.offset);
      cr_assert_eq (got[i].time_ns, recs[i].time_ns);
      check_payload (r, &got[i], i + 1);
    }
  }
  journal_reader_close (r);
  free (got);
}

static void
open_lost (const char *dir, int64_t since, struct journal **jp)
{
  int64_t got = 0;

  cr_assert_eq (journal_open (dir, NULL, jp), 0, "open after a lost tail: %s",
                cdp_get_error ());
  cr_assert (journal_lost_tail (*jp, &got), "no lost tail reported");
  cr_assert_eq (got, since, "lost since %ld, want %ld (the last record "
                "that survived)", (long) got, (long) since);
}

static void
lost_tail_case (enum damage how, int64_t interval)
{
  char *dir = make_tmpdir ();
  struct journal_record *recs, rec;
  struct journal *j;
  int64_t since;
  size_t keep = lose_tail (dir, how, &recs, &since);

  open_lost (dir, since, &j);
  cr_assert_eq (journal_last_seq (j), keep);
  cr_assert_eq (append_numbered (j, 1000, 4096, &rec), 0);
  cr_assert_eq (rec.seq, keep + 1, "sequence runs on after the cut");
  journal_close (j);
  cr_assert (marker_exists (dir), "the evidence went before it was "
             "journaled");
  check_kept (dir, recs, keep, 1);

  /* Not forgotten: the same report again, the same time. */
  open_lost (dir, since, &j);
  if (interval) {
    cr_assert_eq (journal_set_sync_interval (j, interval), 0);
    cr_assert_eq (append_numbered (j, 1001, 4096, &rec), 0);
    cr_assert_eq (rec.seq, keep + 2);
  }
  journal_forget_lost_tail (j);
  cr_assert (!journal_lost_tail (j, NULL));
  if (interval)
    cr_assert (wait_for (marker_this_boot_cond, (void *) dir),
               "marker does not hold this boot's id in the page cache mode");
  else
    cr_assert (wait_for (marker_gone_cond, (void *) dir),
               "marker left at interval 0 once forgotten");
  cr_assert_eq (append_numbered (j, 1002, 4096, &rec), 0);
  journal_close (j);
  cr_assert (!marker_exists (dir));

  cr_assert_eq (journal_open (dir, NULL, &j), 0);
  cr_assert (!journal_lost_tail (j, &since));
  journal_close (j);
  check_kept (dir, recs, keep, interval ? 3 : 2);
  free (recs);
  remove_tree (dir);
  free (dir);
}

Test (journal_buffered_lost_tail, zeroed_tail, .timeout = 300)
{
  lost_tail_case (ZERO_TAIL, 0);
}

Test (journal_buffered_lost_tail, hole_before_valid_batches, .timeout = 300)
{
  lost_tail_case (ZERO_PAGE, 0);
}

Test (journal_buffered_lost_tail, forgotten_in_page_cache_mode, .timeout = 300)
{
  lost_tail_case (ZERO_PAGE, HOUR);
}

/* Nothing taken away, but another boot's marker: every record is there,
 * and still a lost tail is reported (nothing says none was lost). */
Test (journal_buffered_lost_tail, restart_with_nothing_lost, .timeout = 300)
{
  char *dir = make_tmpdir ();
  struct ack_report *acks;
  struct journal *j;
  size_t n = run_child (dir, 8 << 20, NREC, false, &acks);

  marker_other_boot (dir);
  open_lost (dir, acks[n - 1].time_ns, &j);
  journal_close (j);
  check_acks (dir, acks, n);
  free (acks);
  remove_tree (dir);
  free (dir);
}

/* A marker that cannot be read counts as a restart; once forgotten, the
 * journal goes on, across segment switches. */
Test (journal_buffered_lost_tail, unreadable_marker, .timeout = 300)
{
  char *dir = make_tmpdir ();
  char *m = marker_path (dir);
  struct journal_options o = { .segment_size = 1 << 20, .create = true };
  struct journal_record rec = { 0 };
  struct journal *j;
  uint8_t *buf = malloc (65536);

  cr_assert_eq (journal_open (dir, &o, &j), 0);
  for (uint64_t k = 1; k <= 5; k++)
    cr_assert_eq (append_numbered (j, k, 4096, &rec), 0);
  journal_close (j);
  cr_assert_eq (mkdir (m, 0700), 0);
  open_lost (dir, rec.time_ns, &j);
  journal_close (j);
  open_lost (dir, rec.time_ns, &j);
  journal_forget_lost_tail (j);
  cr_assert (!journal_lost_tail (j, NULL));
  for (uint64_t k = 6; k <= 60; k++) {
    fill_payload (buf, 65536, k);
    cr_assert_eq (append_sync (j, JOURNAL_WRITE, 0, k * 4096, 65536, buf,
                               65536, &rec), 0, "record %lu after forgetting "
                  "an unreadable marker", (unsigned long) k);
    cr_assert_eq (rec.seq, k);
  }
  cr_assert (wait_for (marker_gone_cond, (void *) dir));
  journal_close (j);
  cr_assert_eq (journal_open (dir, &o, &j), 0);
  cr_assert (!journal_lost_tail (j, NULL));
  journal_close (j);
  cr_assert_eq (count_records (dir), 60);
  free (buf);
  free (m);
  remove_tree (dir);
  free (dir);
}
