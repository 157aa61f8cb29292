/* archive_verify of every point holds each distinct chunk sum once, not
 * one entry per chunk of every point: many points of a large disk that
 * share their chunks (the daily points of a task) cost the check the
 * memory of their distinct chunks.  64 points of a disk of 32768
 * chunks, of 1024 distinct chunks, would be 64 MiB of sums; the check
 * stays under 16 MiB.  (Measured with mallinfo2 when the first chunk
 * is read, the list of sums then complete.)  The chunks are not there:
 * each is reported missing. */
#include <pthread.h>

#include "tests/archive/archive-test.h"

#define T1 INT64_C(1765000000000000000)
#define NPOINTS 64
#define NCHUNKS 32768
#define DISTINCT 1024

static struct archive_store_ops ops;
static const struct archive_store_ops *real;
static size_t before, at_check;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int
measuring_get (struct archive_store *s, const char *key, void **buf,
               size_t *len)
{
  pthread_mutex_lock (&lock);
  if (at_check == 0 && strncmp (key, "chunks/", 7) == 0)
    at_check = held ();
  pthread_mutex_unlock (&lock);
  return real->get (s, key, buf, len);
}

Test (archive_verify_memory, distinct_sums_once)
{
  char *dir = tmp_dir ();
  struct archive_verify_stats vs;
  struct archive *a = open_dir (dir, true);

  for (int i = 0; i < NPOINTS; i++)
    put_synthetic_index (a, T1 + i, NCHUNKS, DISTINCT);
  real = a->s->ops;
  ops = *real;
  ops.get = measuring_get;
  a->s->ops = &ops;
  before = held ();
  cr_assert_eq (archive_verify (a, NULL, NULL, 1, NULL, NULL, &vs), -EUCLEAN,
                "%s", cdp_get_error ());
  cr_assert_eq (vs.points, NPOINTS);
  cr_assert_eq (vs.bad, DISTINCT);
  cr_assert_lt (at_check > before ? at_check - before : 0,
                (size_t) 16 << 20, "the check holds %zu bytes",
                at_check - before);
  a->s->ops = real;
  archive_close (a);
  rm_tree (dir);
}
