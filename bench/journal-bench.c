/* journal-bench: durable append throughput and latency of the journal.
 *
 * Opens a fresh journal in an empty directory and appends JOURNAL_WRITE
 * records of one size, keeping exactly QD of them in flight: a counting
 * semaphore holds the free slots, the appender takes one per record and
 * the completion callback gives it back.  A record's latency runs from
 * just before journal_append to its durable callback (CLOCK_MONOTONIC).
 *
 * --warmup N first fills N segments with 1 MiB records at QD 32 while
 * reclaiming behind, so that the measured records go into recycled
 * segments (already allocated and written, like a file fio has laid
 * out) instead of freshly fallocated ones.  With the default free pool
 * the 4th segment is the first recycled one: use N >= 3.  --reclaim keeps reclaiming
 * behind the writer during the measurement, as a retention policy
 * would; without it every segment the measurement starts is new.
 *
 * Prints one key=value line, or a JSON object with --json.  Space
 * overhead is journal_stats' written_bytes over payload_bytes (record
 * headers, alignment, padding records; not the 4 KiB segment headers).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/timeutil.h"
#include "common/vector.h"
#include "journal/journal.h"

#define DEFAULT_SEGMENT (256u << 20)    /* journal.h's default */
#define WARMUP_SIZE (1u << 20)
#define WARMUP_QD 32u

DEFINE_VECTOR_TYPE (lat_vector, int64_t)

struct run;

struct slot {
  struct run *run;
  int64_t t0;
  struct slot *next;
};

struct run {
  struct journal *j;
  sem_t free_slots;                 /* counts free_list */
  pthread_mutex_t lock;             /* protects free_list */
  struct slot *slots, *free_list;
  uint32_t segment_size;

  /* Written by the callback on the journal thread; read after
   * journal_wait, whose lock orders them. */
  lat_vector lat;                   /* ns */
  int64_t last_done;
  int err;
};

/* One phase: records of `size` at `qd` until `bytes` are appended,
 * `seconds` have passed or the journal has started `segments` more
 * segments, whichever limit is set. */
struct phase {
  uint32_t size;
  unsigned qd;
  uint64_t bytes;
  double seconds;
  uint64_t segments;
  bool reclaim;
};

struct result {
  struct journal_stats st;
  double seconds;
  int64_t p50, p99, max;
  double mean;
};

struct options {
  const char *dir;
  struct phase measure;
  unsigned warmup;
  bool json;
  struct journal_options jopts;
};

/* ---- keeping QD records in flight ------------------------------------- */

static void
slot_put (struct run *r, struct slot *s)
{
  pthread_mutex_lock (&r->lock);
  s->next = r->free_list;
  r->free_list = s;
  pthread_mutex_unlock (&r->lock);
  sem_post (&r->free_slots);
}

static struct slot *
slot_get (struct run *r)
{
  struct slot *s;

  while (sem_wait (&r->free_slots) < 0)
    ;                               /* EINTR */
  pthread_mutex_lock (&r->lock);
  s = r->free_list;
  r->free_list = s->next;
  pthread_mutex_unlock (&r->lock);
  return s;
}

/* Between phases, with nothing in flight: make qd slots free. */
static void
slots_reset (struct run *r, unsigned qd)
{
  sem_destroy (&r->free_slots);
  sem_init (&r->free_slots, 0, 0);
  r->free_list = NULL;
  for (unsigned i = 0; i < qd; i++)
    slot_put (r, &r->slots[i]);
}

/* On the journal thread: must not block for long. */
static void
record_done (void *opaque, const struct journal_record *rec, int err)
{
  struct slot *s = opaque;
  struct run *r = s->run;
  int64_t now = time_mono_ns ();

  if (err && r->err == 0)
    r->err = err;
  if (lat_vector_append (&r->lat, now - s->t0) < 0 && r->err == 0)
    r->err = -ENOMEM;
  r->last_done = now;
  slot_put (r, s);
}

/* ---- phases ------------------------------------------------------------ */

static bool
phase_over (struct run *r, const struct phase *p, uint64_t appended,
            int64_t t0, uint64_t seg0)
{
  struct journal_stats st;

  if (p->bytes)
    return appended >= p->bytes;
  if (p->segments) {
    journal_stats (r->j, &st);
    return st.segments - seg0 >= p->segments;
  }
  return time_mono_ns () - t0 >= (int64_t) (p->seconds * 1e9);
}

static int
append_one (struct run *r, const struct phase *p, uint64_t n,
            const void *payload)
{
  struct journal_record e = {
    .type = JOURNAL_WRITE, .disk = 1, .offset = n * p->size,
    .length = p->size, .payload_len = p->size,
  };
  struct slot *s = slot_get (r);
  int err;

  s->t0 = time_mono_ns ();
  err = journal_append (r->j, &e, payload, record_done, s);
  if (err < 0)
    slot_put (r, s);
  return err;
}

/* Drop every segment but the newest, like retention would. */
static void
reclaim_behind (struct run *r)
{
  journal_reclaim (r->j, journal_last_seq (r->j) + 1);
}

static int
run_phase (struct run *r, const struct phase *p, const void *payload,
           int64_t *t0)
{
  uint64_t n = 0, every = r->segment_size / p->size / 8 + 1;
  struct journal_stats st;
  int err = 0;

  slots_reset (r, p->qd);
  r->lat.len = 0;
  journal_stats (r->j, &st);
  *t0 = time_mono_ns ();
  while (err == 0 && !phase_over (r, p, n * p->size, *t0, st.segments)) {
    err = append_one (r, p, n++, payload);
    if (p->reclaim && n % every == 0)
      reclaim_behind (r);
  }
  journal_wait (r->j);
  if (p->reclaim)
    reclaim_behind (r);
  return err ? err : r->err;
}

/* ---- results ------------------------------------------------------------ */

static int
cmp_i64 (const void *a, const void *b)
{
  int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

  return (x > y) - (x < y);
}

/* Nearest-rank percentile of the sorted v. */
static int64_t
percentile (const lat_vector *v, double pct)
{
  size_t k = (size_t) (pct / 100 * v->len + 0.999999);

  return v->len ? v->ptr[k ? k - 1 : 0] : 0;
}

static void
summarize (struct run *r, const struct journal_stats *before, int64_t t0,
           struct result *res)
{
  struct journal_stats *st = &res->st;
  double sum = 0;

  journal_stats (r->j, st);
  st->records -= before->records;
  st->batches -= before->batches;
  st->payload_bytes -= before->payload_bytes;
  st->written_bytes -= before->written_bytes;
  st->failed -= before->failed;
  st->segments -= before->segments;
  res->seconds = (r->last_done - t0) / 1e9;
  qsort (r->lat.ptr, r->lat.len, sizeof *r->lat.ptr, cmp_i64);
  for (size_t i = 0; i < r->lat.len; i++)
    sum += r->lat.ptr[i];
  res->mean = r->lat.len ? sum / r->lat.len : 0;
  res->p50 = percentile (&r->lat, 50);
  res->p99 = percentile (&r->lat, 99);
  res->max = r->lat.len ? r->lat.ptr[r->lat.len - 1] : 0;
}

static void
print_result (const struct options *o, const struct result *res)
{
  const struct journal_stats *st = &res->st;
  double secs = res->seconds > 0 ? res->seconds : 1e-9;
  const struct { const char *key; double v; int prec; } f[] = {
    { "size", o->measure.size, 0 },
    { "qd", o->measure.qd, 0 },
    { "warmup_segments", o->warmup, 0 },
    { "records", st->records, 0 },
    { "seconds", secs, 3 },
    { "iops", st->records / secs, 0 },
    { "mib_s", st->payload_bytes / secs / (1 << 20), 1 },
    { "p50_us", res->p50 / 1e3, 1 },
    { "p99_us", res->p99 / 1e3, 1 },
    { "max_us", res->max / 1e3, 1 },
    { "mean_us", res->mean / 1e3, 1 },
    { "overhead_pct", st->payload_bytes ? 100.0 *
      (st->written_bytes - st->payload_bytes) / st->payload_bytes : 0, 2 },
    { "batches", st->batches, 0 },
    { "records_per_batch",
      st->batches ? (double) st->records / st->batches : 0, 1 },
    { "segments", st->segments, 0 },
  };
  size_t n = sizeof f / sizeof f[0];

  for (size_t i = 0; i < n; i++)
    printf (o->json ? "%s\"%s\": %.*f" : "%s%s=%.*f",
            i == 0 ? (o->json ? "{" : "") : (o->json ? ", " : " "),
            f[i].key, f[i].prec, f[i].v);
  printf (o->json ? "}\n" : "\n");
}

/* ---- main --------------------------------------------------------------- */

static int
bench (const struct options *o, struct result *res)
{
  struct phase warm = {
    .size = WARMUP_SIZE, .qd = WARMUP_QD, .segments = o->warmup,
    .reclaim = true,
  };
  unsigned nslots = o->measure.qd > WARMUP_QD ? o->measure.qd : WARMUP_QD;
  uint32_t psize = o->measure.size > WARMUP_SIZE ? o->measure.size : WARMUP_SIZE;
  struct run r = { .err = 0 };
  struct journal_stats before;
  void *payload = NULL;
  int64_t t0;
  int err;

  r.segment_size = o->jopts.segment_size ? o->jopts.segment_size
    : DEFAULT_SEGMENT;
  if (warm.size > r.segment_size / 4)   /* a few records per segment */
    warm.size = r.segment_size / 4;
  pthread_mutex_init (&r.lock, NULL);
  sem_init (&r.free_slots, 0, 0);
  r.slots = calloc (nslots, sizeof *r.slots);
  payload = malloc (psize);
  err = r.slots && payload ? 0 : -ENOMEM;
  for (unsigned i = 0; err == 0 && i < nslots; i++)
    r.slots[i].run = &r;
  for (uint32_t i = 0; payload && i < psize; i++)
    ((uint8_t *) payload)[i] = (uint8_t) (i * 2654435761u >> 24);
  if (err == 0)
    err = journal_open (o->dir, &o->jopts, &r.j);
  if (err == 0 && o->warmup)
    err = run_phase (&r, &warm, payload, &t0);
  if (err == 0) {
    journal_stats (r.j, &before);
    err = run_phase (&r, &o->measure, payload, &t0);
  }
  if (err == 0)
    summarize (&r, &before, t0, res);
  journal_close (r.j);
  lat_vector_reset (&r.lat);
  sem_destroy (&r.free_slots);
  free (r.slots);
  free (payload);
  return err;
}

static void
usage (FILE *f)
{
  fprintf (f,
    "usage: journal-bench -d DIR [-s SIZE] [-q QD] [-t SECONDS | -b BYTES]\n"
    "                     [--segment-size SIZE] [--batch-bytes SIZE]\n"
    "                     [--warmup SEGMENTS] [--reclaim] [--json]\n"
    "DIR must be empty or absent: the benchmark creates a fresh journal.\n"
    "SIZE takes k, m, g suffixes (powers of 1024).  Defaults: -s 4k -q 1\n"
    "-t 5.  --warmup N fills N segments first so that the measured\n"
    "records go into recycled segments; --reclaim reclaims behind the\n"
    "writer while measuring.\n");
}

/* "4k", "1M", "256m", "4096" -> bytes, at most max; -1 if invalid. */
static int64_t
size_arg (const char *s, uint64_t max)
{
  char *end;
  unsigned long long v;
  unsigned shift = 0;

  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno || end == s || *s == '-')
    return -1;
  switch (*end) {
  case 'k': case 'K': shift = 10; end++; break;
  case 'm': case 'M': shift = 20; end++; break;
  case 'g': case 'G': shift = 30; end++; break;
  }
  if (*end != '\0' || v > (max >> shift))
    return -1;
  return (int64_t) (v << shift);
}

static bool
dir_is_fresh (const char *dir)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  bool empty = true;

  if (d == NULL)
    return errno == ENOENT;
  while (empty && (e = readdir (d)) != NULL)
    empty = strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0;
  closedir (d);
  return empty;
}

enum { OPT_SEGMENT = 256, OPT_BATCH, OPT_WARMUP, OPT_RECLAIM, OPT_JSON };

static const struct option long_options[] = {
  { "dir", required_argument, NULL, 'd' },
  { "size", required_argument, NULL, 's' },
  { "qd", required_argument, NULL, 'q' },
  { "seconds", required_argument, NULL, 't' },
  { "bytes", required_argument, NULL, 'b' },
  { "segment-size", required_argument, NULL, OPT_SEGMENT },
  { "batch-bytes", required_argument, NULL, OPT_BATCH },
  { "warmup", required_argument, NULL, OPT_WARMUP },
  { "reclaim", no_argument, NULL, OPT_RECLAIM },
  { "json", no_argument, NULL, OPT_JSON },
  { "help", no_argument, NULL, 'h' },
  { NULL, 0, NULL, 0 },
};

/* A count in [min, max], or -1. */
static int64_t
parse_count (const char *s, unsigned min, unsigned max)
{
  char *end;
  unsigned long v;

  errno = 0;
  v = strtoul (s, &end, 10);
  if (errno || end == s || *end || *s == '-' || v < min || v > max)
    return -1;
  return (int64_t) v;
}

static int64_t
parse_seconds (const char *s, double *out)
{
  char *end;

  *out = strtod (s, &end);
  return end == s || *end || !(*out > 0 && *out < 1e6) ? -1 : 0;
}

/* Store the value of option c; -1 if it is invalid. */
static int64_t
parse_value (int c, const char *arg, struct options *o)
{
  int64_t v;

  switch (c) {
  case 's':
    v = size_arg (arg, JOURNAL_MAX_PAYLOAD);
    o->measure.size = (uint32_t) v;
    return v == 0 ? -1 : v;
  case 'q':
    v = parse_count (arg, 1, 4096);
    o->measure.qd = (unsigned) v;
    return v;
  case OPT_WARMUP:
    v = parse_count (arg, 0, 1000);
    o->warmup = (unsigned) v;
    return v;
  case 't':
    return parse_seconds (arg, &o->measure.seconds);
  case 'b':
    v = size_arg (arg, UINT64_MAX >> 1);
    o->measure.bytes = (uint64_t) v;
    return v;
  case OPT_SEGMENT:
    v = size_arg (arg, UINT32_MAX);
    o->jopts.segment_size = (uint32_t) v;
    return v;
  case OPT_BATCH:
    v = size_arg (arg, UINT32_MAX);
    o->jopts.batch_bytes = (uint32_t) v;
    return v;
  }
  abort ();
}

static const char *
option_name (int c)
{
  for (const struct option *p = long_options; p->name; p++)
    if (p->val == c)
      return p->name;
  return "?";
}

/* Returns false with a message on stderr if an option is bad. */
static bool
parse_option (int c, const char *arg, struct options *o)
{
  switch (c) {
  case 'd': o->dir = arg; return true;
  case OPT_JSON: o->json = true; return true;
  case OPT_RECLAIM: o->measure.reclaim = true; return true;
  case 's': case 'q': case 't': case 'b':
  case OPT_SEGMENT: case OPT_BATCH: case OPT_WARMUP:
    if (parse_value (c, arg, o) >= 0)
      return true;
    fprintf (stderr, "journal-bench: --%s: bad value '%s'\n",
             option_name (c), arg);
    return false;
  default:
    usage (stderr);
    return false;
  }
}

int
main (int argc, char **argv)
{
  struct options o = {
    .measure = { .size = 4096, .qd = 1, .seconds = 5 },
    .jopts = { .create = true },
  };
  struct result res;
  int c, err;

  while ((c = getopt_long (argc, argv, "d:s:q:t:b:h", long_options,
                           NULL)) != -1) {
    if (c == 'h') {
      usage (stdout);
      return 0;
    }
    if (!parse_option (c, optarg, &o))
      return 2;
  }
  if (o.dir == NULL || optind != argc) {
    usage (stderr);
    return 2;
  }
  if (!dir_is_fresh (o.dir)) {
    fprintf (stderr, "journal-bench: %s: not empty; the benchmark needs a "
             "fresh journal (remove it or pick another directory)\n", o.dir);
    return 1;
  }
  err = bench (&o, &res);
  if (err < 0) {
    fprintf (stderr, "journal-bench: %s: %s%s%s\n", o.dir, strerror (-err),
             *cdp_get_error () ? ": " : "", cdp_get_error ());
    return 1;
  }
  print_result (&o, &res);
  return 0;
}
