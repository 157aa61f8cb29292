/* Segments written through the page cache: each is durable in full
 * before the next one starts, so after the host goes down only the
 * last can have lost records.  Readers (journal_iter, journal_verify,
 * journal_check) take a hole in the last page cache segment, while the
 * marker says records may have been lost, for its torn tail; damage in
 * a segment that was synced (one before the last, or the last after a
 * clean close) is still damage, and journal_open refuses it rather
 * than cut valid records away. */
#include "common/error.h"
#include "journal-buffered.h"

#define NREC 800
#define SIZE 8192

static struct journal *jrnl;
static uint64_t prev_seg, prev_seq, switches;   /* journal thread only */

static void
ack_cb (void *opaque, const struct journal_record *rec, int err)
{
  cr_assert_eq (err, 0);
  cr_assert_eq (rec->seq, (uintptr_t) opaque);
  if (prev_seg && rec->loc.segment != prev_seg) {
    cr_assert_geq (journal_durable_seq (jrnl), prev_seq,
                   "segment %lu started with seq %lu of segment %lu not "
                   "durable", (unsigned long) rec->loc.segment,
                   (unsigned long) prev_seq, (unsigned long) prev_seg);
    switches++;
  }
  prev_seg = rec->loc.segment;
  prev_seq = rec->seq;
}

Test (journal_buffered_segments, durable_before_the_next, .timeout = 300)
{
  char *dir = make_tmpdir ();
  struct journal_options o = { .segment_size = 1 << 20, .create = true };
  uint8_t *buf = malloc (SIZE);

  cr_assert_eq (journal_open (dir, &o, &jrnl), 0);
  cr_assert_eq (journal_set_sync_interval (jrnl, HOUR), 0);
  for (uint64_t k = 1; k <= NREC; k++) {
    struct journal_record e = { .type = JOURNAL_WRITE, .offset = k * SIZE,
                                .length = SIZE, .payload_len = SIZE };
    fill_payload (buf, SIZE, k);
    cr_assert_eq (journal_append (jrnl, &e, buf, ack_cb,
                                  (void *) (uintptr_t) k), 0);
  }
  journal_wait (jrnl);
  cr_assert_geq (switches, 4, "only %lu segment switches",
                 (unsigned long) switches);
  cr_assert_lt (journal_durable_seq (jrnl), NREC);
  journal_close (jrnl);
  cr_assert_eq (count_records (dir), NREC);
  free (buf);
  remove_tree (dir);
  free (dir);
}

struct check_count {
  uint64_t records, damaged;
};

static int
check_cb (void *opaque, const struct journal_record *rec,
          const struct journal_damage *d)
{
  struct check_count *c = opaque;

  if (rec)
    c->records++;
  else
    c->damaged++;
  return 0;
}

/* journal_verify's and journal_check's view of dir: records, damage. */
static int64_t
verify (const char *dir, struct check_count *c)
{
  struct journal_reader *r;
  struct journal_check_opts o = { 0 };
  struct journal_check_stats st;
  int64_t n;

  memset (c, 0, sizeof *c);
  cr_assert_eq (journal_reader_open (dir, &r), 0);
  n = journal_verify (r);
  cr_assert_eq (journal_check (r, &o, check_cb, c, &st), 0);
  cr_assert_eq (st.damaged, c->damaged);
  journal_reader_close (r);
  return n;
}

/* Iterate dir to the end: the count, or the error. */
static int64_t
iterate (const char *dir)
{
  struct journal_reader *r;
  struct journal_iter *it;
  struct journal_record rec;
  int64_t n = 0;
  int e;

  cr_assert_eq (journal_reader_open (dir, &r), 0);
  cr_assert_eq (journal_iter_new (r, 0, &it), 0);
  while ((e = journal_iter_next (it, &rec)) == 1)
    n++;
  journal_iter_free (it);
  journal_reader_close (r);
  return e < 0 ? e : n;
}

static void
put_bytes (const char *seg, off_t at, const void *p, size_t len)
{
  int fd = open (seg, O_RDWR);

  cr_assert_geq (fd, 0);
  cr_assert_eq (pwrite (fd, p, len, at), (ssize_t) len);
  close (fd);
}

static void
flip_byte (const char *seg, off_t at)
{
  int fd = open (seg, O_RDWR);
  uint8_t b;

  cr_assert_geq (fd, 0);
  cr_assert_eq (pread (fd, &b, 1, at), 1);
  b ^= 0x40;
  cr_assert_eq (pwrite (fd, &b, 1, at), 1);
  close (fd);
}

static char *
seg_path (const char *dir, uint64_t number)
{
  char *p;

  cr_assert_geq (asprintf (&p, "%s/seg-%016lx.cdpj", dir,
                           (unsigned long) number), 0);
  return p;
}

Test (journal_buffered_segments, torn_last_and_damaged_synced, .timeout = 300)
{
  char *dir = make_tmpdir (), *copy, *seg;
  struct ack_report *acks;
  struct journal_record *recs;
  struct check_count c;
  static uint8_t zero[4096];
  size_t n, keep = 0, mid, after = 0;
  uint64_t last;
  off_t hole;

  n = run_child (dir, 1 << 20, NREC, false, &acks);
  cr_assert_eq (n, NREC);
  cr_assert_eq (all_records (dir, &recs), NREC);
  last = recs[NREC - 1].loc.segment;
  cr_assert_geq (last, 4, "the records fill only %lu segments",
                 (unsigned long) last);
  seg = seg_path (dir, last);
  cr_assert_eq (window_of (seg), UINT32_MAX, "not a page cache segment");
  free (seg);

  /* The host went down: a page of the last segment never written back,
   * valid batches after it. */
  copy = copy_tree (dir);
  marker_other_boot (copy);
  while (recs[keep].loc.segment != last)
    keep++;
  mid = (keep + NREC) / 2;
  hole = recs[mid].loc.offset & ~(off_t) 4095;
  seg = seg_path (copy, last);
  put_bytes (seg, hole, zero, sizeof zero);
  free (seg);
  while (rec_end (&recs[keep]) <= hole)
    keep++;
  for (size_t i = keep; i < NREC; i++)
    after += recs[i].loc.offset >= hole + 4096;
  cr_assert_geq (after, 3);
  cr_assert_eq (iterate (copy), (int64_t) keep, "%s", cdp_get_error ());
  cr_assert_eq (verify (copy, &c), (int64_t) keep, "%s", cdp_get_error ());
  cr_assert_eq (c.damaged, 0, "a torn tail reported as damage");
  cr_assert_eq (c.records, keep);

  /* A byte flipped in a segment synced before the next began. */
  seg = seg_path (copy, last - 2);
  for (mid = 0; recs[mid].loc.segment != last - 2; mid++)
    ;
  mid += 5;
  flip_byte (seg, recs[mid].loc.offset + 64 + recs[mid].payload_len / 2);
  free (seg);
  cr_assert_eq (iterate (copy), -EUCLEAN);
  cr_assert_eq (verify (copy, &c), -EUCLEAN);
  cr_assert_geq (c.damaged, 1, "damage in a synced segment not reported");
  remove_tree (copy);
  free (copy);

  free (acks);
  free (recs);
  remove_tree (dir);
  free (dir);
}

/* After a clean close the last page cache segment was synced in full:
 * an invalid record before valid ones is damage, as at interval 0, and
 * journal_open refuses to cut the valid records after it away. */
static void
closed_case (bool zero_page)
{
  char *dir = make_tmpdir (), *seg;
  struct journal_options o = { .segment_size = 8 << 20, .create = true };
  struct journal_record *recs;
  struct journal *j;
  struct check_count c;
  static uint8_t zero[4096];
  size_t mid = 100;

  cr_assert_eq (journal_open (dir, &o, &j), 0);
  cr_assert_eq (journal_set_sync_interval (j, HOUR), 0);
  for (uint64_t k = 1; k <= 200; k++)
    cr_assert_eq (append_numbered (j, k, 4096, NULL), 0);
  journal_close (j);
  cr_assert (!marker_exists (dir));
  cr_assert_eq (all_records (dir, &recs), 200);
  seg = seg_path (dir, recs[mid].loc.segment);
  cr_assert_eq (window_of (seg), UINT32_MAX);
  if (zero_page)
    put_bytes (seg, recs[mid].loc.offset & ~(off_t) 4095, zero, sizeof zero);
  else
    flip_byte (seg, recs[mid].loc.offset + 64 + 100);
  free (seg);
  cr_assert_eq (verify (dir, &c), -EUCLEAN,
                "damage in a synced page cache segment: %s",
                cdp_get_error ());
  cr_assert_geq (c.damaged, 1);
  cr_assert_eq (journal_open (dir, &o, &j), -EUCLEAN,
                "journal_open cut valid records away");
  free (recs);
  remove_tree (dir);
  free (dir);
}

Test (journal_buffered_segments, flipped_byte_after_clean_close)
{
  closed_case (false);
}

Test (journal_buffered_segments, zeroed_page_after_clean_close)
{
  closed_case (true);
}

/* The record that opens a new segment (it waited for the old one's
 * sync) is made durable within the interval too, with nothing appended
 * after it to wake the journal. */
static pthread_mutex_t dlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dcond = PTHREAD_COND_INITIALIZER;
static uint64_t durable;

static void
durable_cb (void *opaque, uint64_t seq, int err, int64_t oldest)
{
  pthread_mutex_lock (&dlock);
  if (seq > durable)
    durable = seq;
  pthread_cond_broadcast (&dcond);
  pthread_mutex_unlock (&dlock);
}

static bool
wait_durable (uint64_t seq)
{
  struct timespec dl;
  bool ok = true;

  clock_gettime (CLOCK_REALTIME, &dl);
  dl.tv_sec += WAIT_S;
  pthread_mutex_lock (&dlock);
  while (durable < seq && ok)
    ok = pthread_cond_timedwait (&dcond, &dlock, &dl) == 0 || durable >= seq;
  pthread_mutex_unlock (&dlock);
  return ok;
}

Test (journal_buffered_segments, first_of_a_segment_synced_in_time,
      .timeout = 600)
{
  char *dir = make_tmpdir ();
  struct journal_options o = { .segment_size = 1 << 20, .create = true };
  struct journal_record rec = { 0 };
  uint64_t k = 0;

  cr_assert_eq (journal_open (dir, &o, &jrnl), 0);
  journal_set_durable_cb (jrnl, durable_cb, NULL);
  cr_assert_eq (journal_set_sync_interval (jrnl, SEC), 0);
  cr_assert_eq (append_numbered (jrnl, ++k, SIZE, &rec), 0);
  for (int s = 0; s < 3; s++) {
    uint64_t seg = rec.loc.segment;
    do
      cr_assert_eq (append_numbered (jrnl, ++k, SIZE, &rec), 0);
    while (rec.loc.segment == seg);
    /* rec is the first of its segment, and the last record appended. */
    cr_assert (wait_durable (rec.seq), "seq %lu, the first of segment %lu, "
               "not durable after %d s with an interval of 1 s",
               (unsigned long) rec.seq, (unsigned long) rec.loc.segment,
               WAIT_S);
    cr_assert_eq (journal_unsynced_since (jrnl), 0);
  }
  journal_close (jrnl);
  cr_assert_eq (count_records (dir), (int64_t) k);
  remove_tree (dir);
  free (dir);
}
