/* The semantics of every store.h operation, on a real store: a
 * directory (e2e-store-dir.sh) or an S3 bucket of a real Ceph
 * (e2e-store-s3.sh).
 *
 *   store-conform dir LOCATION
 *   store-conform s3 LOCATION SCRATCH_DIR
 *
 * LOCATION must be empty (a new directory, an unused S3 prefix).  In s3
 * mode the environment names the endpoint and the keys (ceph.sh), and
 * the checks that only S3 has run too: wrong keys, a missing bucket,
 * prefixes that do not see each other, a body damaged on the way,
 * 503 SlowDown, keys from a credentials file (written in SCRATCH_DIR),
 * an endpoint that refuses or never answers.  Prints one line per check; exit 1 at the first that
 * fails, with the store's error. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "recovery/archive/store.h"

#define MANY 1100                   /* more than one ListObjectsV2 page */
#define THREADS 8

static struct archive_store *st;
static bool s3;
static const char *location;

static void __attribute__ ((format (printf, 1, 2), noreturn))
fail (const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "store-conform: FAIL: ");
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fprintf (stderr, " [error: %s]\n", cdp_get_error ());
  exit (1);
}

static void
ok (const char *what)
{
  printf ("ok - %s\n", what);
  fflush (stdout);
}

/* Call must return 0. */
#define CHECK(call) do {                                        \
    int r_ = (call);                                            \
    if (r_ != 0)                                                \
      fail ("%s: %d (%s)", #call, r_, strerror (-r_));          \
  } while (0)

/* Call must return err. */
#define EXPECT(err, call) do {                                  \
    int r_ = (call);                                            \
    if (r_ != (err))                                            \
      fail ("%s: %d (%s), expected %d (%s)", #call, r_,         \
            strerror (-r_), (err), strerror (-(err)));          \
  } while (0)

static double
mono (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
pause_ms (long ms)
{
  struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };

  nanosleep (&ts, NULL);
}

/* len bytes that depend on seed. */
static unsigned char *
pattern (uint64_t seed, size_t len)
{
  unsigned char *b = malloc (len ? len : 1);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  size_t i;

  if (b == NULL)
    fail ("out of memory");
  for (i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b[i] = x;
  }
  return b;
}

static void
put_pattern (struct archive_store *s, const char *key, uint64_t seed,
             size_t len)
{
  unsigned char *b = pattern (seed, len);

  CHECK (s->ops->put (s, key, b, len));
  free (b);
}

static void
get_same (struct archive_store *s, const char *key, uint64_t seed,
          size_t len)
{
  unsigned char *want = pattern (seed, len);
  void *got;
  size_t n;

  CHECK (s->ops->get (s, key, &got, &n));
  if (n != len || memcmp (got, want, len) != 0)
    fail ("get %s: %zu bytes, not the %zu put", key, n, len);
  free (got);
  free (want);
}

static void
check_put_get (void)
{
  void *buf;
  size_t n;

  put_pattern (st, "a/one", 1, 1 << 20);
  get_same (st, "a/one", 1, 1 << 20);
  put_pattern (st, "a/one", 2, 3000);
  get_same (st, "a/one", 2, 3000);
  put_pattern (st, "a/empty", 3, 0);
  get_same (st, "a/empty", 3, 0);
  put_pattern (st, "a/odd name+=,@;~!", 4, 100);
  get_same (st, "a/odd name+=,@;~!", 4, 100);
  EXPECT (-ENOENT, st->ops->get (st, "a/missing", &buf, &n));
  if (strstr (cdp_get_error (), "a/missing") == NULL)
    fail ("the error of a missing object does not name its key");
  ok ("put replaces, get reads it whole, a missing object is -ENOENT");
}

/* One thread replaces an object with all-A (1 MiB) and all-B (2 MiB)
 * over and over while another reads it: every read is one of them. */
static void *
replacer (void *arg)
{
  unsigned char *a = malloc (1 << 20), *b = malloc (2 << 20);
  int i;

  if (a == NULL || b == NULL)
    fail ("out of memory");
  memset (a, 'A', 1 << 20);
  memset (b, 'B', 2 << 20);
  for (i = 0; i < 30; i++)
    CHECK (i % 2 ? st->ops->put (st, "atomic/x", a, 1 << 20)
           : st->ops->put (st, "atomic/x", b, 2 << 20));
  free (a);
  free (b);
  return arg;
}

static void
check_put_atomic (void)
{
  pthread_t t;
  unsigned char *got;
  size_t n, i, reads = 0;
  void *done;
  int r;

  put_pattern (st, "atomic/x", 5, 10);
  pthread_create (&t, NULL, replacer, NULL);
  for (;;) {
    CHECK (st->ops->get (st, "atomic/x", (void **) &got, &n));
    reads++;
    if (n != 1 << 20 && n != 2 << 20 && n != 10)
      fail ("a read during replacements has %zu bytes", n);
    for (i = 0; n != 10 && i < n; i++)
      if (got[i] != (n == 1 << 20 ? 'A' : 'B'))
        fail ("a read during replacements mixes objects at %zu", i);
    free (got);
    if ((r = pthread_tryjoin_np (t, &done)) == 0)
      break;
    if (r != EBUSY)
      fail ("pthread_tryjoin_np: %s", strerror (r));
  }
  printf ("ok - put replaces atomically: %zu reads during 30 replacements "
          "saw whole objects\n", reads);
}

static void
check_get_range (void)
{
  unsigned char *want = pattern (6, 100000), buf[5000];
  uint64_t offs[] = { 0, 1, 4095, 50000, 95000 };
  size_t i;

  put_pattern (st, "range/r", 6, 100000);
  for (i = 0; i < sizeof offs / sizeof offs[0]; i++) {
    CHECK (st->ops->get_range (st, "range/r", buf, offs[i], 5000));
    if (memcmp (buf, want + offs[i], 5000) != 0)
      fail ("get_range at %" PRIu64 ": not the bytes put", offs[i]);
  }
  CHECK (st->ops->get_range (st, "range/r", buf, 99999, 1));
  if (buf[0] != want[99999])
    fail ("get_range of the last byte");
  CHECK (st->ops->get_range (st, "range/r", buf, 100000, 0));
  EXPECT (-EIO, st->ops->get_range (st, "range/r", buf, 99000, 1001));
  EXPECT (-EIO, st->ops->get_range (st, "range/r", buf, 100000, 1));
  EXPECT (-EIO, st->ops->get_range (st, "range/r", buf, 200000, 10));
  EXPECT (-ENOENT, st->ops->get_range (st, "range/missing", buf, 0, 10));
  free (want);
  ok ("get_range reads exactly the range; past the end is -EIO");
}

static int64_t
store_now (void)
{
  int64_t ns;

  CHECK (st->ops->now (st, &ns));
  return ns;
}

static void
check_stat_times (void)
{
  int64_t before, after, m, n2;
  uint64_t size;

  before = store_now ();
  put_pattern (st, "times/t", 7, 12345);
  after = store_now ();
  CHECK (st->ops->stat (st, "times/t", &size, &m));
  if (size != 12345)
    fail ("stat: size %" PRIu64 ", not 12345", size);
  if (m < before || m > after)
    fail ("stat: the time %" PRId64 " of a put is not between the store's "
          "now before (%" PRId64 ") and after (%" PRId64 ")", m, before,
          after);
  CHECK (st->ops->stat (st, "times/t", NULL, NULL));
  EXPECT (-ENOENT, st->ops->stat (st, "times/missing", &size, &m));
  n2 = store_now ();
  if (n2 < after)
    fail ("now went back: %" PRId64 " after %" PRId64, n2, after);
  ok ("stat gives the size and the store's time of the put; now is "
      "close to object times");
}

/* Wait (by condition) until the store's clock is past t. */
static void
wait_past (int64_t t)
{
  double deadline = mono () + 60;

  while (store_now () <= t) {
    if (mono () > deadline)
      fail ("the store's clock does not pass %" PRId64, t);
    pause_ms (50);
  }
}

struct found {
  const char *key;
  int64_t mtime;
  int seen;
};

static int
find_one (void *opaque, const struct archive_obj *o)
{
  struct found *f = opaque;

  if (strcmp (o->key, f->key) == 0) {
    f->mtime = o->mtime_ns;
    f->seen++;
  }
  return 0;
}

static void
check_touch (void)
{
  int64_t m0, m1, after;
  struct found f = { .key = "touch/t" };

  put_pattern (st, "touch/t", 8, 777);
  CHECK (st->ops->stat (st, "touch/t", NULL, &m0));
  wait_past (m0);
  CHECK (st->ops->touch (st, "touch/t"));
  after = store_now ();
  CHECK (st->ops->stat (st, "touch/t", NULL, &m1));
  if (m1 <= m0 || m1 > after)
    fail ("touch: the time went from %" PRId64 " to %" PRId64 " (now %"
          PRId64 ")", m0, m1, after);
  get_same (st, "touch/t", 8, 777);
  CHECK (st->ops->list (st, "touch/", find_one, &f));
  if (f.seen != 1 || f.mtime / 1000000000 != m1 / 1000000000)
    fail ("list after touch: seen %d, time %" PRId64 " (stat: %" PRId64 ")",
          f.seen, f.mtime, m1);
  EXPECT (-ENOENT, st->ops->touch (st, "touch/missing"));
  EXPECT (-ENOENT, st->ops->stat (st, "touch/missing", NULL, NULL));
  ok ("touch advances the time and keeps the data; a missing object is "
      "-ENOENT and stays missing");
}

static void
check_del (void)
{
  put_pattern (st, "del/d", 9, 10);
  CHECK (st->ops->del (st, "del/d"));
  EXPECT (-ENOENT, st->ops->stat (st, "del/d", NULL, NULL));
  CHECK (st->ops->del (st, "del/d"));
  CHECK (st->ops->del (st, "del/never"));
  ok ("del removes; removing a missing object succeeds");
}

struct listing {
  char prefix[32];
  int count;
  int bad;
  unsigned char *seen;              /* MANY flags */
};

static int
collect (void *opaque, const struct archive_obj *o)
{
  struct listing *l = opaque;
  unsigned i;

  if (strncmp (o->key, l->prefix, strlen (l->prefix)) != 0)
    l->bad++;
  l->count++;
  if (l->seen && sscanf (o->key, "many/%u", &i) == 1 && i < MANY) {
    if (l->seen[i]++ || o->size != 100 + i % 7 || o->mtime_ns <= 0)
      l->bad++;
  }
  return 0;
}

struct putter {
  int first, step;
};

static void *
put_many (void *arg)
{
  struct putter *p = arg;
  char key[64];
  int i;

  for (i = p->first; i < MANY; i += p->step) {
    snprintf (key, sizeof key, "many/%04d", i);
    put_pattern (st, key, i, 100 + i % 7);
  }
  return NULL;
}

static int
stop_after_one (void *opaque, const struct archive_obj *o)
{
  (*(int *) opaque)++;
  return 1;
}

static int
refuse (void *opaque, const struct archive_obj *o)
{
  return -EBADMSG;
}

static void
list_into (const char *prefix, struct listing *l, bool track)
{
  memset (l, 0, sizeof *l);
  snprintf (l->prefix, sizeof l->prefix, "%s", prefix);
  if (track && (l->seen = calloc (MANY, 1)) == NULL)
    fail ("out of memory");
  CHECK (st->ops->list (st, prefix, collect, l));
  if (l->bad)
    fail ("list '%s': %d objects out of the prefix, seen twice or with "
          "wrong sizes", prefix, l->bad);
}

static void
check_list (void)
{
  pthread_t t[THREADS];
  struct putter p[THREADS];
  struct listing l;
  int i, n = 0;

  for (i = 0; i < THREADS; i++) {
    p[i] = (struct putter) { i, THREADS };
    pthread_create (&t[i], NULL, put_many, &p[i]);
  }
  for (i = 0; i < THREADS; i++)
    pthread_join (t[i], NULL);
  put_pattern (st, "manyx", 10, 1);
  put_pattern (st, "many2/x", 11, 1);
  put_pattern (st, "deep/a/b/c/d", 12, 1);
  list_into ("many/", &l, true);
  for (i = 0; i < MANY; i++)
    if (!l.seen[i])
      fail ("list 'many/': many/%04d is missing", i);
  if (l.count != MANY)
    fail ("list 'many/': %d objects, not %d", l.count, MANY);
  free (l.seen);
  list_into ("many/05", &l, false);
  if (l.count != 100)
    fail ("list 'many/05': %d objects, not 100", l.count);
  list_into ("many", &l, false);
  if (l.count != MANY + 2)
    fail ("list 'many': %d objects, not %d", l.count, MANY + 2);
  list_into ("deep/", &l, false);
  if (l.count != 1)
    fail ("list 'deep/': %d objects, not 1 (any depth)", l.count);
  list_into ("nothing/", &l, false);
  if (l.count != 0)
    fail ("list 'nothing/': %d objects", l.count);
  CHECK (st->ops->list (st, "many/", stop_after_one, &n));
  if (n != 1)
    fail ("list that stops: called %d times", n);
  EXPECT (-EBADMSG, st->ops->list (st, "many/", refuse, NULL));
  ok ("list: every key under a prefix, any depth, across pages; a "
      "callback stops it or fails it");
}

/* 8 threads put, get, stat and remove their own objects at once. */
static void *
worker (void *arg)
{
  intptr_t id = (intptr_t) arg;
  char key[64];
  uint64_t size;
  int i;

  for (i = 0; i < 12; i++) {
    snprintf (key, sizeof key, "conc/%d/%d", (int) id, i);
    put_pattern (st, key, id * 1000 + i, 256 * 1024 + i);
    get_same (st, key, id * 1000 + i, 256 * 1024 + i);
    CHECK (st->ops->stat (st, key, &size, NULL));
    if (size != 256 * 1024 + (uint64_t) i)
      fail ("stat %s: %" PRIu64, key, size);
    if (i % 2)
      CHECK (st->ops->del (st, key));
  }
  return NULL;
}

static void
check_threads (void)
{
  pthread_t t[THREADS];
  struct listing l;
  intptr_t i;

  for (i = 0; i < THREADS; i++)
    pthread_create (&t[i], NULL, worker, (void *) i);
  for (i = 0; i < THREADS; i++)
    pthread_join (t[i], NULL);
  list_into ("conc/", &l, false);
  if (l.count != THREADS * 6)
    fail ("list 'conc/': %d objects, not %d", l.count, THREADS * 6);
  ok ("8 threads put, get, stat and del at once");
}

/* S3: a store opened with the environment changed. */
static struct archive_store *
open_with (const char *loc, const char *var, const char *value)
{
  const char *old = getenv (var);
  char *saved = old ? strdup (old) : NULL;
  struct archive_store *s;
  int r;

  setenv (var, value, 1);
  r = archive_store_open (loc, &s);
  if (saved)
    setenv (var, saved, 1);
  else
    unsetenv (var);
  free (saved);
  if (r < 0)
    fail ("open %s with %s=%s: %d", loc, var, value, r);
  return s;
}

static void
check_wrong_keys (void)
{
  struct archive_store *s;
  void *buf;
  size_t n;
  char text[16] = "x";

  s = open_with (location, "AWS_SECRET_ACCESS_KEY", "wrong-secret");
  EXPECT (-EACCES, s->ops->put (s, "keys/x", text, 1));
  if (strstr (cdp_get_error (), "403") == NULL ||
      strstr (cdp_get_error (), "SignatureDoesNotMatch") == NULL ||
      strstr (cdp_get_error (), "keys/x") == NULL)
    fail ("a refused put: the error does not name the key, the HTTP "
          "status and S3's code");
  EXPECT (-EACCES, s->ops->get (s, "a/one", &buf, &n));
  archive_store_close (s);
  s = open_with (location, "AWS_ACCESS_KEY_ID", "NOSUCHKEY");
  EXPECT (-EACCES, s->ops->stat (s, "a/one", NULL, NULL));
  EXPECT (-EACCES, s->ops->list (s, "a/", collect, NULL));
  archive_store_close (s);
  EXPECT (-ENOENT, st->ops->stat (st, "keys/x", NULL, NULL));
  ok ("wrong keys: -EACCES with the key, 403 and S3's code");
}

static void
check_missing_bucket (void)
{
  char loc[128];
  struct archive_store *s;
  struct listing l = { .prefix = "" };
  int64_t ns;

  snprintf (loc, sizeof loc, "s3://conform-new-%ld-%d/p", (long) time (NULL),
            (int) getpid ());
  CHECK (archive_store_open (loc, &s));
  EXPECT (-ENOENT, s->ops->stat (s, "x", NULL, NULL));
  CHECK (s->ops->list (s, "", collect, &l));
  if (l.count)
    fail ("a missing bucket lists %d objects", l.count);
  CHECK (s->ops->now (s, &ns));
  CHECK (s->ops->del (s, "x"));
  put_pattern (s, "x", 13, 50);
  get_same (s, "x", 13, 50);
  archive_store_close (s);
  ok ("a missing bucket: open works, reads find nothing, a put creates it");
}

static void
check_prefixes (void)
{
  char loc[256];
  struct archive_store *s;
  struct listing l = { .prefix = "" };

  snprintf (loc, sizeof loc, "%s-other", location);
  CHECK (archive_store_open (loc, &s));
  put_pattern (s, "a/one", 14, 10);
  CHECK (s->ops->list (s, "", collect, &l));
  if (l.count != 1)
    fail ("%s lists %d objects, not its 1", loc, l.count);
  get_same (st, "a/one", 2, 3000);
  get_same (s, "a/one", 14, 10);
  archive_store_close (s);
  ok ("two prefixes of a bucket do not see each other's objects");
}

/* A proxy in front of the endpoint, one request per connection: the
 * first `fail` connections are answered 503 SlowDown (and closed); the
 * next `forward` are passed on, with a byte of the request's body
 * flipped when `flip` (as a bad link or NIC would). */
struct proxy {
  int lfd;
  int port;                         /* the endpoint's */
  int fail, forward;
  bool flip;
  pthread_t thread;
};

static ssize_t
read_message (int fd, char *buf, size_t cap)
{
  size_t len = 0, want = SIZE_MAX;
  char *end, *cl;
  ssize_t n;

  while (len < want && len < cap) {
    if ((n = read (fd, buf + len, cap - len)) <= 0)
      return -1;
    len += n;
    buf[len < cap ? len : cap - 1] = '\0';
    if (want == SIZE_MAX && (end = strstr (buf, "\r\n\r\n")) != NULL) {
      want = end + 4 - buf;
      if ((cl = strcasestr (buf, "\r\nContent-Length:")) != NULL && cl < end)
        want += strtoull (cl + 17, NULL, 10);
    }
  }
  return len;
}

static void
write_all (int fd, const char *buf, size_t len)
{
  ssize_t w;

  for (; len > 0; buf += w, len -= w)
    if ((w = write (fd, buf, len)) <= 0)
      return;
}

static void
forward (struct proxy *p, int c, char *buf, ssize_t len)
{
  struct sockaddr_in a = { .sin_family = AF_INET };
  char *body = strstr (buf, "\r\n\r\n");
  int s;

  if (p->flip && body && body + 4 < buf + len)
    buf[len - 1] ^= 0x01;
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  a.sin_port = htons (p->port);
  if ((s = socket (AF_INET, SOCK_STREAM, 0)) < 0 ||
      connect (s, (struct sockaddr *) &a, sizeof a) < 0)
    fail ("the proxy could not reach the endpoint");
  write_all (s, buf, len);
  if ((len = read_message (s, buf, (1 << 16) - 1)) < 0)
    fail ("the proxy had no answer from the endpoint");
  write_all (c, buf, len);
  close (s);
}

static void *
proxy_run (void *arg)
{
  static const char body[] =
    "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code>"
    "<Message>Reduce your request rate</Message></Error>";
  struct proxy *p = arg;
  static char buf[1 << 16];
  char slow[512];
  ssize_t len;
  int i, c;

  snprintf (slow, sizeof slow, "HTTP/1.1 503 Slow Down\r\n"
            "Content-Type: application/xml\r\nConnection: close\r\n"
            "Content-Length: %zu\r\n\r\n%s", strlen (body), body);

  for (i = 0; i < p->fail + p->forward; i++) {
    if ((c = accept (p->lfd, NULL, NULL)) < 0 ||
        (len = read_message (c, buf, sizeof buf - 1)) < 0)
      fail ("the proxy could not read a request");
    if (i < p->fail)
      write_all (c, slow, strlen (slow));
    else
      forward (p, c, buf, len);
    close (c);
  }
  return NULL;
}

static int local_port (bool listening, int *fd);

/* A store whose endpoint is a proxy (started) to the real one. */
static struct archive_store *
open_proxied (struct proxy *p)
{
  const char *ep = getenv ("AWS_ENDPOINT_URL"), *colon;
  char url[64];
  int port;

  if (ep == NULL || (colon = strrchr (ep, ':')) == NULL ||
      (p->port = atoi (colon + 1)) <= 0)
    fail ("AWS_ENDPOINT_URL is not http://127.0.0.1:PORT");
  port = local_port (true, &p->lfd);
  snprintf (url, sizeof url, "http://127.0.0.1:%d", port);
  pthread_create (&p->thread, NULL, proxy_run, p);
  return open_with (location, "AWS_ENDPOINT_URL", url);
}

static void
close_proxied (struct proxy *p, struct archive_store *s)
{
  pthread_join (p->thread, NULL);
  close (p->lfd);
  archive_store_close (s);
}

static void
check_damaged_body (void)
{
  struct proxy p = { .forward = 1, .flip = true };
  struct archive_store *s = open_proxied (&p);
  unsigned char *b = pattern (15, 1000);

  EXPECT (-EIO, s->ops->put (s, "flip/x", b, 1000));
  if (strstr (cdp_get_error (), "XAmzContentSHA256Mismatch") == NULL)
    fail ("a damaged body: the error does not say S3 refused its sum");
  close_proxied (&p, s);
  EXPECT (-ENOENT, st->ops->stat (st, "flip/x", NULL, NULL));
  free (b);
  ok ("a put whose body is damaged on the way is refused, not stored");
}

static void
check_slow_down (void)
{
  struct proxy p = { .fail = 3, .forward = 2 };
  struct archive_store *s = open_proxied (&p);
  struct proxy q = { .fail = 5 };
  struct archive_store *t;
  unsigned char *b = pattern (16, 1000);

  CHECK (s->ops->put (s, "slow/x", b, 1000));
  get_same (s, "slow/x", 16, 1000);
  close_proxied (&p, s);
  t = open_proxied (&q);
  EXPECT (-EIO, t->ops->put (t, "slow/y", b, 1000));
  if (strstr (cdp_get_error (), "503 SlowDown") == NULL)
    fail ("503 SlowDown five times: the error does not say so");
  close_proxied (&q, t);
  EXPECT (-ENOENT, st->ops->stat (st, "slow/y", NULL, NULL));
  free (b);
  ok ("503 SlowDown is retried: 3 times, then done; 5 times, -EIO");
}

/* Keys from a credentials file: AWS_PROFILE's section, only when the
 * environment has none; no keys anywhere, or a file that cannot be
 * read, fail the open. */
static void
check_credentials_file (const char *dir)
{
  char path[512], saved_id[256], saved_key[256];
  struct archive_store *s;
  FILE *f;
  int r;

  snprintf (saved_id, sizeof saved_id, "%s", getenv ("AWS_ACCESS_KEY_ID"));
  snprintf (saved_key, sizeof saved_key, "%s",
            getenv ("AWS_SECRET_ACCESS_KEY"));
  snprintf (path, sizeof path, "%s/credentials", dir);
  if ((f = fopen (path, "w")) == NULL)
    fail ("%s: %s", path, strerror (errno));
  fprintf (f, "[default]\naws_access_key_id = WRONG\n"
           "aws_secret_access_key = wrong\n\n# the test's\n"
           "[cdp]\naws_access_key_id=%s\r\naws_secret_access_key =  %s  \n"
           "[other]\naws_access_key_id = WRONG2\n", saved_id, saved_key);
  fclose (f);
  unsetenv ("AWS_ACCESS_KEY_ID");
  unsetenv ("AWS_SECRET_ACCESS_KEY");
  setenv ("AWS_SHARED_CREDENTIALS_FILE", path, 1);
  s = open_with (location, "AWS_PROFILE", "cdp");
  get_same (s, "a/one", 2, 3000);
  archive_store_close (s);
  CHECK (archive_store_open (location, &s));
  EXPECT (-EACCES, s->ops->stat (s, "a/one", NULL, NULL));
  archive_store_close (s);
  setenv ("AWS_PROFILE", "none", 1);
  EXPECT (-EACCES, archive_store_open (location, &s));
  if (strstr (cdp_get_error (), "AWS_ACCESS_KEY_ID") == NULL)
    fail ("no credentials: the error does not say where to put them");
  unsetenv ("AWS_PROFILE");
  setenv ("AWS_SHARED_CREDENTIALS_FILE", dir, 1);
  r = archive_store_open (location, &s);
  if (r >= 0 || strstr (cdp_get_error (), dir) == NULL)
    fail ("an unreadable credentials file: %d (%s)", r, cdp_get_error ());
  unsetenv ("AWS_SHARED_CREDENTIALS_FILE");
  setenv ("AWS_ACCESS_KEY_ID", saved_id, 1);
  setenv ("AWS_SECRET_ACCESS_KEY", saved_key, 1);
  unlink (path);
  ok ("keys from the credentials file's AWS_PROFILE section; none, or "
      "a file that cannot be read, fails the open");
}

/* A port on 127.0.0.1 that refuses (listen false) or that accepts and
 * never answers (listen true: the kernel completes the connections). */
static int
local_port (bool listening, int *fd)
{
  struct sockaddr_in a = { .sin_family = AF_INET };
  socklen_t len = sizeof a;

  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if ((*fd = socket (AF_INET, SOCK_STREAM, 0)) < 0 ||
      bind (*fd, (struct sockaddr *) &a, sizeof a) < 0 ||
      getsockname (*fd, (struct sockaddr *) &a, &len) < 0 ||
      (listening && listen (*fd, 64) < 0))
    fail ("a local socket: %s", strerror (errno));
  if (!listening) {
    close (*fd);
    *fd = -1;
  }
  return ntohs (a.sin_port);
}

static void
check_unreachable (bool listening, int want, double bound)
{
  struct archive_store *s;
  char url[64], text[1] = "x";
  int fd, port = local_port (listening, &fd);
  double t0;

  snprintf (url, sizeof url, "http://127.0.0.1:%d", port);
  s = open_with (location, "AWS_ENDPOINT_URL", url);
  t0 = mono ();
  EXPECT (want, s->ops->put (s, "gone/x", text, 1));
  if (mono () - t0 > bound)
    fail ("an endpoint that %s: failed after %.0f s", listening ?
          "never answers" : "refuses", mono () - t0);
  if (strstr (cdp_get_error (), url) == NULL)
    fail ("the error does not name the endpoint");
  archive_store_close (s);
  if (fd >= 0)
    close (fd);
  printf ("ok - an endpoint that %s fails (%s) after %.1f s\n",
          listening ? "never answers" : "refuses connections",
          strerror (-want), mono () - t0);
}

int
main (int argc, char **argv)
{
  if (argc < 3 || argc > 4 ||
      (strcmp (argv[1], "dir") && strcmp (argv[1], "s3")) ||
      (strcmp (argv[1], "s3") == 0 && argc != 4))
    fail ("usage: store-conform dir LOCATION | s3 LOCATION SCRATCH_DIR");
  s3 = strcmp (argv[1], "s3") == 0;
  location = argv[2];
  CHECK (archive_store_open (location, &st));
  if (strcmp (st->ops->scheme, argv[1]) != 0)
    fail ("%s opened as '%s'", location, st->ops->scheme);
  check_put_get ();
  check_put_atomic ();
  check_get_range ();
  check_stat_times ();
  check_touch ();
  check_del ();
  check_list ();
  check_threads ();
  if (s3) {
    check_wrong_keys ();
    check_missing_bucket ();
    check_prefixes ();
    check_damaged_body ();
    check_slow_down ();
    check_credentials_file (argv[3]);
    check_unreachable (false, -EIO, 60);
    check_unreachable (true, -ETIMEDOUT, 180);
  }
  archive_store_close (st);
  return 0;
}
