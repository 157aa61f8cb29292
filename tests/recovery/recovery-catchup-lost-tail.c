/* A journal written through the page cache can lose its newest records
 * with the host after the index has taken them (a reader's catch-up reads
 * what the kernel holds).  The journal then hands their sequence numbers
 * out again, for other writes: catching up must forget the lost records
 * first, or the index would skip the new ones as held already and points
 * would resolve to records that are not there. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recovery/history/index.h"
#include "tests/journal/journal-test.h"

/* Append a 4 KiB write filled with fill at chunk c, durably. */
static struct journal_record
append_write (struct journal *j, uint64_t c, int fill)
{
  static uint8_t buf[4096];
  struct journal_record rec;

  memset (buf, fill, sizeof buf);
  cr_assert_eq (append_sync (j, JOURNAL_WRITE, 0, c * 65536, sizeof buf, buf,
                             sizeof buf, &rec), 0);
  return rec;
}

struct found {
  struct journal_loc loc;
  int n;
};

static int
note_piece (void *opaque, const struct index_piece *p)
{
  struct found *f = opaque;

  f->loc = p->loc;
  f->n++;
  return 0;
}

Test (index, catch_up_forgets_a_lost_tail, .timeout = 120)
{
  char dir[] = "/var/tmp/cdp-lost-tail-XXXXXX", jdir[256], idir[256];
  char seg[300], cmd[300];
  struct journal_options o = { .segment_size = 1 << 20, .create = true };
  struct journal_record recs[30], again;
  struct journal *j;
  struct journal_reader *r;
  struct cdp_index *ix;
  struct found f;
  static uint8_t zero[1 << 16];
  int fd;

  cr_assert_not_null (mkdtemp (dir));
  snprintf (jdir, sizeof jdir, "%s/journal", dir);
  snprintf (idir, sizeof idir, "%s/index", dir);
  cr_assert_eq (journal_open (jdir, &o, &j), 0);
  for (int i = 0; i < 30; i++)
    recs[i] = append_write (j, (uint64_t) i, i + 1);
  journal_close (j);
  cr_assert_eq (journal_reader_open (jdir, &r), 0);
  cr_assert_eq (index_open (idir, &ix), 0);
  cr_assert_eq (index_catch_up (ix, r), 30);

  /* The host goes down: records 21..30 never reached the disk. */
  cr_assert_eq (recs[20].loc.segment, recs[29].loc.segment);
  snprintf (seg, sizeof seg, "%s/seg-%016llx.cdpj", jdir,
            (unsigned long long) recs[20].loc.segment);
  fd = open (seg, O_WRONLY);
  cr_assert_geq (fd, 0);
  for (off_t at = recs[20].loc.offset; at < (off_t) o.segment_size;
       at += sizeof zero)
    cr_assert_eq (pwrite (fd, zero, sizeof zero, at), (ssize_t) sizeof zero);
  close (fd);

  /* The writer opens the journal (it ends at 20 now) and the index
   * catches up before anything is appended, as the daemon does. */
  cr_assert_eq (journal_open (jdir, &o, &j), 0);
  cr_assert_eq (journal_last_seq (j), 20);
  cr_assert_eq (journal_reader_refresh (r), 0);
  cr_assert_eq (index_catch_up (ix, r), 0);
  cr_expect_eq (index_last_seq (ix), 20, "21..30 are forgotten");

  /* The journal goes on from 21, with other data at chunk 0. */
  again = append_write (j, 0, 0xee);
  cr_assert_eq (again.seq, 21);
  journal_close (j);
  cr_assert_eq (journal_reader_refresh (r), 0);
  cr_assert_eq (index_catch_up (ix, r), 1, "record 21 is taken, not skipped");
  cr_expect_eq (index_last_seq (ix), 21);
  memset (&f, 0, sizeof f);
  cr_assert_eq (index_resolve (ix, 0, 21, 0, 0, 65536, note_piece, &f), 0);
  cr_expect_eq (f.n, 1);
  cr_expect (f.loc.segment == again.loc.segment &&
             f.loc.offset == again.loc.offset,
             "chunk 0 at 21 resolves to the new record 21");
  memset (&f, 0, sizeof f);
  cr_assert_eq (index_resolve (ix, 0, 21, 0, 25 * 65536, 65536, note_piece,
                               &f), 0);
  cr_expect_eq (f.n, 0, "the lost record 26 is forgotten");
  memset (&f, 0, sizeof f);
  cr_assert_eq (index_resolve (ix, 0, 21, 0, 10 * 65536, 65536, note_piece,
                               &f), 0);
  cr_expect_eq (f.n, 1, "record 11 stays");

  index_close (ix);
  journal_reader_close (r);
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq (system (cmd), 0);
}
