/* The bandwidth bound paces the bytes put, and only those: a push of
 * new chunks takes at least their stored size over the bound; a push
 * of a point whose chunks are all there puts none and is not held back
 * even by a bound of one byte a second. */
#include "common/timeutil.h"
#include "tests/archive/archive-test.h"

#define T1 INT64_C(1765000000000000000)

static int
push_bounded (struct archive *a, int64_t t, struct memdisk *m, uint64_t bw,
              struct archive_push_stats *st)
{
  struct point p;
  struct archive_push_disk d = { "vda", &p };
  struct archive_push o = {
    .task = "vm1", .time_ns = t, .kind = "push", .store = "/store",
    .ndisks = 1, .disks = &d, .threads = 3, .bandwidth = bw,
  };

  mem_point (m, &p);
  return archive_push (a, &o, st);
}

Test (archive_push_bandwidth, put_bytes_only)
{
  char *dir = tmp_dir ();
  struct archive *a = open_dir (dir, true);
  struct memdisk m;
  struct archive_push_stats st;
  uint64_t bw = 4u << 20;
  int64_t start;
  double took;

  mem_init (&m, 4 * (uint64_t) CS, 17);
  start = time_mono_ns ();
  cr_assert_eq (push_bounded (a, T1, &m, bw, &st), 0, "%s", cdp_get_error ());
  took = (double) (time_mono_ns () - start) / 1e9;
  cr_assert_eq (st.new_chunks, 4);
  cr_assert_geq (took, (double) st.new_bytes / (double) bw * 0.95,
                 "%llu bytes at %llu B/s in %.2f s",
                 (unsigned long long) st.new_bytes, (unsigned long long) bw,
                 took);
  /* Nothing to put: one byte a second does not hold it back. */
  cr_assert_eq (push_bounded (a, T1 + 1, &m, 1, &st), 0, "%s",
                cdp_get_error ());
  cr_assert_eq (st.new_chunks, 0);
  assert_reads_as (a, "vm1", T1 + 1, 0, &m);
  archive_close (a);
  mem_free (&m);
  rm_tree (dir);
}
