/* A push puts its lease again and again while it runs (here every 50
 * ms, through chunk uploads that take at least 400 ms), the lease's
 * body keeping the push's start, and removes it at the end. */
#include <stdatomic.h>
#include <time.h>

#include "tests/archive/archive-test.h"

#define T1 INT64_C(1765000000000000000)
#define NCHUNKS 12

static const struct archive_store_ops *real;
static int lease_puts;
static int64_t first_start = -1;
static bool same_start = true;

static int
hooked_put (struct archive_store *s, const char *key, const void *buf,
            size_t len)
{
  struct timespec t = { 0, 100000000 };
  int64_t start;

  if (strncmp (key, "writers/", 8) == 0) {
    lease_puts++;
    cr_assert_eq (archive_lease_start (buf, len, &start), 0);
    if (first_start < 0)
      first_start = start;
    same_start &= start == first_start;
  }
  else if (strncmp (key, "chunks/", 7) == 0)
    nanosleep (&t, NULL);
  return real->put (s, key, buf, len);
}

Test (archive_push_lease_refresh, while_pushing)
{
  char *dir = tmp_dir ();
  struct archive *a = open_dir (dir, true);
  struct archive_store_ops ops;
  struct memdisk m;
  struct archive_push_stats st;

  mem_init (&m, NCHUNKS * (uint64_t) CS, 91);
  archive_lease_timing (50000000, INT64_C(3600000000000));
  real = a->s->ops;
  ops = *real;
  ops.put = hooked_put;
  a->s->ops = &ops;
  cr_assert_eq (push_one (a, "vm1", T1, &m, &st), 0, "%s", cdp_get_error ());
  a->s->ops = real;
  cr_assert_geq (lease_puts, 3, "the lease was put %d times", lease_puts);
  cr_assert (same_start, "a renewal changed the push's start");
  cr_assert_eq (count_objects (a, "writers/"), 0);
  assert_reads_as (a, "vm1", T1, 0, &m);
  archive_close (a);
  mem_free (&m);
  rm_tree (dir);
}
