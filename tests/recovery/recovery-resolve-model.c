/* Reads of any point equal a reference model replayed in memory: random
 * writes (512-byte aligned and not), write-zeroes and trims on two disks,
 * overlapping and crossing index chunks, checked at many points, through
 * an index built from completion callbacks and one rebuilt from the
 * journal alone. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recovery/history/index.h"
#include "recovery/history/point.h"
#include "tests/recovery/recovery-test.h"

#define DISK_SIZE (1u << 20)
#define NOPS 2400
#define EVERY 150
#define NCHECK (NOPS / EVERY)

static uint8_t model[2][DISK_SIZE];
static uint8_t *snap[NCHECK][2];
static uint64_t snap_seq[NCHECK];
static struct journal_record done_recs[NOPS + 16];
static size_t ndone;
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;

static void
on_done (void *opaque, const struct journal_record *rec, int err)
{
  cr_assert_eq (err, 0);
  pthread_mutex_lock (&done_lock);
  done_recs[ndone++] = *rec;
  pthread_mutex_unlock (&done_lock);
}

static uint64_t
rnd (uint64_t n)
{
  return (uint64_t) random () % n;
}

static void
one_op (struct journal *j, int i, uint8_t *buf)
{
  uint32_t disk = rnd (2);
  uint64_t off, len;
  int kind;

  rt_random_extent (DISK_SIZE, &off, &len);
  kind = rnd (10);
  struct journal_record e = { .disk = disk, .offset = off, .length = len };

  if (kind < 7) {
    for (uint64_t k = 0; k < len; k++)
      buf[k] = (uint8_t) (i * 31 + k * 7 + 1);
    e.type = JOURNAL_WRITE;
    e.payload_len = len;
    memcpy (&model[disk][off], buf, len);
  }
  else {
    e.type = kind < 9 ? JOURNAL_WRITE_ZEROES : JOURNAL_TRIM;
    memset (&model[disk][off], 0, len);
  }
  cr_assert_eq (journal_append (j, &e, e.payload_len ? buf : NULL, on_done, NULL), 0);
}

static void
check_points (struct cdp_index *ix, struct journal_reader *jr)
{
  uint8_t *got = malloc (DISK_SIZE);

  for (int c = 0; c < NCHECK; c++)
    for (uint32_t d = 0; d < 2; d++) {
      struct point p = { .ix = ix, .jr = jr, .disk = d, .size = DISK_SIZE,
                         .seq = snap_seq[c], .base = &point_zero_base };
      point_extent_vector holes = empty_vector;
      cr_assert_eq (point_pread (&p, got, 0, DISK_SIZE, &holes), 0);
      cr_assert_eq (memcmp (got, snap[c][d], DISK_SIZE), 0,
                    "disk %u at seq %lu differs", d, (unsigned long) snap_seq[c]);
      for (size_t h = 0; h < holes.len; h++)
        for (uint64_t k = 0; k < holes.ptr[h].len; k++)
          cr_assert_eq (snap[c][d][holes.ptr[h].off + k], 0);
      point_extent_vector_reset (&holes);
      /* and some small reads at odd places */
      for (int t = 0; t < 20; t++) {
        uint64_t off = rnd (DISK_SIZE), len = 1 + rnd (70000);
        if (off + len > DISK_SIZE)
          len = DISK_SIZE - off;
        cr_assert_eq (point_pread (&p, got, off, len, NULL), 0);
        cr_assert_eq (memcmp (got, snap[c][d] + off, len), 0);
      }
      cr_assert_eq (point_pread (&p, got, DISK_SIZE - 10, 11, NULL), -EINVAL);
    }
  free (got);
}

Test (recovery, resolve_matches_model, .timeout = 240)
{
  char dir[] = "/var/tmp/cdp-rtest-XXXXXX", jdir[300], idir[300];
  struct journal_options o = { .segment_size = 8 << 20, .create = true };
  struct journal *j;
  struct journal_reader *jr;
  struct cdp_index *ix;
  uint8_t *buf = malloc (DISK_SIZE);

  srandom (42);
  cr_assert_not_null (mkdtemp (dir));
  snprintf (jdir, sizeof jdir, "%s/journal", dir);
  snprintf (idir, sizeof idir, "%s/index", dir);
  cr_assert_eq (journal_open (jdir, &o, &j), 0);
  for (int i = 0; i < NOPS; i++) {
    one_op (j, i, buf);
    if ((i + 1) % EVERY == 0) {
      int c = (i + 1) / EVERY - 1;
      journal_wait (j);
      snap_seq[c] = journal_last_seq (j);
      for (int d = 0; d < 2; d++) {
        snap[c][d] = malloc (DISK_SIZE);
        memcpy (snap[c][d], model[d], DISK_SIZE);
      }
    }
  }
  journal_close (j);
  cr_assert_eq (ndone, NOPS);

  /* Index from the completions, as the daemon builds it. */
  cr_assert_eq (index_open (idir, &ix), 0);
  cr_assert_eq (index_apply (ix, done_recs, NULL, ndone / 2), 0);
  cr_assert_eq (index_apply (ix, done_recs, NULL, ndone), 0);  /* overlap */
  cr_assert_eq (index_last_seq (ix), NOPS);
  cr_assert_eq (journal_reader_open (jdir, &jr), 0);
  check_points (ix, jr);
  index_close (ix);

  /* Deleted index: rebuilt from the journal, same answers. */
  cr_assert_eq (index_remove (idir), 0);
  cr_assert_eq (index_open (idir, &ix), 0);
  cr_assert_eq (index_catch_up (ix, jr), NOPS);
  cr_assert_eq (index_catch_up (ix, jr), 0);
  check_points (ix, jr);

  /* Time to sequence is exact at every record's own time. */
  for (size_t i = 0; i < ndone; i += 37) {
    uint64_t s;
    int64_t t;
    cr_assert_eq (index_seq_at (ix, done_recs[i].time_ns, &s, &t), 0);
    cr_assert_geq (s, done_recs[i].seq);
    cr_assert_eq (t, done_recs[i].time_ns);
    if (s < NOPS)
      cr_assert_gt (done_recs[s].time_ns, done_recs[i].time_ns);
    cr_assert_eq (index_seq_at (ix, done_recs[i].time_ns - 1, &s, NULL), 0);
    cr_assert_lt (s, done_recs[i].seq);
  }
  index_close (ix);
  journal_reader_close (jr);
  char cmd[400];
  snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
  cr_assert_eq (system (cmd), 0);
  free (buf);
}
