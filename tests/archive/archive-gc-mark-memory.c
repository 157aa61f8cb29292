/* archive_gc's mark holds each distinct chunk sum once, not one entry
 * per chunk of every point: many points of a large disk that share
 * their chunks (the daily points of a task) cost the collection the
 * memory of their distinct chunks.  64 points of a disk of 32768
 * chunks, of 1024 distinct chunks, would be 64 MiB of sums; the mark
 * stays under 16 MiB.  (Measured with mallinfo2 when the sweep starts,
 * the mark then complete.) */
#include <malloc.h>

#include "tests/archive/archive-test.h"

#define T1 INT64_C(1765000000000000000)
#define NPOINTS 64
#define NCHUNKS 32768
#define DISTINCT 1024

static struct archive_store_ops ops;
static const struct archive_store_ops *real;
static size_t before, at_sweep;

/* Bytes the program holds: in the heap and in mapped blocks. */
static size_t
held (void)
{
  struct mallinfo2 mi = mallinfo2 ();

  return mi.uordblks + mi.hblkhd;
}

static int
measuring_list (struct archive_store *s, const char *prefix,
                archive_list_fn fn, void *opaque)
{
  if (strcmp (prefix, "chunks/") == 0)
    at_sweep = held ();
  return real->list (s, prefix, fn, opaque);
}

/* An index of a point at t whose chunk c is sum c % DISTINCT. */
static void
put_point (struct archive *a, int64_t t)
{
  struct archive_disk d = { .name = (char *) "vda",
                            .size = (uint64_t) NCHUNKS * CS,
                            .nchunks = NCHUNKS };
  struct archive_point p = {
    .task = (char *) "vm1", .time_ns = t, .kind = (char *) "push",
    .host = (char *) "h", .store = (char *) "/store",
    .store_id = (char *) "0123456789ab", .chunk_size = CS,
    .ndisks = 1, .disks = &d,
  };
  char key[256];
  void *buf;
  size_t len;

  d.sums = calloc (NCHUNKS, 32);
  cr_assert_not_null (d.sums);
  for (uint32_t c = 0; c < NCHUNKS; c++) {
    uint32_t v = c % DISTINCT + 1;
    memcpy (d.sums[c], &v, sizeof v);
  }
  cr_assert_eq (archive_index_key ("vm1", t, "0123456789ab", key, sizeof key),
                0);
  cr_assert_eq (archive_index_encode (&p, &buf, &len), 0);
  cr_assert_eq (a->s->ops->put (a->s, key, buf, len), 0, "%s",
                cdp_get_error ());
  free (buf);
  free (d.sums);
}

Test (archive_gc_mark_memory, distinct_sums_once)
{
  char *dir = tmp_dir ();
  struct archive_gc_stats gs;
  struct archive *a = open_dir (dir, true);

  for (int i = 0; i < NPOINTS; i++)
    put_point (a, T1 + i);
  real = a->s->ops;
  ops = *real;
  ops.list = measuring_list;
  a->s->ops = &ops;
  before = held ();
  cr_assert_eq (archive_gc (a, 0, NULL, &gs), 0, "%s", cdp_get_error ());
  cr_assert_eq (gs.points, NPOINTS);
  cr_assert_lt (at_sweep > before ? at_sweep - before : 0,
                (size_t) 16 << 20, "the mark holds %zu bytes",
                at_sweep - before);
  a->s->ops = real;
  archive_close (a);
  rm_tree (dir);
}
