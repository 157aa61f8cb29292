/* Read throughput of the qcow2 chain reader: THREADS threads read the
 * whole image in BLOCK-sized preads (thread i takes blocks i, i+THREADS,
 * ...), PASSES times; prints MiB/s.  Not a test: qcow2-bench.sh runs it
 * next to qemu-nbd + nbdcopy on the same chain.
 *
 *   qcow2-bench IMAGE [THREADS [BLOCK [PASSES]]]
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "recovery/history/qcow2.h"

static struct qcow2_chain *chain;
static unsigned threads = 4, passes = 3;
static uint64_t block = 1 << 20;

static void *
reader (void *arg)
{
  unsigned me = (unsigned) (uintptr_t) arg;
  uint64_t size = qcow2_size (chain);
  uint8_t *buf = malloc (block);

  for (uint64_t off = me * block; buf && off < size; off += threads * block) {
    uint64_t len = size - off < block ? size - off : block;
    int r = qcow2_pread (chain, buf, off, len);

    if (r < 0) {
      fprintf (stderr, "qcow2_pread: %s\n", cdp_get_error ());
      exit (1);
    }
  }
  free (buf);
  return NULL;
}

static double
now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main (int argc, char **argv)
{
  pthread_t th[256];
  int r;

  if (argc < 2) {
    fprintf (stderr, "usage: qcow2-bench IMAGE [THREADS [BLOCK [PASSES]]]\n");
    return 2;
  }
  if (argc > 2)
    threads = atoi (argv[2]);
  if (argc > 3)
    block = strtoull (argv[3], NULL, 0);
  if (argc > 4)
    passes = atoi (argv[4]);
  if (threads < 1 || threads > 256 || block < 1 || passes < 1)
    return 2;
  r = qcow2_open (argv[1], &chain);
  if (r < 0) {
    fprintf (stderr, "qcow2_open: %s\n", cdp_get_error ());
    return 1;
  }
  for (unsigned p = 0; p < passes; p++) {
    double t0 = now (), dt;

    for (unsigned i = 0; i < threads; i++)
      pthread_create (&th[i], NULL, reader, (void *) (uintptr_t) i);
    for (unsigned i = 0; i < threads; i++)
      pthread_join (th[i], NULL);
    dt = now () - t0;
    printf ("pass %u: %" PRIu64 " MiB in %.3f s: %.0f MiB/s (chain of %u, "
            "%u threads, %" PRIu64 "-byte reads)\n", p + 1,
            qcow2_size (chain) >> 20, dt, (qcow2_size (chain) >> 20) / dt,
            qcow2_depth (chain), threads, block);
  }
  qcow2_close (chain);
  return 0;
}
