/* nbd-bench: load and latency through NBD, for any server.
 *
 * The benchmarks that put cdp's receiver and exports next to qemu-nbd
 * and nbdkit need a client that does the same thing to each of them.
 * It speaks to the server through libnbd only, so it knows nothing of
 * cdp.
 *
 *   nbd-bench write [OPTIONS] URI
 *       Writes (or write-zeroes) of one size at random aligned offsets,
 *       keeping QD requests in flight on each of CONNS connections, for
 *       SECONDS or COUNT requests.  A request's latency runs from just
 *       before nbd_aio_pwrite to its completion callback
 *       (CLOCK_MONOTONIC); with --fua the server acknowledges a write only
 *       once it is durable.  Prints ops, seconds, iops, mib_s and the
 *       p50/p99/p99.9/max latency in microseconds, as key=value.
 *
 *   nbd-bench rewrite [OPTIONS] URI
 *       Random writes of MIN..MAX bytes (multiples of 4 KiB, at 4 KiB
 *       aligned offsets) with pseudo-random data, until PERCENT of the
 *       disk's 4 KiB blocks were written.  Everything follows from SEED,
 *       and no two overlapping writes are ever in flight together, so
 *       two runs with the same seed leave two disks of the same size
 *       with the same contents.
 *
 *   nbd-bench first-byte [OPTIONS] URI [-- CMD ARG...]
 *       Starts CMD (stdout to /dev/null), connects to URI as soon as it
 *       can (retrying every 200 µs while the socket is missing or
 *       refuses), reads LEN bytes at OFFSET, and prints the time from
 *       just before starting CMD to the end of that read: ms, and the
 *       part until the connection was made: connect_ms.  Then stops CMD
 *       with SIGTERM and waits for it.  Without CMD it connects once
 *       (retrying the same way) and reads: a client's first byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#include "common/timeutil.h"
#include "common/vector.h"

#define BLK 4096u
#define MAX_QD 1024u
#define RETRY_NS 200000

DEFINE_VECTOR_TYPE (lat_vector, int64_t)

static const char *progname = "nbd-bench";

static void __attribute__ ((noreturn, format (printf, 1, 2)))
die (const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "%s: ", progname);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  exit (1);
}

static uint64_t
size_arg (const char *s)
{
  char *end;
  uint64_t v = strtoull (s, &end, 10);

  switch (*end) {
  case 'k': case 'K': v <<= 10; end++; break;
  case 'm': case 'M': v <<= 20; end++; break;
  case 'g': case 'G': v <<= 30; end++; break;
  }
  if (*end || end == s)
    die ("bad size '%s'", s);
  return v;
}

/* xorshift64*: fast, and the same sequence from the same seed. */
static uint64_t
rnd (uint64_t *s)
{
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 2685821657736338717ull;
}

static void
fill (uint8_t *buf, size_t len, uint64_t *s)
{
  for (size_t i = 0; i + 8 <= len; i += 8) {
    uint64_t v = rnd (s);
    memcpy (buf + i, &v, 8);
  }
}

static struct nbd_handle *
connect_uri (const char *uri)
{
  struct nbd_handle *h = nbd_create ();

  if (h == NULL)
    die ("%s", nbd_get_error ());
  /* nbds:// URIs name their certificates or keys (tls-certificates=,
   * tls-psk-file=): files the user chose. */
  nbd_set_uri_allow_local_file (h, true);
  if (nbd_connect_uri (h, uri) == -1)
    die ("cannot connect to %s: %s", uri, nbd_get_error ());
  return h;
}

static int
cmp_i64 (const void *a, const void *b)
{
  int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

  return x < y ? -1 : x > y;
}

static double
pct_us (const lat_vector *v, double p)
{
  size_t i;

  if (v->len == 0)
    return 0;
  i = (size_t) (p / 100.0 * (double) (v->len - 1) + 0.5);
  return (double) v->ptr[i] / 1000.0;
}

/* ---- write ------------------------------------------------------------- */

struct wopts {
  const char *uri;
  uint64_t bs, count;
  unsigned qd, conns;
  double seconds;
  bool fua, zero;
  uint64_t seed;
};

struct conn;

struct slot {
  struct conn *c;
  int64_t t0;
  uint64_t off, len;
  bool busy;
  uint8_t *buf;
};

struct conn {
  const struct wopts *o;
  struct nbd_handle *h;
  uint64_t size, rng;
  struct slot slots[MAX_QD];
  unsigned inflight;
  uint64_t issued, done;
  int64_t deadline;
  lat_vector lat;
  int err;
  pthread_t thread;
};

static int
write_done (void *opaque, int *error)
{
  struct slot *s = opaque;
  struct conn *c = s->c;

  if (*error && c->err == 0)
    c->err = *error;
  lat_vector_append (&c->lat, time_mono_ns () - s->t0);
  s->busy = false;
  c->inflight--;
  c->done++;
  return 1;
}

static void
issue (struct conn *c, struct slot *s, uint64_t off, uint64_t len)
{
  nbd_completion_callback cb = { .callback = write_done, .user_data = s };
  uint32_t flags = c->o->fua ? LIBNBD_CMD_FLAG_FUA : 0;
  int64_t cookie;

  s->off = off;
  s->len = len;
  s->busy = true;
  c->inflight++;
  c->issued++;
  s->t0 = time_mono_ns ();
  if (c->o->zero)
    cookie = nbd_aio_zero (c->h, len, off, cb, flags);
  else
    cookie = nbd_aio_pwrite (c->h, s->buf, len, off, cb, flags);
  if (cookie == -1)
    die ("write at %" PRIu64 ": %s", off, nbd_get_error ());
}

static bool
more (struct conn *c)
{
  if (c->o->count)
    return c->issued < c->o->count;
  return time_mono_ns () < c->deadline;
}

static void *
write_loop (void *arg)
{
  struct conn *c = arg;
  uint64_t blocks = c->size / c->o->bs;

  while (c->err == 0) {
    bool go = more (c);
    for (unsigned i = 0; go && i < c->o->qd; i++)
      if (!c->slots[i].busy) {
        issue (c, &c->slots[i], rnd (&c->rng) % blocks * c->o->bs, c->o->bs);
        go = more (c);
      }
    if (!go && c->inflight == 0)
      break;
    if (nbd_poll (c->h, -1) == -1)
      die ("poll: %s", nbd_get_error ());
  }
  return NULL;
}

static void
conn_open (struct conn *c, const struct wopts *o, unsigned n)
{
  memset (c, 0, sizeof *c);
  c->o = o;
  c->h = connect_uri (o->uri);
  c->size = (uint64_t) nbd_get_size (c->h);
  c->rng = o->seed + n * 0x9e3779b97f4a7c15ull;
  if (c->size < o->bs)
    die ("the disk (%" PRIu64 " bytes) is smaller than one write", c->size);
  if (o->fua && nbd_can_fua (c->h) != 1)
    die ("%s does not support FUA", o->uri);
  if (o->zero && nbd_can_zero (c->h) != 1)
    die ("%s does not support write-zeroes", o->uri);
  for (unsigned i = 0; i < o->qd; i++) {
    c->slots[i].c = c;
    if (!o->zero) {
      c->slots[i].buf = aligned_alloc (BLK, (o->bs + BLK - 1) / BLK * BLK);
      if (c->slots[i].buf == NULL)
        die ("out of memory");
      fill (c->slots[i].buf, o->bs, &c->rng);
    }
  }
}

static int
cmd_write (int argc, char **argv)
{
  static const struct option opts[] = {
    { "bs", required_argument, 0, 'b' }, { "qd", required_argument, 0, 'q' },
    { "seconds", required_argument, 0, 't' },
    { "count", required_argument, 0, 'n' },
    { "conns", required_argument, 0, 'c' }, { "fua", no_argument, 0, 'f' },
    { "zero", no_argument, 0, 'z' }, { "seed", required_argument, 0, 's' },
    { 0 } };
  struct wopts o = { .bs = BLK, .qd = 1, .conns = 1, .seed = 1 };
  struct conn *c;
  lat_vector all = empty_vector;
  uint64_t ops = 0;
  int64_t t0, t1;
  int ch;

  while ((ch = getopt_long (argc, argv, "b:q:t:n:c:fzs:", opts, NULL)) != -1)
    switch (ch) {
    case 'b': o.bs = size_arg (optarg); break;
    case 'q': o.qd = atoi (optarg); break;
    case 't': o.seconds = atof (optarg); break;
    case 'n': o.count = size_arg (optarg); break;
    case 'c': o.conns = atoi (optarg); break;
    case 'f': o.fua = true; break;
    case 'z': o.zero = true; break;
    case 's': o.seed = strtoull (optarg, NULL, 0); break;
    default: return 2;
    }
  if (optind + 1 != argc || o.qd < 1 || o.qd > MAX_QD || o.conns < 1 ||
      o.bs == 0 || (o.seconds <= 0) == (o.count == 0))
    die ("usage: write [--bs SIZE] [--qd N] [--conns N] [--fua] [--zero] "
         "(--seconds S | --count N) URI");
  o.uri = argv[optind];
  if (o.count)                      /* each connection does its share */
    o.count = (o.count + o.conns - 1) / o.conns;
  c = calloc (o.conns, sizeof *c);
  if (c == NULL)
    die ("out of memory");
  for (unsigned i = 0; i < o.conns; i++)
    conn_open (&c[i], &o, i);
  t0 = time_mono_ns ();
  for (unsigned i = 0; i < o.conns; i++) {
    c[i].deadline = t0 + (int64_t) (o.seconds * 1e9);
    if (pthread_create (&c[i].thread, NULL, write_loop, &c[i]) != 0)
      die ("cannot start a thread");
  }
  for (unsigned i = 0; i < o.conns; i++)
    pthread_join (c[i].thread, NULL);
  t1 = time_mono_ns ();
  for (unsigned i = 0; i < o.conns; i++) {
    if (c[i].err)
      die ("a write failed: %s", strerror (c[i].err));
    for (size_t k = 0; k < c[i].lat.len; k++)
      lat_vector_append (&all, c[i].lat.ptr[k]);
    ops += c[i].done;
    nbd_shutdown (c[i].h, 0);
    nbd_close (c[i].h);
  }
  qsort (all.ptr, all.len, sizeof all.ptr[0], cmp_i64);
  double secs = (double) (t1 - t0) / 1e9;
  printf ("ops=%" PRIu64 " seconds=%.3f iops=%.0f mib_s=%.1f p50_us=%.1f "
          "p99_us=%.1f p999_us=%.1f max_us=%.1f\n", ops, secs, ops / secs,
          (double) (ops * o.bs) / secs / 1048576.0, pct_us (&all, 50),
          pct_us (&all, 99), pct_us (&all, 99.9),
          all.len ? (double) all.ptr[all.len - 1] / 1000.0 : 0.0);
  return 0;
}

/* ---- rewrite ----------------------------------------------------------- */

static bool
overlaps (const struct slot *s, uint64_t off, uint64_t len)
{
  return s->busy && off < s->off + s->len && s->off < off + len;
}

/* Wait until no write in flight overlaps [off, off+len) and a slot is
 * free; return that slot. */
static struct slot *
free_slot (struct conn *c, uint64_t off, uint64_t len)
{
  for (;;) {
    struct slot *f = NULL;
    bool clash = false;
    for (unsigned i = 0; i < c->o->qd; i++) {
      clash |= overlaps (&c->slots[i], off, len);
      if (!c->slots[i].busy)
        f = &c->slots[i];
    }
    if (c->err)
      die ("a write failed: %s", strerror (c->err));
    if (f && !clash)
      return f;
    if (nbd_poll (c->h, -1) == -1)
      die ("poll: %s", nbd_get_error ());
  }
}

static int
cmd_rewrite (int argc, char **argv)
{
  static const struct option opts[] = {
    { "percent", required_argument, 0, 'p' },
    { "min", required_argument, 0, 'm' }, { "max", required_argument, 0, 'M' },
    { "seed", required_argument, 0, 's' }, { "qd", required_argument, 0, 'q' },
    { 0 } };
  struct wopts o = { .bs = 256 << 10, .qd = 8, .conns = 1, .seed = 1 };
  uint64_t minb = BLK, maxb = 256 << 10, bytes = 0, writes = 0;
  uint64_t nblk, goal, covered = 0, data_rng;
  double pct = 30;
  uint8_t *map;
  struct conn c;
  int64_t t0;
  int ch;

  while ((ch = getopt_long (argc, argv, "p:m:M:s:q:", opts, NULL)) != -1)
    switch (ch) {
    case 'p': pct = atof (optarg); break;
    case 'm': minb = size_arg (optarg); break;
    case 'M': maxb = size_arg (optarg); break;
    case 's': o.seed = strtoull (optarg, NULL, 0); break;
    case 'q': o.qd = atoi (optarg); break;
    default: return 2;
    }
  if (optind + 1 != argc || minb < BLK || minb % BLK || maxb % BLK ||
      maxb < minb || pct <= 0 || pct > 100 || o.qd < 1 || o.qd > MAX_QD)
    die ("usage: rewrite [--percent P] [--min SIZE] [--max SIZE] [--seed S] "
         "[--qd N] URI (sizes: multiples of 4 KiB)");
  o.uri = argv[optind];
  o.bs = maxb;
  conn_open (&c, &o, 0);
  nblk = c.size / BLK;
  if (nblk < maxb / BLK)
    die ("the disk is smaller than the largest write");
  goal = (uint64_t) ((double) nblk * pct / 100.0);
  map = calloc (nblk, 1);
  if (map == NULL)
    die ("out of memory");
  c.rng = o.seed;
  data_rng = o.seed ^ 0x5bd1e995ull;
  t0 = time_mono_ns ();
  while (covered < goal) {
    uint64_t n = minb / BLK + rnd (&c.rng) % (maxb / BLK - minb / BLK + 1);
    uint64_t b = rnd (&c.rng) % (nblk - n + 1);
    struct slot *s = free_slot (&c, b * BLK, n * BLK);
    fill (s->buf, n * BLK, &data_rng);
    issue (&c, s, b * BLK, n * BLK);
    for (uint64_t i = b; i < b + n; i++) {
      covered += map[i] == 0;
      map[i] = 1;
    }
    bytes += n * BLK;
    writes++;
  }
  while (c.inflight > 0)
    if (nbd_poll (c.h, -1) == -1)
      die ("poll: %s", nbd_get_error ());
  if (c.err)
    die ("a write failed: %s", strerror (c.err));
  nbd_shutdown (c.h, 0);
  nbd_close (c.h);
  printf ("writes=%" PRIu64 " bytes=%" PRIu64 " covered_pct=%.2f seconds=%.3f\n",
          writes, bytes, 100.0 * (double) covered / (double) nblk,
          (double) (time_mono_ns () - t0) / 1e9);
  free (map);
  return 0;
}

/* ---- first-byte -------------------------------------------------------- */

static pid_t
start (char **argv)
{
  pid_t pid = fork ();

  if (pid == 0) {
    int fd = open ("/dev/null", O_WRONLY);
    if (fd >= 0)
      dup2 (fd, 1);
    execvp (argv[0], argv);
    fprintf (stderr, "%s: cannot run %s: %s\n", progname, argv[0],
             strerror (errno));
    _exit (127);
  }
  if (pid < 0)
    die ("fork: %s", strerror (errno));
  return pid;
}

/* Connect to uri as soon as the server listens; NULL after timeout_ns or
 * once the child has exited. */
static struct nbd_handle *
connect_soon (const char *uri, pid_t child, int64_t timeout_ns)
{
  int64_t until = time_mono_ns () + timeout_ns;
  struct timespec pause = { 0, RETRY_NS };

  for (;;) {
    struct nbd_handle *h = nbd_create ();
    int status;
    if (h == NULL)
      die ("%s", nbd_get_error ());
    nbd_set_uri_allow_local_file (h, true);
    if (nbd_connect_uri (h, uri) == 0)
      return h;
    nbd_close (h);
    if (time_mono_ns () > until ||
        (child > 0 && waitpid (child, &status, WNOHANG) == child))
      return NULL;
    nanosleep (&pause, NULL);
  }
}

static int
cmd_first_byte (int argc, char **argv)
{
  static const struct option opts[] = {
    { "len", required_argument, 0, 'l' },
    { "offset", required_argument, 0, 'o' },
    { "timeout", required_argument, 0, 'T' }, { 0 } };
  uint64_t len = 512, off = 0;
  double timeout = 600;
  struct nbd_handle *h;
  const char *uri;
  pid_t child = 0;
  int64_t t0, tc, t1;
  uint8_t *buf;
  int ch, status, r = 0;

  while ((ch = getopt_long (argc, argv, "+l:o:T:", opts, NULL)) != -1)
    switch (ch) {
    case 'l': len = size_arg (optarg); break;
    case 'o': off = size_arg (optarg); break;
    case 'T': timeout = atof (optarg); break;
    default: return 2;
    }
  if (optind >= argc)
    die ("usage: first-byte [--len SIZE] [--offset OFF] [--timeout S] URI "
         "[-- CMD ARG...]");
  uri = argv[optind++];
  if (optind < argc && strcmp (argv[optind], "--") == 0)
    optind++;
  buf = malloc (len);
  if (buf == NULL)
    die ("out of memory");
  t0 = time_mono_ns ();
  if (optind < argc)
    child = start (argv + optind);
  h = connect_soon (uri, child, (int64_t) (timeout * 1e9));
  tc = time_mono_ns ();
  if (h == NULL) {
    fprintf (stderr, "%s: could not connect to %s\n", progname, uri);
    r = 1;
  }
  else if (nbd_pread (h, buf, len, off, 0) == -1) {
    fprintf (stderr, "%s: read: %s\n", progname, nbd_get_error ());
    r = 1;
  }
  t1 = time_mono_ns ();
  if (h) {
    nbd_shutdown (h, 0);
    nbd_close (h);
  }
  if (child > 0) {
    kill (child, SIGTERM);
    waitpid (child, &status, 0);
  }
  if (r == 0)
    printf ("ms=%.3f connect_ms=%.3f\n", (double) (t1 - t0) / 1e6,
            (double) (tc - t0) / 1e6);
  free (buf);
  return r;
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    die ("usage: nbd-bench write|rewrite|first-byte [OPTIONS] URI ...");
  signal (SIGPIPE, SIG_IGN);
  if (strcmp (argv[1], "write") == 0)
    return cmd_write (argc - 1, argv + 1);
  if (strcmp (argv[1], "rewrite") == 0)
    return cmd_rewrite (argc - 1, argv + 1);
  if (strcmp (argv[1], "first-byte") == 0)
    return cmd_first_byte (argc - 1, argv + 1);
  die ("unknown mode '%s'", argv[1]);
}
