/* journal_check reports every damaged record and goes on past it: two
 * flipped payload bytes in different segments are two reports naming
 * their records, a destroyed header is one report of the bytes nobody
 * can read, and every other record is still handed out; a clean journal
 * reports nothing. */
#include <fcntl.h>
#include <unistd.h>

#include "journal-test.h"

#define NREC 400

static char *
build (struct journal_record **recs)
{
  char *dir = make_tmpdir ();
  struct journal *j;
  struct journal_options o = { .segment_size = 1 << 20, .create = true };

  cr_assert_eq (journal_open (dir, &o, &j), 0);
  for (int i = 1; i <= NREC; i++)
    cr_assert_eq (append_numbered (j, i, 8192, NULL), 0);
  journal_close (j);
  cr_assert_eq (all_records (dir, recs), NREC);
  cr_assert_gt ((*recs)[NREC - 1].loc.segment, 2, "want several segments");
  return dir;
}

static void
poke (const char *dir, const struct journal_record *rec, uint32_t at,
      uint8_t x)
{
  char path[512];
  uint8_t b;
  int fd;

  snprintf (path, sizeof path, "%s/seg-%016lx.cdpj", dir,
            (unsigned long) rec->loc.segment);
  fd = open (path, O_RDWR);
  cr_assert_geq (fd, 0);
  cr_assert_eq (pread (fd, &b, 1, rec->loc.offset + at), 1);
  b ^= x;
  cr_assert_eq (pwrite (fd, &b, 1, rec->loc.offset + at), 1);
  close (fd);
}

struct seen {
  uint64_t records;
  struct journal_damage d[8];
  size_t nd;
};

static int
collect (void *opaque, const struct journal_record *rec,
         const struct journal_damage *d)
{
  struct seen *s = opaque;

  if (rec)
    s->records++;
  else if (s->nd < 8)
    s->d[s->nd++] = *d;
  return 0;
}

static void
run (const char *dir, const struct journal_check_opts *o, struct seen *s,
     struct journal_check_stats *st)
{
  struct journal_reader *r;

  memset (s, 0, sizeof *s);
  cr_assert_eq (journal_reader_open (dir, &r), 0);
  cr_assert_eq (journal_check (r, o, collect, s, st), 0);
  journal_reader_close (r);
}

Test (journal_check, clean_journal_reports_nothing)
{
  struct journal_record *recs;
  char *dir = build (&recs);
  struct journal_check_opts o = { 0 };
  struct journal_check_stats st;
  struct seen s;

  run (dir, &o, &s, &st);
  cr_assert_eq (s.nd, 0, "%zu reports, the first: segment %lu offset %u seq %lu "
                "to %u", s.nd, (unsigned long) s.d[0].loc.segment,
                s.d[0].loc.offset, (unsigned long) s.d[0].seq, s.d[0].end);
  cr_assert_eq (s.records, NREC);
  cr_assert_eq (st.records, NREC);
  cr_assert_geq (st.bytes, (uint64_t) NREC * 8192);
  o.from_seq = 100;
  o.to_seq = 149;
  run (dir, &o, &s, &st);
  cr_assert_eq (s.records, 50, "range: %lu records", (unsigned long) s.records);
  free (recs);
  remove_tree (dir);
  free (dir);
}

Test (journal_check, goes_on_past_damage)
{
  struct journal_record *recs;
  char *dir = build (&recs);
  struct journal_check_opts o = { 0 };
  struct journal_check_stats st;
  struct seen s;

  poke (dir, &recs[10], 64 + 100, 0x04);          /* payload */
  poke (dir, &recs[250], 64 + 8000, 0x80);        /* payload, later segment */
  poke (dir, &recs[150], 0, 0xff);                /* the header's magic */
  run (dir, &o, &s, &st);
  cr_assert_eq (s.nd, 3, "%zu reports", s.nd);
  cr_assert_eq (s.d[0].seq, recs[10].seq);
  cr_assert_eq (s.d[0].loc.segment, recs[10].loc.segment);
  cr_assert_eq (s.d[0].loc.offset, recs[10].loc.offset);
  cr_assert_not (s.d[0].header_damaged);
  cr_assert_eq (s.d[0].offset, recs[10].offset);
  cr_assert (s.d[1].header_damaged);
  cr_assert_eq (s.d[1].loc.offset, recs[150].loc.offset);
  cr_assert_eq (s.d[1].seq, recs[150].seq, "the seq expected there");
  cr_assert (s.d[1].end > recs[150].loc.offset + 64 + 8192 - 64 &&
             s.d[1].end <= recs[151].loc.offset, "ends at %u", s.d[1].end);
  cr_assert_eq (s.d[2].seq, recs[250].seq);
  cr_assert_eq (s.records, NREC - 3);
  cr_assert_eq (st.damaged, 3);
  free (recs);
  remove_tree (dir);
  free (dir);
}

static int
stop_at_second (void *opaque, const struct journal_record *rec,
                const struct journal_damage *d)
{
  return rec && rec->seq == 2;
}

Test (journal_check, callback_stops_it)
{
  struct journal_record *recs;
  char *dir = build (&recs);
  struct journal_check_opts o = { 0 };
  struct journal_check_stats st;
  struct journal_reader *r;

  cr_assert_eq (journal_reader_open (dir, &r), 0);
  cr_assert_eq (journal_check (r, &o, stop_at_second, NULL, &st), 0);
  cr_assert_eq (st.records, 2);
  journal_reader_close (r);
  free (recs);
  remove_tree (dir);
  free (dir);
}
