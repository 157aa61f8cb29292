/* The error is per thread: two threads that fail at the same time each
 * read their own message and errno back, never the other's, and a
 * thread that set nothing reads "" and 0. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"

#define ROUNDS 20000

static pthread_barrier_t start;

struct worker {
  int id, err;
  int mixed;                        /* rounds that read another's error */
};

static void *
run (void *arg)
{
  struct worker *w = arg;
  char want[64];

  pthread_barrier_wait (&start);
  for (int i = 0; i < ROUNDS; i++) {
    snprintf (want, sizeof want, "thread %d round %d", w->id, i);
    if (cdp_set_error (-w->err, "thread %d round %d", w->id, i) != -w->err ||
        strcmp (cdp_get_error (), want) != 0 || cdp_get_errno () != w->err)
      w->mixed++;
  }
  return NULL;
}

static void *
untouched (void *arg)
{
  *(int *) arg = cdp_get_errno () == 0 && strcmp (cdp_get_error (), "") == 0;
  return NULL;
}

Test (error_threads, two_threads_keep_their_own)
{
  struct worker a = { 1, EIO, 0 }, b = { 2, ENOSPC, 0 };
  pthread_t ta, tb;

  cr_assert_eq (pthread_barrier_init (&start, NULL, 2), 0);
  cr_assert_eq (pthread_create (&ta, NULL, run, &a), 0);
  cr_assert_eq (pthread_create (&tb, NULL, run, &b), 0);
  pthread_join (ta, NULL);
  pthread_join (tb, NULL);
  pthread_barrier_destroy (&start);
  cr_assert_eq (a.mixed, 0, "thread 1 read another's error %d times", a.mixed);
  cr_assert_eq (b.mixed, 0, "thread 2 read another's error %d times", b.mixed);
}

Test (error_threads, a_new_thread_starts_clean)
{
  pthread_t t;
  int clean = 0;

  cdp_set_error (-EIO, "the main thread failed");
  cr_assert_eq (pthread_create (&t, NULL, untouched, &clean), 0);
  pthread_join (t, NULL);
  cr_assert (clean, "a new thread saw the main thread's error");
  cr_assert_str_eq (cdp_get_error (), "the main thread failed");
}
