/* A second point of a disk with a few chunks changed uploads only those
 * chunks, and both points read back as they were. */
#include "tests/archive/archive-test.h"

#define T1 INT64_C(1765000000000000000)
#define T2 (T1 + INT64_C(86400000000000))

Test (archive_push_incremental, only_changed_chunks)
{
  char *dir = tmp_dir ();
  struct archive *a = open_dir (dir, true);
  struct memdisk m1, m2;
  struct archive_push_stats st;
  uint64_t before;

  mem_init (&m1, 12 * (uint64_t) CS, 3);
  mem_init (&m2, 12 * (uint64_t) CS, 3);
  cr_assert_eq (push_one (a, "vm1", T1, &m1, &st), 0, "%s", cdp_get_error ());
  cr_assert_eq (st.new_chunks, 12);
  before = count_objects (a, "chunks/");
  mem_touch_chunk (&m2, 1, 11);
  mem_touch_chunk (&m2, 6, 12);
  mem_touch_chunk (&m2, 11, 13);
  cr_assert_eq (push_one (a, "vm1", T2, &m2, &st), 0, "%s", cdp_get_error ());
  cr_assert_eq (st.chunks, 12);
  cr_assert_eq (st.new_chunks, 3);
  cr_assert_lt (st.new_bytes, 3 * (uint64_t) CS);
  cr_assert_eq (count_objects (a, "chunks/"), before + 3);
  assert_reads_as (a, "vm1", T1, 0, &m1);
  assert_reads_as (a, "vm1", T2, 0, &m2);
  archive_close (a);
  mem_free (&m1);
  mem_free (&m2);
  rm_tree (dir);
}
