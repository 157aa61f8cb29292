/* archive_gc removes exactly the chunks no index names that are older
 * than its start less the grace; never one younger than the start of a
 * live lease (a push in progress), which a dead lease no longer
 * protects; nothing at all when an index cannot be read; and removes
 * temporary files and dead leases a day old, not younger ones. */
#include <fcntl.h>
#include <sys/stat.h>

#include "common/timeutil.h"
#include "tests/archive/archive-test.h"

#define T1 INT64_C(1765000000000000000)
#define T2 (T1 + INT64_C(86400000000000))
#define HOUR (INT64_C(3600) * 1000000000)
#define MIN (INT64_C(60) * 1000000000)

static char *dir;
static struct archive *a;
static struct memdisk m1, m2;
/* Chunks 1, 4 and 7 of m1 differ in m2: orphans once T1 is forgotten. */
static const int changed[3] = { 1, 4, 7 };

static void
setup (void)
{
  struct archive_push_stats st;
  struct archive_point pt;

  dir = tmp_dir ();
  a = open_dir (dir, true);
  mem_init (&m1, 8 * (uint64_t) CS, 5);
  mem_init (&m2, 8 * (uint64_t) CS, 5);
  for (int i = 0; i < 3; i++)
    mem_touch_chunk (&m2, changed[i], 100 + i);
  cr_assert_eq (push_one (a, "vm1", T1, &m1, &st), 0, "%s", cdp_get_error ());
  cr_assert_eq (push_one (a, "vm1", T2, &m2, &st), 0, "%s", cdp_get_error ());
  cr_assert_eq (st.new_chunks, 3);
  cr_assert_eq (archive_point_load (a, "vm1", T1, &pt), 0);
  cr_assert_eq (archive_point_forget (a, &pt), 0);
  archive_point_free (&pt);
}

static void
teardown (void)
{
  archive_close (a);
  mem_free (&m1);
  mem_free (&m2);
  rm_tree (dir);
}

TestSuite (archive_gc, .init = setup, .fini = teardown);

static void
orphan_path (int i, char *path, size_t len)
{
  uint8_t sum[32];
  char key[ARCHIVE_CHUNK_KEY_MAX];

  archive_sha256 (m1.data + changed[i] * (uint64_t) CS, CS, sum);
  archive_chunk_key (sum, key);
  snprintf (path, len, "%s/%s", dir, key);
}

/* Set the time of the file at path to the store's now + delta. */
static void
age (const char *path, int64_t delta)
{
  int64_t now;
  struct timespec ts[2];

  cr_assert_eq (a->s->ops->now (a->s, &now), 0);
  now += delta;
  ts[0].tv_sec = ts[1].tv_sec = now / 1000000000;
  ts[0].tv_nsec = ts[1].tv_nsec = now % 1000000000;
  cr_assert_eq (utimensat (AT_FDCWD, path, ts, 0), 0, "%s", path);
}

static bool
exists (const char *path)
{
  return access (path, F_OK) == 0;
}

Test (archive_gc, exactly_the_unreferenced_old)
{
  struct archive_gc_stats st;
  char path[512];

  cr_assert_eq (count_objects (a, "chunks/"), 11);
  /* Young for a grace of an hour: nothing goes. */
  cr_assert_eq (archive_gc (a, HOUR, NULL, &st), 0, "%s", cdp_get_error ());
  cr_assert_eq (st.points, 1);
  cr_assert_eq (st.chunks, 11);
  cr_assert_eq (st.removed, 0);
  cr_assert_eq (st.kept_young, 3);
  /* No grace: the three orphans, and only they, go. */
  cr_assert_eq (archive_gc (a, 0, NULL, &st), 0, "%s", cdp_get_error ());
  cr_assert_eq (st.removed, 3);
  cr_assert_gt (st.removed_bytes, 0);
  for (int i = 0; i < 3; i++) {
    orphan_path (i, path, sizeof path);
    cr_assert (!exists (path), "%s is still there", path);
  }
  cr_assert_eq (count_objects (a, "chunks/"), 8);
  assert_reads_as (a, "vm1", T2, 0, &m2);
  cr_assert_eq (archive_gc (a, 0, NULL, &st), 0);
  cr_assert_eq (st.removed, 0);
  cr_assert_eq (count_objects (a, "gc/"), 1, "the record of the last");
}

Test (archive_gc, live_lease_protects)
{
  struct archive_gc_stats st;
  char path[3][512], lease[512], body[128];
  int64_t now;
  int n;

  for (int i = 0; i < 3; i++)
    orphan_path (i, path[i], sizeof path[i]);
  age (path[0], -2 * HOUR);
  age (path[1], -30 * MIN);
  age (path[2], -30 * MIN);
  /* A push of another host that started an hour ago, alive now. */
  cr_assert_eq (a->s->ops->now (a->s, &now), 0);
  n = snprintf (body, sizeof body, "{\"start\": %lld, \"pid\": 1}",
                (long long) (now - HOUR));
  cr_assert_eq (a->s->ops->put (a->s, "writers/0123456789ab-vm9-1", body,
                                (size_t) n), 0);
  cr_assert_eq (archive_gc (a, 0, NULL, &st), 0, "%s", cdp_get_error ());
  cr_assert_eq (st.removed, 1);
  cr_assert (!exists (path[0]));
  cr_assert (exists (path[1]) && exists (path[2]), "a leased chunk went");
  /* The lease is dead (11 minutes without renewal): they go. */
  snprintf (lease, sizeof lease, "%s/writers/0123456789ab-vm9-1", dir);
  age (lease, -11 * MIN);
  cr_assert_eq (archive_gc (a, 0, NULL, &st), 0, "%s", cdp_get_error ());
  cr_assert_eq (st.removed, 2);
  cr_assert (!exists (path[1]) && !exists (path[2]));
  cr_assert (exists (lease), "a lease dead for 11 minutes was removed");
  age (lease, -25 * HOUR);
  cr_assert_eq (archive_gc (a, 0, NULL, &st), 0);
  cr_assert (!exists (lease), "a lease dead for a day was kept");
  assert_reads_as (a, "vm1", T2, 0, &m2);
}

Test (archive_gc, unreadable_index_aborts)
{
  archive_point_vector pts = empty_vector;
  struct archive_gc_stats st;
  char path[512], idx[512];
  int fd;

  cr_assert_eq (archive_points (a, "vm1", &pts), 0);
  snprintf (idx, sizeof idx, "%s/%s", dir, pts.ptr[0].key);
  archive_points_reset (&pts);
  fd = open (idx, O_RDWR);
  cr_assert_geq (fd, 0);
  cr_assert_eq (pwrite (fd, "\xff", 1, 300), 1);        /* in its sums */
  close (fd);
  cr_assert_eq (archive_gc (a, 0, NULL, &st), -EUCLEAN);
  cr_assert (strstr (cdp_get_error (), "not collecting"), "%s",
             cdp_get_error ());
  cr_assert_eq (st.removed, 0);
  cr_assert_eq (count_objects (a, "chunks/"), 11);
  orphan_path (0, path, sizeof path);
  cr_assert (exists (path));
}

Test (archive_gc, leftovers_a_day_old)
{
  struct archive_gc_stats st;
  char old[512], young[512];
  int fd;

  snprintf (old, sizeof old, "%s/tmp/123-456-7", dir);
  snprintf (young, sizeof young, "%s/tmp/123-456-8", dir);
  fd = open (old, O_CREAT | O_WRONLY, 0644);
  cr_assert_geq (fd, 0);
  close (fd);
  fd = open (young, O_CREAT | O_WRONLY, 0644);
  cr_assert_geq (fd, 0);
  close (fd);
  age (old, -25 * HOUR);
  cr_assert_eq (archive_gc (a, HOUR, NULL, &st), 0, "%s", cdp_get_error ());
  cr_assert (!exists (old), "a temporary file a day old was kept");
  cr_assert (exists (young), "a young temporary file was removed");
}

Test (archive_gc, cancelled_removes_nothing)
{
  struct archive_gc_stats st;
  volatile int cancel = 1;

  cr_assert_eq (archive_gc (a, 0, &cancel, &st), -ECANCELED);
  cr_assert_eq (st.removed, 0);
  cr_assert_eq (count_objects (a, "chunks/"), 11, "a cancelled gc removed");
  cancel = 0;
  cr_assert_eq (archive_gc (a, 0, &cancel, &st), 0, "%s", cdp_get_error ());
  cr_assert_eq (st.removed, 3);
  assert_reads_as (a, "vm1", T2, 0, &m2);
}
