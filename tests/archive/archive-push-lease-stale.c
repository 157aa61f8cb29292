/* A push whose lease could not be renewed for long (a collection may
 * have judged it dead and removed chunks the push had touched) touches
 * every chunk again before its index, and puts again the ones that are
 * gone: its point is complete. */
#include <stdatomic.h>
#include <time.h>

#include "tests/archive/archive-test.h"

#define T1 INT64_C(1765000000000000000)
#define NCHUNKS 12

static const struct archive_store_ops *real;
static int lease_puts;
static atomic_bool slow = true;
static char victim[ARCHIVE_CHUNK_KEY_MAX];

static void
pause_a_little (void)
{
  struct timespec t = { 0, 100000000 };

  if (slow)
    nanosleep (&t, NULL);
}

static int
hooked_touch (struct archive_store *s, const char *key)
{
  pause_a_little ();
  return real->touch (s, key);
}

/* The first put of the lease is its taking; the second, the push's
 * renewal once it found the lease stale: a collection that judged the
 * lease dead removed a chunk meanwhile. */
static int
hooked_put (struct archive_store *s, const char *key, const void *buf,
            size_t len)
{
  if (strncmp (key, "writers/", 8) == 0 && ++lease_puts == 2) {
    cr_assert_eq (real->del (s, victim), 0);
    slow = false;
  }
  else if (strncmp (key, "chunks/", 7) == 0)
    pause_a_little ();
  return real->put (s, key, buf, len);
}

Test (archive_push_lease_stale, touches_again)
{
  char *dir = tmp_dir ();
  struct archive *a = open_dir (dir, true);
  struct archive_store_ops ops;
  struct memdisk m;
  struct archive_push_stats st;
  struct archive_verify_stats vs;
  struct archive_point pt;
  uint8_t sum[32];

  mem_init (&m, NCHUNKS * (uint64_t) CS, 81);
  archive_sha256 (m.data + 5 * (uint64_t) CS, CS, sum);
  archive_chunk_key (sum, victim);
  /* Never renewed while the chunks are pushed (400 ms at least), stale
   * after 300 ms. */
  archive_lease_timing (INT64_C(3600000000000), 300000000);
  real = a->s->ops;
  ops = *real;
  ops.touch = hooked_touch;
  ops.put = hooked_put;
  a->s->ops = &ops;
  cr_assert_eq (push_one (a, "vm1", T1, &m, &st), 0, "%s", cdp_get_error ());
  cr_assert_eq (lease_puts, 2);
  cr_assert_eq (st.new_chunks, NCHUNKS + 1);
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
