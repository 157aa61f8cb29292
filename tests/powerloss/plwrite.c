/* plwrite: write a known pattern into an NBD export, several requests in
 * flight, and say when each was submitted and acknowledged.
 *
 *   plwrite URI SEED QD BLOCKS FIRST_ID COUNT [BURSTS]
 *
 * Each request writes (or, one in eight, writes zeroes over) 1 to 8
 * blocks of 4 KiB at a place a PRNG seeded with SEED picks among BLOCKS;
 * a request never overlaps one still in flight, so the writes to each
 * block are ordered the way a guest's are.  Request ids count from
 * FIRST_ID; a written block holds pl_block (id, block) (plpattern.h).
 * COUNT requests are made (0: until the server goes away), in bursts of
 * up to QD, at most BURSTS bursts a second (default: no pause).  On stdout,
 * one line per event, times in ns of CLOCK_REALTIME:
 *
 *   S ID FIRST NBLOCKS ZERO TIME   submitted
 *   A ID TIME                      acknowledged
 *   E ID TIME                      failed
 *
 * Exits 0 after COUNT requests, 1 when the connection failed (the
 * server was killed: what happens in a power-loss test). */
#include <inttypes.h>
#include <libnbd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plpattern.h"

#define MAX_BLOCKS 8

struct req {
  uint64_t id;
  uint64_t first, n;
  bool zero;
  char buf[MAX_BLOCKS * PL_BLOCK];
};

static uint8_t *busy;                  /* block in flight */
static uint64_t rng;
static unsigned inflight;
static bool failed;

static uint64_t
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static uint64_t
next (void)
{
  uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static int
done (void *opaque, int *error)
{
  struct req *r = opaque;

  printf ("%c %" PRIu64 " %" PRIu64 "\n", *error ? 'E' : 'A', r->id, now_ns ());
  fflush (stdout);
  if (*error)
    failed = true;
  for (uint64_t b = 0; b < r->n; b++)
    busy[r->first + b] = 0;
  inflight--;
  free (r);
  return 1;
}

/* A request at a place where nothing is in flight; NULL when the PRNG
 * picked a busy place (the caller waits for a completion). */
static struct req *
pick (uint64_t id, uint64_t blocks)
{
  uint64_t n = 1 + next () % MAX_BLOCKS, first;
  bool zero = next () % 8 == 0;
  struct req *r;

  if (n > blocks)
    n = blocks;
  first = next () % (blocks - n + 1);
  for (uint64_t b = 0; b < n; b++)
    if (busy[first + b])
      return NULL;
  r = calloc (1, sizeof *r);
  if (r == NULL)
    abort ();
  *r = (struct req) { .id = id, .first = first, .n = n, .zero = zero };
  for (uint64_t b = 0; !zero && b < n; b++)
    pl_block (r->buf + b * PL_BLOCK, id, first + b);
  for (uint64_t b = 0; b < n; b++)
    busy[first + b] = 1;
  return r;
}

static int
submit (struct nbd_handle *h, struct req *r)
{
  nbd_completion_callback cb = { .callback = done, .user_data = r };
  int64_t c;

  printf ("S %" PRIu64 " %" PRIu64 " %" PRIu64 " %d %" PRIu64 "\n",
          r->id, r->first, r->n, r->zero, now_ns ());
  fflush (stdout);
  inflight++;
  if (r->zero)
    c = nbd_aio_zero (h, r->n * PL_BLOCK, r->first * PL_BLOCK, cb, 0);
  else
    c = nbd_aio_pwrite (h, r->buf, r->n * PL_BLOCK, r->first * PL_BLOCK, cb, 0);
  return c < 0 ? -1 : 0;
}

/* Milliseconds until the next burst may start; 0: now. */
static int
pace (uint64_t *next_burst, uint64_t period)
{
  uint64_t t = now_ns ();

  if (period == 0 || t >= *next_burst)
    return 0;
  return (int) ((*next_burst - t) / 1000000 + 1);
}

int
main (int argc, char **argv)
{
  struct nbd_handle *h;
  uint64_t qd, blocks, id, count, made = 0, period = 0, next_burst = 0;

  if (argc != 7 && argc != 8) {
    fprintf (stderr, "usage: plwrite URI SEED QD BLOCKS FIRST_ID COUNT [BURSTS]\n");
    return 2;
  }
  if (argc == 8 && strtoull (argv[7], NULL, 10) > 0)
    period = 1000000000u / strtoull (argv[7], NULL, 10);
  rng = strtoull (argv[2], NULL, 10);
  qd = strtoull (argv[3], NULL, 10);
  blocks = strtoull (argv[4], NULL, 10);
  id = strtoull (argv[5], NULL, 10);
  count = strtoull (argv[6], NULL, 10);
  busy = calloc (blocks, 1);
  h = nbd_create ();
  if (busy == NULL || h == NULL || nbd_connect_uri (h, argv[1]) < 0) {
    fprintf (stderr, "plwrite: %s\n", nbd_get_error ());
    return 1;
  }
  while (!failed && (count == 0 || made < count || inflight > 0)) {
    struct req *r = NULL;
    int wait = pace (&next_burst, period);
    if (wait == 0 && inflight == 0) {
      next_burst = now_ns () + period;
      while (!failed && inflight < qd && (count == 0 || made < count) &&
             (r = pick (id, blocks)) != NULL) {
        if (submit (h, r) < 0) {
          failed = true;
          break;
        }
        id++;
        made++;
      }
    }
    if (!failed && nbd_poll (h, inflight > 0 ? -1 : (wait ? wait : 1)) < 0)
      failed = true;
  }
  if (failed) {
    fprintf (stderr, "plwrite: stopped: %s\n", nbd_get_error () ? nbd_get_error () : "a write failed");
    return 1;
  }
  nbd_shutdown (h, 0);
  nbd_close (h);
  return 0;
}
