/* An iterator reads a segment through a window of several MiB, taken
 * while the writer may still be appending to that segment: past the
 * records durable then, the window shows what the file held before.
 * When the writer has moved on to a new segment by the time the
 * iterator gets there, those bytes are not damage: the iterator reads
 * them again and goes on, instead of failing with -EUCLEAN ("bad
 * record") as a reader catching up under a busy writer did. */
#include "common/error.h"
#include "journal-test.h"

Test (journal_reader, window_read_before_the_writer_moved_on, .timeout = 120)
{
  char *dir = make_tmpdir (), jdir[512];
  struct journal_options o = { .segment_size = 1 << 20, .create = true };
  struct journal_record rec;
  struct journal_reader *r;
  struct journal_iter *it;
  struct journal *j;
  uint64_t n = 0, last = 0;
  int e;

  snprintf (jdir, sizeof jdir, "%s/j", dir);
  cr_assert_eq (journal_open (jdir, &o, &j), 0);
  for (uint64_t i = 1; i <= 3; i++)
    cr_assert_eq (append_numbered (j, i, 4096, NULL), 0);
  cr_assert_eq (journal_reader_open (jdir, &r), 0);
  cr_assert_eq (journal_iter_new (r, 1, &it), 0);
  cr_assert_eq (journal_iter_next (it, &rec), 1);   /* the window is read */
  cr_assert_eq (rec.seq, 1);

  /* The writer fills the segment and starts the next one. */
  for (uint64_t i = 4; i <= 40; i++)
    cr_assert_eq (append_numbered (j, i, 65536, &rec), 0);
  last = rec.seq;
  cr_assert_gt (rec.loc.segment, 1, "the writer did not move on");

  n = 1;
  while ((e = journal_iter_next (it, &rec)) == 1) {
    cr_assert_eq (rec.seq, n + 1);
    check_payload (r, &rec, rec.seq);
    n++;
  }
  cr_assert_eq (e, 0, "iteration failed: %d (%s)", e, cdp_get_error ());
  cr_assert_eq (n, last);
  journal_iter_free (it);
  journal_reader_close (r);
  journal_close (j);
  remove_tree (dir);
  free (dir);
}
