/* A collection whose record went stale (its process stopped: pushes
 * meanwhile judged it dead and stopped waiting for it) removes nothing
 * after that, even when its refresher puts the record again before the
 * sweep goes on: it stops with -ETIMEDOUT and the unreferenced chunks
 * stay for the next collection.  The stop is simulated: the record's
 * first renewal takes longer than the staleness bound (1 s here), and
 * the sweep's first look at a chunk waits until the record was put
 * again after it. */
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#include "tests/archive/archive-test.h"

#define T1 INT64_C(1765000000000000000)
#define HOUR (INT64_C(3600) * 1000000000)

static const struct archive_store_ops *real;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int record_puts;

static int
hooked_put (struct archive_store *s, const char *key, const void *buf,
            size_t len)
{
  int n;

  if (strncmp (key, "gc/", 3) != 0)
    return real->put (s, key, buf, len);
  pthread_mutex_lock (&lock);
  n = ++record_puts;
  pthread_cond_broadcast (&cond);
  pthread_mutex_unlock (&lock);
  if (n == 2) {                     /* the first renewal: stalled */
    struct timespec t = { 1, 500000000 };
    nanosleep (&t, NULL);
  }
  return real->put (s, key, buf, len);
}

/* The sweep's look at a candidate: once the stalled renewal is done
 * (the next renewal has begun). */
static int
hooked_stat (struct archive_store *s, const char *key, uint64_t *size,
             int64_t *mtime)
{
  pthread_mutex_lock (&lock);
  while (strncmp (key, "chunks/", 7) == 0 && record_puts < 3)
    pthread_cond_wait (&cond, &lock);
  pthread_mutex_unlock (&lock);
  return real->stat (s, key, size, mtime);
}

static int
age_chunk (void *opaque, const struct archive_obj *o)
{
  const char *dir = opaque;
  char path[512];
  struct timespec ts[2];
  time_t old = time (NULL) - 2 * 3600;

  snprintf (path, sizeof path, "%s/%s", dir, o->key);
  ts[0].tv_sec = ts[1].tv_sec = old;
  ts[0].tv_nsec = ts[1].tv_nsec = 0;
  cr_assert_eq (utimensat (AT_FDCWD, path, ts, 0), 0, "%s", path);
  return 0;
}

Test (archive_gc_record_lapse, removes_nothing_after)
{
  char *dir = tmp_dir ();
  struct archive *a = open_dir (dir, true);
  struct archive_store_ops ops;
  struct archive_push_stats st;
  struct archive_gc_stats gs;
  struct archive_point pt;
  struct memdisk m1, m2;
  uint64_t before;

  mem_init (&m1, 4 * (uint64_t) CS, 11);
  mem_init (&m2, 4 * (uint64_t) CS, 12);
  cr_assert_eq (push_one (a, "vm1", T1, &m1, &st), 0, "%s", cdp_get_error ());
  cr_assert_eq (push_one (a, "vm1", T1 + 1, &m2, &st), 0);
  cr_assert_eq (archive_point_load (a, "vm1", T1, &pt), 0);
  cr_assert_eq (archive_point_forget (a, &pt), 0);
  archive_point_free (&pt);
  cr_assert_eq (a->s->ops->list (a->s, "chunks/", age_chunk, dir), 0);
  before = count_objects (a, "chunks/");
  cr_assert_eq (before, 8);

  archive_lease_timing (100000000, 1000000000);
  real = a->s->ops;
  ops = *real;
  ops.put = hooked_put;
  ops.stat = hooked_stat;
  a->s->ops = &ops;
  cr_assert_eq (archive_gc (a, 0, NULL, &gs), -ETIMEDOUT,
                "the collection went on after its record lapsed: %s",
                cdp_get_error ());
  cr_assert_eq (gs.removed, 0);
  a->s->ops = real;
  cr_assert_eq (count_objects (a, "chunks/"), before);
  assert_reads_as (a, "vm1", T1 + 1, 0, &m2);

  /* A collection that keeps its record: the four orphans go. */
  archive_lease_timing (ARCHIVE_LEASE_REFRESH_NS / 2, ARCHIVE_LEASE_STALE_NS);
  cr_assert_eq (archive_gc (a, 0, NULL, &gs), 0, "%s", cdp_get_error ());
  cr_assert_eq (gs.removed, 4);
  assert_reads_as (a, "vm1", T1 + 1, 0, &m2);
  archive_close (a);
  mem_free (&m1);
  mem_free (&m2);
  rm_tree (dir);
}
