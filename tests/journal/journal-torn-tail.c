/* A torn tail is cut at the last wholly written record: for every
 * 512-byte boundary inside the last records, a segment that ends there
 * (cut off, zeroed, or filled with garbage after it) reopens with
 * exactly the records that lie wholly before it. */
#include <fcntl.h>
#include <unistd.h>

#include "common/error.h"
#include "common/crc32c.h"
#include "journal-test.h"

#define NREC 300

static char *
build_journal (struct journal_record **recs, size_t *n)
{
  char *dir = make_tmpdir ();
  struct journal *j;
  struct journal_options o = { .segment_size = 8 << 20, .create = true };

  cr_assert_eq (journal_open (dir, &o, &j), 0);
  for (uint64_t i = 1; i <= NREC; i++)
    cr_assert_eq (append_numbered (j, i, 512 * (1 + (i * 7) % 13), NULL), 0);
  journal_close (j);
  *n = all_records (dir, recs);
  cr_assert_eq (*n, NREC);
  return dir;
}

enum damage { CUT, ZERO, GARBAGE };

static void
damage_at (const char *seg, uint32_t at, enum damage how)
{
  int fd = open (seg, O_RDWR);
  off_t size = lseek (fd, 0, SEEK_END);
  size_t len = size - at;
  uint8_t *buf = malloc (len + 1);

  cr_assert_geq (fd, 0);
  if (how == CUT)
    cr_assert_eq (ftruncate (fd, at), 0);
  else {
    if (how == ZERO)
      memset (buf, 0, len);
    else
      fill_payload (buf, len, at);
    cr_assert_eq (pwrite (fd, buf, len, at), (ssize_t) len);
  }
  close (fd);
  free (buf);
}

static void
check_cut (const char *dir, const struct journal_record *recs, size_t n,
           uint32_t at, enum damage how)
{
  char *copy = copy_tree (dir);
  char *seg = last_segment (copy);
  struct journal *j;
  struct journal_record *got;
  size_t want = 0, have;
  struct journal_reader *r;

  while (want < n && rec_end (&recs[want]) <= at)
    want++;
  damage_at (seg, at, how);
  cr_assert_eq (journal_open (copy, NULL, &j), 0,
                "reopen after damage at %u: %s", at, cdp_get_error ());
  journal_close (j);
  have = all_records (copy, &got);
  cr_assert_eq (have, want, "damage %d at %u: %zu records, want %zu",
                how, at, have, want);
  cr_assert_eq (journal_reader_open (copy, &r), 0);
  for (size_t i = 0; i < have; i++) {
    cr_assert_eq (got[i].seq, i + 1);
    if (i + 8 >= have)
      check_payload (r, &got[i], i + 1);
  }
  journal_reader_close (r);
  free (got);
  free (seg);
  remove_tree (copy);
  free (copy);
}

static void
run (enum damage how)
{
  struct journal_record *recs;
  size_t n;
  char *dir = build_journal (&recs, &n);
  uint32_t from = recs[n - 12].loc.offset & ~511u;
  uint32_t to = rec_end (&recs[n - 1]) + 1024;

  for (uint32_t at = from; at <= to; at += 512)
    check_cut (dir, recs, n, at, how);
  free (recs);
  remove_tree (dir);
  free (dir);
}

Test (journal_torn_tail, cut_at_every_sector) { run (CUT); }
Test (journal_torn_tail, zeroes_after_every_sector) { run (ZERO); }
Test (journal_torn_tail, garbage_after_every_sector) { run (GARBAGE); }

/* Records written in one batch and torn in its middle: the later
 * sectors of the batch may have landed while an earlier one did not. */
Test (journal_torn_tail, hole_inside_last_batch)
{
  char *dir = make_tmpdir ();
  struct journal *j;
  struct journal_options o = { .segment_size = 8 << 20, .create = true };
  struct journal_record *recs;
  char buf[4096];
  size_t n;

  cr_assert_eq (journal_open (dir, &o, &j), 0);
  for (uint64_t i = 1; i <= 10; i++)
    cr_assert_eq (append_numbered (j, i, 4096, NULL), 0);
  for (int i = 0; i < 20; i++) {    /* one batch: queued, then waited */
    struct journal_record e = { .type = JOURNAL_WRITE, .length = 4096,
                                .payload_len = 4096 };
    fill_payload (buf, sizeof buf, 100 + i);
    cr_assert_eq (journal_append (j, &e, buf, NULL, NULL), 0);
  }
  journal_wait (j);
  journal_close (j);
  n = all_records (dir, &recs);
  cr_assert_eq (n, 30);

  /* Zero one sector in the middle of record 29.  How the 20 records fall
   * into batches depends on when the journal thread ran, but whatever
   * follows record 29's batch is record 30 at most: one later batch,
   * fewer than the two in flight, so a torn tail however it fell. */
  char *seg = last_segment (dir);
  int fd = open (seg, O_RDWR);
  memset (buf, 0, 512);
  cr_assert_eq (pwrite (fd, buf, 512, recs[28].loc.offset + 1024), 512);
  close (fd);
  cr_assert_eq (journal_open (dir, NULL, &j), 0, "%s", cdp_get_error ());
  journal_close (j);
  free (recs);
  n = all_records (dir, &recs);
  cr_assert_geq (n, 28);
  cr_assert_leq (n, 28, "records after the hole of a torn batch are dropped");
  free (recs);
  free (seg);
  remove_tree (dir);
  free (dir);
}

/* ---- the window of batches in flight ---------------------------------- */

/* The writer keeps up to W batches in flight (W is in the segment
 * header at offset 68; 0 means 1).  A crash can tear any of the last W
 * batches while the later ones land whole, so a hole followed by fewer
 * than W later batches is a torn tail and is cut; a hole followed by W
 * later batches was durable once: corruption, on open and on verify. */

static void
zero_sector (const char *seg, uint64_t at)
{
  char zero[512] = { 0 };
  int fd = open (seg, O_RDWR);

  cr_assert_geq (fd, 0);
  cr_assert_eq (pwrite (fd, zero, 512, at), 512);
  close (fd);
}

/* Hole in the record k batches from the end (k = 1: the last batch). */
static void
check_hole (const char *dir, const struct journal_record *recs, size_t n,
            uint32_t w, size_t k)
{
  char *copy = copy_tree (dir), *copy2 = copy_tree (dir);
  char *seg = last_segment (copy), *seg2 = last_segment (copy2);
  const struct journal_record *hole = &recs[n - k];
  struct journal_reader *r;
  struct journal_record *got;
  struct journal *j;
  char want[128];
  int e;

  zero_sector (seg, hole->loc.offset + 1024);
  zero_sector (seg2, hole->loc.offset + 1024);
  snprintf (want, sizeof want, "segment %lu offset %u",
            (unsigned long) hole->loc.segment, hole->loc.offset);
  cr_assert_eq (journal_reader_open (copy2, &r), 0);
  e = journal_open (copy, NULL, &j);
  if (k - 1 < w) {
    cr_assert_eq (journal_verify (r), (int64_t) (n - k),
                  "hole %zu batches from the end, window %u: %s", k, w,
                  cdp_get_error ());
    cr_assert_eq (e, 0, "hole %zu batches from the end, window %u: %s",
                  k, w, cdp_get_error ());
    journal_close (j);
    cr_assert_eq (all_records (copy, &got), n - k);
    free (got);
  }
  else {
    cr_assert_eq (journal_verify (r), -EUCLEAN, "hole %zu batches from the "
                  "end, window %u: not found corrupt", k, w);
    cr_assert_not_null (strstr (cdp_get_error (), want));
    cr_assert_eq (e, -EUCLEAN, "hole %zu batches from the end, window %u: "
                  "opened", k, w);
    cr_assert_not_null (strstr (cdp_get_error (), want),
                        "error '%s' names '%s'", cdp_get_error (), want);
  }
  journal_reader_close (r);
  free (seg);
  free (seg2);
  remove_tree (copy);
  remove_tree (copy2);
  free (copy);
  free (copy2);
}

Test (journal_torn_tail, hole_inside_window_is_cut_before_it_is_corruption)
{
  char *dir = make_tmpdir ();
  struct journal *j;
  struct journal_options o = { .segment_size = 8 << 20, .create = true };
  struct journal_record *recs;
  size_t n;
  char *seg;
  uint32_t w;

  /* One record per batch: each append waits for the previous one. */
  cr_assert_eq (journal_open (dir, &o, &j), 0);
  for (uint64_t i = 1; i <= 40; i++)
    cr_assert_eq (append_numbered (j, i, 4096, NULL), 0);
  journal_close (j);
  n = all_records (dir, &recs);
  cr_assert_eq (n, 40);
  seg = last_segment (dir);
  w = window_of (seg);
  cr_assert_leq (w, 16);
  cr_log_info ("window of %u batches", w);
  for (size_t k = 1; k <= w + 2; k++)
    check_hole (dir, recs, n, w, k);
  free (seg);
  free (recs);
  remove_tree (dir);
  free (dir);
}

/* A segment written before the header said (inflight 0) had one batch in
 * flight: a hole before one later batch is corruption there. */
Test (journal_torn_tail, segment_without_window_had_one_batch_in_flight)
{
  char *dir = make_tmpdir ();
  struct journal *j;
  struct journal_options o = { .segment_size = 8 << 20, .create = true };
  struct journal_record *recs;
  uint8_t hdr[128];
  uint32_t crc = 0;
  size_t n;
  char *seg;
  int fd;

  cr_assert_eq (journal_open (dir, &o, &j), 0);
  for (uint64_t i = 1; i <= 10; i++)
    cr_assert_eq (append_numbered (j, i, 4096, NULL), 0);
  journal_close (j);
  n = all_records (dir, &recs);
  seg = last_segment (dir);
  fd = open (seg, O_RDWR);
  cr_assert_eq (pread (fd, hdr, 128, 0), 128);
  memset (hdr + 68, 0, 4);          /* inflight */
  memset (hdr + 12, 0, 4);          /* crc */
  crc = crc32c (hdr, 128);
  memcpy (hdr + 12, &crc, 4);
  cr_assert_eq (pwrite (fd, hdr, 128, 0), 128);
  close (fd);
  cr_assert_eq (window_of (seg), 1);
  check_hole (dir, recs, n, 1, 1);
  check_hole (dir, recs, n, 1, 2);
  free (seg);
  free (recs);
  remove_tree (dir);
  free (dir);
}
