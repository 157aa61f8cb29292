/* The lease of a push lapses after its last check of the chunks (a
 * collection ran during the push, so the push stat'ed every chunk, and
 * then the process stalled): a collection that judged the lease dead
 * may have removed a chunk after it was checked.  The push sees the
 * lease stale right before its index, touches every chunk again and
 * puts the one that is gone: its point is complete. */
#include <stdatomic.h>
#include <time.h>

#include "tests/archive/archive-test.h"

#define T1 INT64_C(1765000000000000000)
#define NCHUNKS 6

static const struct archive_store_ops *real;
static atomic_int chunk_stats, chunk_puts;
static char victim[ARCHIVE_CHUNK_KEY_MAX];

/* The first chunk's put: a collection of another host ran meanwhile
 * (its record, ended, dated within the push). */
static int
hooked_put (struct archive_store *s, const char *key, const void *buf,
            size_t len)
{
  static const char rec[] =
    "{\"start\": 1, \"running\": false, \"host\": \"elsewhere\", \"pid\": 1}";

  if (strncmp (key, "chunks/", 7) == 0 && atomic_fetch_add (&chunk_puts, 1) == 0)
    cr_assert_eq (real->put (s, "gc/elsewhere-1", rec, sizeof rec - 1), 0);
  return real->put (s, key, buf, len);
}

/* The last chunk stat'ed: the collection removes the victim (checked
 * already), and the push stalls past its lease's staleness. */
static int
hooked_stat (struct archive_store *s, const char *key, uint64_t *size,
             int64_t *mtime)
{
  int r = real->stat (s, key, size, mtime);

  if (strncmp (key, "chunks/", 7) == 0
      && atomic_fetch_add (&chunk_stats, 1) == NCHUNKS - 1) {
    struct timespec t = { 0, 400000000 };
    cr_assert_eq (real->del (s, victim), 0);
    nanosleep (&t, NULL);
  }
  return r;
}

Test (archive_push_lease_lapse_late, touches_again_before_the_index)
{
  char *dir = tmp_dir ();
  struct archive *a = open_dir (dir, true);
  struct archive_store_ops ops;
  struct memdisk m;
  struct archive_push_stats st;
  struct archive_verify_stats vs;
  struct archive_point pt;
  uint8_t sum[32];

  mem_init (&m, NCHUNKS * (uint64_t) CS, 83);
  archive_sha256 (m.data, CS, sum);
  archive_chunk_key (sum, victim);
  /* Renewed only when stale, stale after 300 ms. */
  archive_lease_timing (INT64_C(3600000000000), 300000000);
  real = a->s->ops;
  ops = *real;
  ops.put = hooked_put;
  ops.stat = hooked_stat;
  a->s->ops = &ops;
  cr_assert_eq (push_one (a, "vm1", T1, &m, &st), 0, "%s", cdp_get_error ());
  cr_assert_geq (chunk_stats, NCHUNKS, "the push did not check its chunks "
                "after the collection");
  a->s->ops = real;
  cr_assert_eq (archive_point_load (a, "vm1", T1, &pt), 0);
  cr_assert_eq (archive_verify (a, &pt, NULL, 2, NULL, NULL, &vs), 0,
                "the point names a chunk that is gone: %s", cdp_get_error ());
  archive_point_free (&pt);
  assert_reads_as (a, "vm1", T1, 0, &m);
  archive_close (a);
  mem_free (&m);
  rm_tree (dir);
}
