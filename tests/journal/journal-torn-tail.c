/* A torn tail is cut at the last wholly written record: for every
 * 512-byte boundary inside the last records, a segment that ends there
 * (cut off, zeroed, or filled with garbage after it) reopens with
 * exactly the records that lie wholly before it. */
#include <fcntl.h>
#include <unistd.h>

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
                "reopen after damage at %u: %s", at, journal_last_error ());
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

  /* Zero one sector in the middle of record 15 (of the last batch). */
  char *seg = last_segment (dir);
  int fd = open (seg, O_RDWR);
  memset (buf, 0, 512);
  cr_assert_eq (pwrite (fd, buf, 512, recs[14].loc.offset + 1024), 512);
  close (fd);
  cr_assert_eq (journal_open (dir, NULL, &j), 0, "%s", journal_last_error ());
  journal_close (j);
  free (recs);
  n = all_records (dir, &recs);
  cr_assert_geq (n, 14);
  cr_assert_leq (n, 14, "records after the hole of a torn batch are dropped");
  free (recs);
  free (seg);
  remove_tree (dir);
  free (dir);
}
