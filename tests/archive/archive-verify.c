/* archive_verify reads every distinct chunk of a point, of a task's
 * points or of all once and reports each missing or damaged one by its
 * key, as it does a damaged index: -EUCLEAN then, 0 when all are
 * good. */
#include <fcntl.h>
#include <sys/stat.h>

#include "tests/archive/archive-test.h"

#define T1 INT64_C(1765000000000000000)

struct seen {
  int n;
  char key[ARCHIVE_CHUNK_KEY_MAX];
  char why[256];
};

static void
bad (void *opaque, const char *key, const char *why)
{
  struct seen *s = opaque;

  s->n++;
  snprintf (s->key, sizeof s->key, "%s", key);
  snprintf (s->why, sizeof s->why, "%s", why);
}

Test (archive_verify, finds_each_bad_chunk)
{
  char *dir = tmp_dir ();
  struct archive *a = open_dir (dir, true);
  struct memdisk m;
  struct archive_push_stats st;
  struct archive_verify_stats vs;
  struct archive_point pt;
  struct seen s = { 0 };
  char key[ARCHIVE_CHUNK_KEY_MAX], path[512];
  uint8_t sum[32];
  int fd;

  mem_init (&m, 6 * (uint64_t) CS, 9);
  memcpy (m.data + 4 * (uint64_t) CS, m.data, CS);    /* chunk 4 = 0 */
  mem_hole (&m, 5);
  cr_assert_eq (push_one (a, "vm1", T1, &m, &st), 0, "%s", cdp_get_error ());
  cr_assert_eq (push_one (a, "vm2", T1, &m, &st), 0, "%s", cdp_get_error ());
  cr_assert_eq (archive_point_load (a, "vm1", T1, &pt), 0);
  cr_assert_eq (archive_verify (a, &pt, NULL, 2, bad, &s, &vs), 0);
  cr_assert_eq (vs.chunks, 4);
  cr_assert_eq (vs.bytes, 4 * (uint64_t) CS);
  cr_assert_eq (s.n, 0);

  archive_sha256 (m.data + 2 * (uint64_t) CS, CS, sum);
  archive_chunk_key (sum, key);
  snprintf (path, sizeof path, "%s/%s", dir, key);
  fd = open (path, O_RDWR);
  cr_assert_geq (fd, 0);
  cr_assert_eq (pwrite (fd, "\x01\x02", 2, 2000), 2);
  close (fd);
  cr_assert_eq (archive_verify (a, &pt, NULL, 2, bad, &s, &vs), -EUCLEAN);
  cr_assert_eq (s.n, 1);
  cr_assert_eq (vs.bad, 1);
  cr_assert_str_eq (s.key, key);

  archive_sha256 (m.data + 3 * (uint64_t) CS, CS, sum);
  archive_chunk_key (sum, key);
  snprintf (path, sizeof path, "%s/%s", dir, key);
  cr_assert_eq (unlink (path), 0);
  s.n = 0;
  /* Every point of every task: each chunk once, two bad. */
  cr_assert_eq (archive_verify (a, NULL, NULL, 3, bad, &s, &vs), -EUCLEAN);
  cr_assert_eq (vs.chunks, 4);
  cr_assert_eq (s.n, 2);
  cr_assert_eq (vs.bad, 2);
  s.n = 0;
  cr_assert_eq (archive_verify (a, NULL, "vm2", 1, bad, &s, &vs), -EUCLEAN);
  cr_assert_eq (s.n, 2);

  /* A damaged index is reported too, and the other points checked. */
  {
    archive_point_vector pts = empty_vector;
    struct stat sb;
    cr_assert_eq (archive_points (a, "vm2", &pts), 0);
    snprintf (path, sizeof path, "%s/%s", dir, pts.ptr[0].key);
    cr_assert_eq (stat (path, &sb), 0);
    fd = open (path, O_RDWR);
    cr_assert_geq (fd, 0);
    cr_assert_eq (pwrite (fd, "\x55", 1, sb.st_size - 40), 1);
    close (fd);
    s.n = 0;
    cr_assert_eq (archive_verify (a, NULL, NULL, 2, bad, &s, &vs), -EUCLEAN);
    cr_assert_eq (s.n, 3, "%d reported", s.n);
    cr_assert_eq (vs.chunks, 4);
    s.n = 0;
    cr_assert_eq (archive_verify (a, NULL, "vm2", 2, bad, &s, &vs), -EUCLEAN);
    cr_assert_eq (s.n, 1);
    cr_assert_str_eq (s.key, pts.ptr[0].key);
    archive_points_reset (&pts);
  }
  archive_point_free (&pt);
  archive_close (a);
  mem_free (&m);
  rm_tree (dir);
}

/* A chunk that fails its name is moved to bad/; the next push of that
 * data puts a good copy, and the point that named the bad one reads
 * right again. */
Test (archive_verify, damaged_chunk_healed_by_next_push)
{
  char *dir = tmp_dir ();
  struct archive *a = open_dir (dir, true);
  struct memdisk m;
  struct archive_push_stats st;
  struct archive_verify_stats vs;
  struct seen s = { 0 };
  char key[ARCHIVE_CHUNK_KEY_MAX], path[512], badpath[600];
  uint8_t sum[32];
  int fd;

  mem_init (&m, 3 * (uint64_t) CS, 5);
  cr_assert_eq (push_one (a, "vm1", T1, &m, &st), 0, "%s", cdp_get_error ());
  archive_sha256 (m.data + (uint64_t) CS, CS, sum);
  archive_chunk_key (sum, key);
  snprintf (path, sizeof path, "%s/%s", dir, key);
  snprintf (badpath, sizeof badpath, "%s/bad/%s", dir, key + 7);
  fd = open (path, O_RDWR);
  cr_assert_geq (fd, 0);
  cr_assert_eq (pwrite (fd, "\x01\x02", 2, 3000), 2);
  close (fd);

  cr_assert_eq (archive_verify (a, NULL, "vm1", 2, bad, &s, &vs), -EUCLEAN);
  cr_assert_eq (s.n, 1);
  cr_assert (strstr (s.why, "moved to bad/"), "%s", s.why);
  cr_assert (access (path, F_OK) < 0, "the damaged chunk stayed");
  cr_assert (access (badpath, F_OK) == 0, "nothing under bad/");

  /* The same data pushed again (a later point): the one chunk put anew. */
  cr_assert_eq (push_one (a, "vm1", T1 + 1, &m, &st), 0, "%s", cdp_get_error ());
  cr_assert_eq (st.new_chunks, 1);
  s.n = 0;
  cr_assert_eq (archive_verify (a, NULL, "vm1", 2, bad, &s, &vs), 0);
  cr_assert_eq (s.n, 0);
  assert_reads_as (a, "vm1", T1, 0, &m);
  archive_close (a);
  mem_free (&m);
  rm_tree (dir);
}
