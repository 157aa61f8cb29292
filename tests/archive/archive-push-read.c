/* A point pushed to a directory reads back byte for byte through
 * point_pread (a chunk that is a hole of the base, one read as zero
 * bytes, a short last chunk, a chunk that repeats, two disks); zero
 * chunks are not stored and repeated ones once; point_block_status
 * reports the zero chunks as holes; a second push of the same point
 * does nothing; the archive lists the point with its sizes. */
#include "tests/archive/archive-test.h"

#define T1 INT64_C(1765000000000000000)

Test (archive_push_read, byte_identical)
{
  char *dir = tmp_dir ();
  struct archive *a = open_dir (dir, true);
  struct memdisk m, m2, *ms[2] = { &m, &m2 };
  struct archive_push_stats st;
  archive_point_vector pts = empty_vector;
  point_extent_vector holes = empty_vector;
  struct archive_point pt;
  struct archive_reader *r;
  struct point p;

  mem_init (&m, 9 * (uint64_t) CS + 12345, 1);
  mem_hole (&m, 2);                           /* a hole: not even read */
  memset (m.data + 5 * (uint64_t) CS, 0, CS); /* read, all zero bytes */
  memcpy (m.data + 7 * (uint64_t) CS, m.data + 3 * (uint64_t) CS, CS);
  mem_init (&m2, 3 * (uint64_t) CS, 2);
  cr_assert_eq (push_disks (a, "vm1", T1, ms, 2, &st), 0, "%s",
                cdp_get_error ());
  cr_assert_eq (st.chunks, 10 + 3);
  cr_assert_eq (st.zero_chunks, 2);
  cr_assert_eq (st.new_chunks, 10 + 3 - 2 - 1);
  cr_assert_eq (count_objects (a, "chunks/"), st.new_chunks);
  cr_assert_eq (count_objects (a, "points/"), 1);
  cr_assert_eq (count_objects (a, "writers/"), 0, "the lease was left");
  cr_assert_eq (count_objects (a, "cdp-archive.json"), 1);
  cr_assert_eq (count_objects (a, "tmp/"), 0);
  assert_reads_as (a, "vm1", T1, 0, &m);
  assert_reads_as (a, "vm1", T1, 1, &m2);

  /* Holes: the two zero chunks, as a base with no journal reports them. */
  cr_assert_eq (archive_point_load (a, "vm1", T1, &pt), 0);
  cr_assert_eq (archive_reader_open (a, &pt, 0, &r), 0);
  archive_reader_point (r, &p);
  cr_assert_eq (point_block_status (&p, 0, p.size, &holes), 0);
  cr_assert_eq (holes.len, 2);
  cr_assert_eq (holes.ptr[0].off, 2 * (uint64_t) CS);
  cr_assert_eq (holes.ptr[0].len, CS);
  cr_assert_eq (holes.ptr[1].off, 5 * (uint64_t) CS);
  point_extent_vector_reset (&holes);
  archive_reader_close (r);
  archive_point_free (&pt);

  /* Again: nothing to do. */
  cr_assert_eq (push_disks (a, "vm1", T1, ms, 2, &st), 0);
  cr_assert_eq (st.new_chunks, 0);
  cr_assert_eq (count_objects (a, "points/"), 1);

  cr_assert_eq (archive_points (a, NULL, &pts), 0);
  cr_assert_eq (pts.len, 1);
  cr_assert_str_eq (pts.ptr[0].task, "vm1");
  cr_assert_eq (pts.ptr[0].time_ns, T1);
  cr_assert_str_eq (pts.ptr[0].kind, "push");
  cr_assert_eq (pts.ptr[0].ndisks, 2);
  cr_assert_eq (pts.ptr[0].disks[0].size, m.size);
  cr_assert_null (pts.ptr[0].disks[0].sums);
  cr_assert_gt (pts.ptr[0].stored_bytes, 0);
  archive_points_reset (&pts);
  cr_assert_eq (archive_point_load (a, "vm1", T1 + 1, &pt), -ENOENT);

  archive_close (a);
  mem_free (&m);
  mem_free (&m2);
  rm_tree (dir);
}

Test (archive_push_read, open_without_manifest)
{
  char *dir = tmp_dir ();
  struct archive_store *s;
  struct archive *a;

  cr_assert_eq (store_dir_open (dir, &s), 0);
  cr_assert_eq (archive_open_store (s, false, &a), -ENOENT);
  cr_assert (strstr (cdp_get_error (), "no archive at"), "%s",
             cdp_get_error ());
  cr_assert_eq (store_dir_open (dir, &s), 0);
  cr_assert_eq (s->ops->put (s, "cdp-archive.json",
                             "{\"format\": 2, \"chunk_size\": 4194304}", 36),
                0);
  cr_assert_eq (archive_open_store (s, false, &a), -EPROTO);
  rm_tree (dir);
}
