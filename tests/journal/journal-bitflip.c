/* A flipped bit in the tail is cut off; a flipped bit in the middle is an
 * error that names segment and offset, on open and on every read. */
#include <fcntl.h>
#include <unistd.h>

#include "common/error.h"
#include "journal-test.h"

static char *
build (uint32_t segsize, int nrec, struct journal_record **recs)
{
  char *dir = make_tmpdir ();
  struct journal *j;
  struct journal_options o = { .segment_size = segsize, .create = true };

  cr_assert_eq (journal_open (dir, &o, &j), 0);
  for (int i = 1; i <= nrec; i++)
    cr_assert_eq (append_numbered (j, i, 8192, NULL), 0);
  journal_close (j);
  cr_assert_eq (all_records (dir, recs), (size_t) nrec);
  return dir;
}

static void
flip (const char *dir, uint64_t segment, uint64_t off)
{
  char path[512];
  uint8_t b;
  int fd;

  snprintf (path, sizeof path, "%s/seg-%016lx.cdpj", dir, (unsigned long) segment);
  fd = open (path, O_RDWR);
  cr_assert_geq (fd, 0, "%s", path);
  cr_assert_eq (pread (fd, &b, 1, off), 1);
  b ^= 0x10;
  cr_assert_eq (pwrite (fd, &b, 1, off), 1);
  close (fd);
}

Test (journal_bitflip, in_last_record_is_cut)
{
  struct journal_record *recs, *after;
  char *dir = build (8 << 20, 200, &recs);
  struct journal *j;

  flip (dir, recs[199].loc.segment, recs[199].loc.offset + 64 + 4000);
  cr_assert_eq (journal_open (dir, NULL, &j), 0, "%s", cdp_get_error ());
  journal_close (j);
  cr_assert_eq (all_records (dir, &after), 199);
  free (after);
  free (recs);
  remove_tree (dir);
  free (dir);
}

Test (journal_bitflip, in_header_of_last_record_is_cut)
{
  struct journal_record *recs, *after;
  char *dir = build (8 << 20, 50, &recs);
  struct journal *j;

  flip (dir, recs[49].loc.segment, recs[49].loc.offset + 20);
  cr_assert_eq (journal_open (dir, NULL, &j), 0, "%s", cdp_get_error ());
  journal_close (j);
  cr_assert_eq (all_records (dir, &after), 49);
  free (after);
  free (recs);
  remove_tree (dir);
  free (dir);
}

Test (journal_bitflip, in_middle_of_last_segment_is_error)
{
  struct journal_record *recs;
  char *dir = build (8 << 20, 200, &recs);
  struct journal *j;
  struct journal_reader *r;
  char want[128];

  flip (dir, recs[99].loc.segment, recs[99].loc.offset + 64 + 100);
  snprintf (want, sizeof want, "segment %lu offset %u",
            (unsigned long) recs[99].loc.segment, recs[99].loc.offset);
  cr_assert_eq (journal_open (dir, NULL, &j), -EUCLEAN);
  cr_assert_not_null (strstr (cdp_get_error (), want),
                      "error '%s' names '%s'", cdp_get_error (), want);
  cr_assert_eq (journal_reader_open (dir, &r), 0);
  cr_assert_eq (journal_verify (r), -EUCLEAN);
  cr_assert_not_null (strstr (cdp_get_error (), want));
  journal_reader_close (r);
  free (recs);
  remove_tree (dir);
  free (dir);
}

Test (journal_bitflip, in_older_segment_is_error)
{
  struct journal_record *recs;
  char *dir = build (1 << 20, 400, &recs);
  struct journal_reader *r;
  struct journal_iter *it;
  struct journal_record rec;
  char want[128];
  int e;

  cr_assert_gt (recs[399].loc.segment, recs[10].loc.segment);
  flip (dir, recs[10].loc.segment, recs[10].loc.offset + 64 + 5);
  snprintf (want, sizeof want, "segment %lu offset %u",
            (unsigned long) recs[10].loc.segment, recs[10].loc.offset);
  cr_assert_eq (journal_reader_open (dir, &r), 0);
  cr_assert_eq (journal_iter_new (r, 0, &it), 0);
  while ((e = journal_iter_next (it, &rec)) == 1)
    cr_assert_lt (rec.seq, 11);
  cr_assert_eq (e, -EUCLEAN);
  cr_assert_not_null (strstr (cdp_get_error (), want),
                      "error '%s' names '%s'", cdp_get_error (), want);
  journal_iter_free (it);
  cr_assert_eq (journal_read_record (r, recs[10].loc, &rec, (char[8192]) { 0 }),
                -EUCLEAN);
  journal_reader_close (r);
  free (recs);
  remove_tree (dir);
  free (dir);
}
