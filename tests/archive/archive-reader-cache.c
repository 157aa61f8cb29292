/* The reader fetches ahead of sequential reads (the next chunks are
 * fetched before they are read), fetches each chunk once while it is in
 * its cache (re-reads cost no fetch), and keeps its cache bounded (a
 * chunk read 24 chunks ago was dropped and is fetched again). */
#include <pthread.h>

#include "common/timeutil.h"
#include "tests/archive/archive-test.h"

#define T1 INT64_C(1765000000000000000)
#define NCHUNKS 24

static struct memdisk m;
static char keys[NCHUNKS][ARCHIVE_CHUNK_KEY_MAX];
static int gets[NCHUNKS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static const struct archive_store_ops *real;

static int
counted_get (struct archive_store *s, const char *key, void **buf,
             size_t *len)
{
  pthread_mutex_lock (&lock);
  for (int i = 0; i < NCHUNKS; i++)
    if (strcmp (key, keys[i]) == 0)
      gets[i]++;
  pthread_cond_broadcast (&cond);
  pthread_mutex_unlock (&lock);
  return real->get (s, key, buf, len);
}

static int
fetched (int c)
{
  int n;

  pthread_mutex_lock (&lock);
  n = gets[c];
  pthread_mutex_unlock (&lock);
  return n;
}

/* Wait (a minute at most) until chunk c was fetched. */
static void
wait_fetched (int c)
{
  int64_t end = time_mono_ns () + INT64_C(60000000000);

  pthread_mutex_lock (&lock);
  while (gets[c] == 0 && time_mono_ns () < end) {
    struct timespec t = time_deadline (CLOCK_REALTIME, 100000000);
    pthread_cond_timedwait (&cond, &lock, &t);
  }
  pthread_mutex_unlock (&lock);
  cr_assert_gt (fetched (c), 0, "chunk %d was not fetched ahead", c);
}

static void
read_chunk (struct point *p, int c, uint8_t *buf)
{
  cr_assert_eq (point_pread (p, buf, (uint64_t) c * CS, CS, NULL), 0, "%s",
                cdp_get_error ());
  cr_assert_eq (memcmp (buf, m.data + (uint64_t) c * CS, CS), 0);
}

Test (archive_reader_cache, ahead_once_bounded)
{
  char *dir = tmp_dir ();
  struct archive *a = open_dir (dir, true);
  struct archive_store_ops ops;
  struct archive_push_stats st;
  struct archive_point pt;
  struct archive_reader *r;
  struct point p;
  uint8_t *buf = malloc (CS);

  mem_init (&m, NCHUNKS * (uint64_t) CS, 71);
  for (int i = 0; i < NCHUNKS; i++) {
    uint8_t sum[32];
    archive_sha256 (m.data + (uint64_t) i * CS, CS, sum);
    archive_chunk_key (sum, keys[i]);
  }
  cr_assert_eq (push_one (a, "vm1", T1, &m, &st), 0, "%s", cdp_get_error ());
  real = a->s->ops;
  ops = *real;
  ops.get = counted_get;
  a->s->ops = &ops;
  cr_assert_eq (archive_point_load (a, "vm1", T1, &pt), 0);
  cr_assert_eq (archive_reader_open (a, &pt, 0, &r), 0);
  archive_reader_point (r, &p);

  read_chunk (&p, 0, buf);
  for (int c = 1; c <= 4; c++)      /* 4 fetch threads for a directory */
    wait_fetched (c);
  for (int c = 1; c <= 4; c++)
    read_chunk (&p, c, buf);
  for (int c = 0; c <= 4; c++)
    cr_assert_eq (fetched (c), 1, "chunk %d fetched %d times", c, fetched (c));
  read_chunk (&p, 0, buf);
  cr_assert_eq (fetched (0), 1, "a cached chunk was fetched again");

  for (int c = 0; c < NCHUNKS; c++)
    read_chunk (&p, c, buf);
  read_chunk (&p, 0, buf);
  cr_assert_eq (fetched (0), 2, "the cache holds more than 64 MiB");

  archive_reader_close (r);
  archive_point_free (&pt);
  a->s->ops = real;
  archive_close (a);
  mem_free (&m);
  free (buf);
  rm_tree (dir);
}
