/* PUT and GET throughput of 4 MiB objects to an archive store
 * (store.h) from THREADS threads at once:
 *
 *   store-throughput LOCATION THREADS [OBJECTS]
 *
 * puts OBJECTS (default 64) objects of 4 MiB of random bytes under
 * "throughput/", spread over the threads, then gets each of them back
 * (checking their bytes), then removes them.  Prints one line:
 *   threads N: put X MiB/s, get Y MiB/s (OBJECTS x 4 MiB) */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "recovery/archive/store.h"

#define OBJ (4u << 20)

static struct archive_store *st;
static unsigned char *data;
static int objects, threads;
static int phase;                   /* 0 put, 1 get, 2 del */

static void
die (const char *what, int r)
{
  fprintf (stderr, "store-throughput: %s: %s\n", what,
           *cdp_get_error () ? cdp_get_error () : strerror (-r));
  exit (1);
}

static void *
run (void *arg)
{
  int id = (int) (long) arg, i, r;
  char key[64];
  void *buf;
  size_t len;

  for (i = id; i < objects; i += threads) {
    snprintf (key, sizeof key, "throughput/%04d", i);
    /* Each object differs in its first bytes. */
    switch (phase) {
    case 0:
      if ((r = st->ops->put (st, key, data + i, OBJ)) < 0)
        die ("put", r);
      break;
    case 1:
      if ((r = st->ops->get (st, key, &buf, &len)) < 0)
        die ("get", r);
      if (len != OBJ || memcmp (buf, data + i, OBJ) != 0)
        die ("get: not the bytes put", -EIO);
      free (buf);
      break;
    default:
      if ((r = st->ops->del (st, key)) < 0)
        die ("del", r);
    }
  }
  return NULL;
}

static double
timed (int p)
{
  pthread_t t[256];
  struct timespec a, b;
  int i;

  phase = p;
  clock_gettime (CLOCK_MONOTONIC, &a);
  for (i = 0; i < threads; i++)
    pthread_create (&t[i], NULL, run, (void *) (long) i);
  for (i = 0; i < threads; i++)
    pthread_join (t[i], NULL);
  clock_gettime (CLOCK_MONOTONIC, &b);
  return (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
}

int
main (int argc, char **argv)
{
  double put, get, mib;
  int r;
  size_t i;

  if (argc < 3 || argc > 4 || (threads = atoi (argv[2])) < 1 ||
      threads > 256 || (objects = argc == 4 ? atoi (argv[3]) : 64) < 1) {
    fprintf (stderr, "usage: store-throughput LOCATION THREADS [OBJECTS]\n");
    return 2;
  }
  if ((r = archive_store_open (argv[1], &st)) < 0)
    die (argv[1], r);
  if ((data = malloc (OBJ + objects)) == NULL)
    die ("malloc", -ENOMEM);
  srand (1);
  for (i = 0; i < OBJ + (size_t) objects; i++)
    data[i] = rand ();
  put = timed (0);
  get = timed (1);
  timed (2);
  mib = objects * 4.0;
  printf ("threads %d: put %.0f MiB/s, get %.0f MiB/s (%d x 4 MiB)\n",
          threads, mib / put, mib / get, objects);
  archive_store_close (st);
  free (data);
  return 0;
}
