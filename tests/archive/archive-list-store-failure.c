/* A store that fails while a listing reads the indexes' metadata (an
 * I/O error, an S3 answer that never came whole) is reported as the
 * store's failure, not as a damaged index: archive_points returns the
 * store's -EIO and its message.  An index that really is shorter than
 * its header says is still -EUCLEAN, "truncated". */
#include "tests/archive/archive-test.h"

#define T1 INT64_C(1765000000000000000)

static struct archive_store_ops ops;
static const struct archive_store_ops *real;
static bool failing;

static int
failing_get_range (struct archive_store *s, const char *key, void *buf,
                   uint64_t off, size_t len)
{
  if (failing)
    return cdp_set_error (-EIO, "archive %s: cannot read %s: the disk "
                          "failed", s->location, key);
  return real->get_range (s, key, buf, off, len);
}

Test (archive_list_store_failure, io_error_is_not_damage)
{
  char *dir = tmp_dir (), path[512];
  struct archive_push_stats st;
  archive_point_vector pts = empty_vector;
  struct archive *a;
  struct memdisk m;

  a = open_dir (dir, true);
  mem_init (&m, 2 * (uint64_t) CS, 3);
  cr_assert_eq (push_one (a, "vm1", T1, &m, &st), 0, "%s", cdp_get_error ());
  real = a->s->ops;
  ops = *real;
  ops.get_range = failing_get_range;
  a->s->ops = &ops;

  failing = true;
  cr_assert_eq (archive_points (a, "vm1", &pts), -EIO, "%s",
                cdp_get_error ());
  cr_assert (strstr (cdp_get_error (), "the disk failed"), "%s",
             cdp_get_error ());
  cr_assert_null (strstr (cdp_get_error (), "damaged"), "%s",
                  cdp_get_error ());

  failing = false;
  cr_assert_eq (archive_points (a, "vm1", &pts), 0, "%s", cdp_get_error ());
  cr_assert_eq (pts.len, 1);
  archive_points_reset (&pts);

  /* Truly truncated: inside its metadata. */
  snprintf (path, sizeof path, "%s/%s", dir, st.key);
  cr_assert_eq (truncate (path, 30), 0);
  cr_assert_eq (archive_points (a, "vm1", &pts), -EUCLEAN);
  cr_assert (strstr (cdp_get_error (), "truncated"), "%s", cdp_get_error ());

  a->s->ops = real;
  archive_close (a);
  mem_free (&m);
  rm_tree (dir);
}
