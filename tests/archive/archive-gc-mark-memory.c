/* archive_gc's mark holds each distinct chunk sum once, not one entry
 * per chunk of every point: many points of a large disk that share
 * their chunks (the daily points of a task) cost the collection the
 * memory of their distinct chunks.  64 points of a disk of 32768
 * chunks, of 1024 distinct chunks, would be 64 MiB of sums; the mark
 * stays under 16 MiB.  (Measured with mallinfo2 when the sweep starts,
 * the mark then complete.) */

#include "tests/archive/archive-test.h"

#define T1 INT64_C(1765000000000000000)
#define NPOINTS 64
#define NCHUNKS 32768
#define DISTINCT 1024

static struct archive_store_ops ops;
static const struct archive_store_ops *real;
static size_t before, at_sweep;

static int
measuring_list (struct archive_store *s, const char *prefix,
                archive_list_fn fn, void *opaque)
{
  if (strcmp (prefix, "chunks/") == 0)
    at_sweep = held ();
  return real->list (s, prefix, fn, opaque);
}

Test (archive_gc_mark_memory, distinct_sums_once)
{
  char *dir = tmp_dir ();
  struct archive_gc_stats gs;
  struct archive *a = open_dir (dir, true);

  for (int i = 0; i < NPOINTS; i++)
    put_synthetic_index (a, T1 + i, NCHUNKS, DISTINCT);
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
