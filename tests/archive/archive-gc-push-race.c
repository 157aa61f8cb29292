/* A push that touches a chunk after a collection has judged it unused
 * and before the collection removes it (the one window a time on the
 * chunk cannot close) still ends with a complete point: it waits for
 * the collection to end, finds the chunk gone and puts it again.  The
 * interleaving is forced: the collection's removal of its first chunk
 * waits until the push has touched that chunk. */
#include <pthread.h>

#include "tests/archive/archive-test.h"

#define T1 INT64_C(1765000000000000000)
#define NCHUNKS 6

static struct archive *a;
static struct memdisk m1, m2;
static struct archive_store_ops ops;
static const struct archive_store_ops *real;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static char victim[ARCHIVE_CHUNK_KEY_MAX];
static bool touched;
static pthread_t pusher;
static int push_result = 1;

static void *
push_again (void *opaque)
{
  struct archive_push_stats st;

  push_result = push_one (a, "vm1", T1 + 2, &m1, &st);
  return NULL;
}

static int
hooked_touch (struct archive_store *s, const char *key)
{
  int r = real->touch (s, key);

  pthread_mutex_lock (&lock);
  if (strcmp (key, victim) == 0 && r == 0) {
    touched = true;
    pthread_cond_broadcast (&cond);
  }
  pthread_mutex_unlock (&lock);
  return r;
}

/* The first chunk the collection removes: start the push, let it touch
 * the chunk, then remove it. */
static int
hooked_del (struct archive_store *s, const char *key)
{
  bool first;

  pthread_mutex_lock (&lock);
  first = victim[0] == '\0' && strncmp (key, "chunks/", 7) == 0;
  if (first) {
    snprintf (victim, sizeof victim, "%s", key);
    cr_assert_eq (pthread_create (&pusher, NULL, push_again, NULL), 0);
    while (!touched)
      pthread_cond_wait (&cond, &lock);
  }
  pthread_mutex_unlock (&lock);
  return real->del (s, key);
}

Test (archive_gc_push_race, chunk_touched_then_removed)
{
  char *dir = tmp_dir ();
  struct archive_push_stats st;
  struct archive_gc_stats gs;
  struct archive_verify_stats vs;
  struct archive_point pt;

  a = open_dir (dir, true);
  mem_init (&m1, NCHUNKS * (uint64_t) CS, 61);
  mem_init (&m2, NCHUNKS * (uint64_t) CS, 62);
  cr_assert_eq (push_one (a, "vm1", T1, &m1, &st), 0);
  cr_assert_eq (push_one (a, "vm1", T1 + 1, &m2, &st), 0);
  cr_assert_eq (archive_point_load (a, "vm1", T1, &pt), 0);
  cr_assert_eq (archive_point_forget (a, &pt), 0);
  archive_point_free (&pt);

  real = a->s->ops;
  ops = *real;
  ops.touch = hooked_touch;
  ops.del = hooked_del;
  a->s->ops = &ops;
  cr_assert_eq (archive_gc (a, 0, NULL, &gs), 0, "%s", cdp_get_error ());
  cr_assert_geq (gs.removed, 1);
  cr_assert_eq (pthread_join (pusher, NULL), 0);
  cr_assert_eq (push_result, 0, "%s", cdp_get_error ());
  a->s->ops = real;

  cr_assert_eq (archive_point_load (a, "vm1", T1 + 2, &pt), 0);
  cr_assert_eq (archive_verify (a, &pt, NULL, 2, NULL, NULL, &vs), 0,
                "the point names a chunk the collection removed: %s",
                cdp_get_error ());
  archive_point_free (&pt);
  assert_reads_as (a, "vm1", T1 + 2, 0, &m1);
  archive_close (a);
  mem_free (&m1);
  mem_free (&m2);
  rm_tree (dir);
}
