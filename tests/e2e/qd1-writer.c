/* qd1-writer URI SECONDS BLOCK: write to an NBD export one request at a
 * time (queue depth 1) for SECONDS, each write a BLOCK-byte block of its
 * own number i at block i modulo the blocks of the disk, filled with
 * i's pattern (qd1_pattern).  Prints one line per acknowledged write:
 *   i offset sent_ns acked_ns
 * (CLOCK_REALTIME), so that a test knows, for any time T, which writes
 * a point at T must hold (acked by T), may hold (sent by T) and must
 * not (sent after T). */
#include <inttypes.h>
#include <libnbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Block i: its number in the first 8 bytes, then bytes of i's own. */
static void
qd1_pattern (uint8_t *buf, size_t len, uint64_t i)
{
  memset (buf, (int) (i % 251) + 1, len);
  memcpy (buf, &i, sizeof i < len ? sizeof i : len);
}

int
main (int argc, char **argv)
{
  struct nbd_handle *nbd;
  int64_t size, end, sent;
  uint64_t blocks, block;
  uint8_t *buf;

  if (argc != 4) {
    fprintf (stderr, "usage: qd1-writer URI SECONDS BLOCK\n");
    return 2;
  }
  block = strtoull (argv[3], NULL, 0);
  nbd = nbd_create ();
  buf = malloc (block);
  if (nbd == NULL || buf == NULL || block < 8) {
    fprintf (stderr, "qd1-writer: out of memory or bad BLOCK\n");
    return 1;
  }
  if (nbd_connect_uri (nbd, argv[1]) == -1 || (size = nbd_get_size (nbd)) < 0) {
    fprintf (stderr, "qd1-writer: %s\n", nbd_get_error ());
    return 1;
  }
  blocks = (uint64_t) size / block;
  end = now_ns () + (int64_t) (strtod (argv[2], NULL) * 1e9);
  for (uint64_t i = 0; now_ns () < end; i++) {
    uint64_t off = (i % blocks) * block;
    qd1_pattern (buf, block, i);
    sent = now_ns ();
    if (nbd_pwrite (nbd, buf, block, off, 0) == -1) {
      fprintf (stderr, "qd1-writer: write %" PRIu64 ": %s\n", i,
               nbd_get_error ());
      return 1;
    }
    printf ("%" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 "\n", i, off,
            sent, now_ns ());
  }
  if (fflush (stdout) != 0 || nbd_shutdown (nbd, 0) == -1) {
    fprintf (stderr, "qd1-writer: %s\n", nbd_get_error ());
    return 1;
  }
  nbd_close (nbd);
  free (buf);
  return 0;
}
