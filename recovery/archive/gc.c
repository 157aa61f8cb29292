/* cdp archive: collecting the chunks no point needs (mark and sweep).
 *
 * 1. Its record gc/<host>-<pid> is put ("running", its start T0, the
 *    store's now) and put again every 30 s until the end; pushes read
 *    these records before they put their index (push.c).
 * 2. Leases (writers/): cutoff = min (T0, start of each live lease)
 *    - grace.  A lease is live when put within 10 min of T0.
 * 3. Mark: every index is read whole and checked; any that cannot be
 *    read (but one forgotten meanwhile) aborts the collection: a sweep
 *    after a partial mark would remove chunks that point needs.
 * 4. Sweep: chunks neither marked nor younger than cutoff, each one's
 *    time read again right before it is removed.
 * 5. Leftovers: temporary files, dead leases and finished records older
 *    than a day.
 * The argument that this is safe with pushes on other hosts is in
 * docs/ARCHITECTURE.md, "The archive". */
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fileio.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"
#include "recovery/archive/archive-internal.h"

struct gc_sum {
  uint8_t b[32];
};
DEFINE_VECTOR_TYPE (sum_vector, struct gc_sum)

struct candidate {
  char key[ARCHIVE_CHUNK_KEY_MAX];
  uint64_t size;
};
DEFINE_VECTOR_TYPE (candidate_vector, struct candidate)

struct gc {
  struct archive *a;
  const volatile int *cancel;
  struct archive_gc_stats *st;
  int64_t t0, cutoff;
  sum_vector marked;
  candidate_vector cand;
  string_vector keys;               /* index keys, or leftovers to remove */
  string_vector dead;               /* leases dead for a day */
  /* The record and its refresher. */
  char rec_key[HOST_NAME_MAX + 64];
  char host[HOST_NAME_MAX + 1];
  char boot[64];                    /* this boot's id, or "" */
  pthread_t refresher;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done, recorded, refresher_started;
  int64_t last_ok;                  /* time_mono_ns of its last put */
  bool lapsed;                      /* two puts were ever too far apart */
};

/* This boot's id (/proc/sys/kernel/random/boot_id) in id, or "". */
static void
boot_id (char id[64])
{
  char *text = NULL;
  size_t len;

  id[0] = '\0';
  if (fio_read ("/proc/sys/kernel/random/boot_id", &text, &len) == 0)
    snprintf (id, 64, "%.*s", (int) strcspn (text, "\n"), text);
  free (text);
}

int
archive_gc_record_parse (const void *buf, size_t len, bool *running)
{
  struct json_tokener *tok = json_tokener_new ();
  struct json_object *o = NULL, *v, *h, *p, *b;
  char host[HOST_NAME_MAX + 1] = "", boot[64];
  int r = -EUCLEAN;

  if (tok == NULL)
    return -ENOMEM;
  if (len <= INT32_MAX)
    o = json_tokener_parse_ex (tok, buf, (int) len);
  if (o && json_object_object_get_ex (o, "running", &v)
      && json_object_is_type (v, json_type_boolean)) {
    *running = json_object_get_boolean (v);
    /* One of this very host (its name and its boot: names repeat on
     * cloned machines) whose process is gone runs no more. */
    gethostname (host, sizeof host - 1);
    boot_id (boot);
    if (*running && *boot && json_object_object_get_ex (o, "host", &h)
        && json_object_object_get_ex (o, "pid", &p)
        && json_object_object_get_ex (o, "boot", &b)
        && strcmp (json_object_get_string (h), host) == 0
        && strcmp (json_object_get_string (b), boot) == 0
        && kill ((pid_t) json_object_get_int64 (p), 0) < 0 && errno == ESRCH)
      *running = false;
    r = 0;
  }
  json_object_put (o);
  json_tokener_free (tok);
  return r;
}

static int
put_record (struct gc *g, bool running)
{
  struct json_object *o = json_object_new_object ();
  const char *body;
  int r = -ENOMEM;

  jf_add (o, "start", json_object_new_int64 (g->t0));
  jf_add (o, "running", json_object_new_boolean (running));
  jf_add (o, "host", json_object_new_string (g->host));
  jf_add (o, "pid", json_object_new_int64 (getpid ()));
  if (*g->boot)
    jf_add (o, "boot", json_object_new_string (g->boot));
  body = jf_text (o, JSON_C_TO_STRING_PLAIN);
  if (body)
    r = g->a->s->ops->put (g->a->s, g->rec_key, body, strlen (body));
  else
    cdp_set_error (r, "out of memory");
  json_object_put (o);

  if (r == 0) {
    int64_t now = time_mono_ns ();
    pthread_mutex_lock (&g->lock);
    /* A record stale for a while is one pushes judged dead: putting it
     * again does not make the deletions after it safe. */
    if (g->last_ok && now - g->last_ok > archive_lease_stale_after ())
      g->lapsed = true;
    g->last_ok = now;
    pthread_mutex_unlock (&g->lock);
  }
  return r;
}

static void *
refresh_record (void *opaque)
{
  struct gc *g = opaque;

  pthread_mutex_lock (&g->lock);
  while (!g->done) {
    struct timespec t = time_deadline (CLOCK_REALTIME,
                                       archive_lease_refresh_every ());
    pthread_cond_timedwait (&g->cond, &g->lock, &t);
    if (g->done)
      break;
    pthread_mutex_unlock (&g->lock);
    put_record (g, true);
    pthread_mutex_lock (&g->lock);
  }
  pthread_mutex_unlock (&g->lock);
  return NULL;
}

/* The record could not be put for long, now or at any time since the
 * start (the process stopped, say, and its refresher put the record
 * again first): pushes may have judged this collection dead and no
 * longer wait for it. */
static int
check_record (struct gc *g)
{
  bool stale;

  pthread_mutex_lock (&g->lock);
  stale = g->lapsed
    || time_mono_ns () - g->last_ok > archive_lease_stale_after ();
  pthread_mutex_unlock (&g->lock);
  return stale ? cdp_set_error (-ETIMEDOUT, "archive %s: the collection "
                                "could not renew its record gc/: stopped",
                                g->a->s->location) : 0;
}

static int
start (struct gc *g)
{
  int r;

  if ((r = g->a->s->ops->now (g->a->s, &g->t0)) < 0)
    return r;
  gethostname (g->host, sizeof g->host - 1);
  boot_id (g->boot);
  snprintf (g->rec_key, sizeof g->rec_key, "gc/%s-%ld", g->host,
            (long) getpid ());
  for (char *c = g->rec_key + 3; *c; c++)
    if (*c == '/')
      *c = '_';
  if ((r = put_record (g, true)) < 0)
    return r;
  g->recorded = true;
  if (pthread_create (&g->refresher, NULL, refresh_record, g) != 0)
    return cdp_set_error (-EAGAIN, "cannot start a thread");
  g->refresher_started = true;
  return 0;
}

static void
finish (struct gc *g)
{
  struct cdp_saved_error e;

  if (!g->recorded)
    return;
  pthread_mutex_lock (&g->lock);
  g->done = true;
  pthread_cond_signal (&g->cond);
  pthread_mutex_unlock (&g->lock);
  if (g->refresher_started)
    pthread_join (g->refresher, NULL);
  cdp_save_error (&e);
  put_record (g, false);            /* its time: when its sweep ended */
  cdp_restore_error (&e);
}

/* ---- leases ------------------------------------------------------------- */

static int
lease_seen (void *opaque, const struct archive_obj *o)
{
  struct gc *g = opaque;
  struct archive_store *s = g->a->s;
  void *buf;
  size_t len;
  int64_t start;
  int r;

  if (o->mtime_ns < g->t0 - ARCHIVE_LEASE_LIVE_NS) {
    if (o->mtime_ns < g->t0 - ARCHIVE_LEFTOVER_NS) {
      char *k = strdup (o->key);
      if (k == NULL || string_vector_append (&g->dead, k) < 0) {
        free (k);
        return cdp_set_error (-ENOMEM, "out of memory");
      }
    }
    return 0;                       /* dead */
  }
  r = s->ops->get (s, o->key, &buf, &len);
  if (r == -ENOENT) {               /* its push ended meanwhile */
    cdp_clear_error ();
    return 0;
  }
  if (r < 0)
    return r;
  r = archive_lease_start (buf, len, &start);
  free (buf);
  if (r < 0)
    return cdp_set_error (-EUCLEAN, "archive %s: lease %s is damaged: not "
                          "collecting", s->location, o->key);
  if (start < g->cutoff)
    g->cutoff = start;
  return 0;
}

static int
read_leases (struct gc *g, int64_t grace_ns)
{
  int r;

  g->cutoff = g->t0;
  r = g->a->s->ops->list (g->a->s, "writers/", lease_seen, g);
  if (r < 0)
    return r;
  if (__builtin_sub_overflow (g->cutoff, grace_ns, &g->cutoff))
    g->cutoff = INT64_MIN;
  return 0;
}

/* ---- mark --------------------------------------------------------------- */

static int
index_seen (void *opaque, const struct archive_obj *o)
{
  struct gc *g = opaque;
  char id[13], *k;
  int64_t t;

  if (archive_index_key_parse (o->key, NULL, &t, id) < 0)
    return 0;
  if ((k = strdup (o->key)) == NULL || string_vector_append (&g->keys, k) < 0) {
    free (k);
    return cdp_set_error (-ENOMEM, "out of memory");
  }
  return 0;
}

static int
cancelled (struct gc *g)
{
  return g->cancel && *g->cancel
    ? cdp_set_error (-ECANCELED, "archive %s: collection cancelled",
                     g->a->s->location) : 0;
}

static int
mark_index (struct gc *g, const char *key)
{
  struct archive_point p;
  void *buf;
  size_t len;
  int r = g->a->s->ops->get (g->a->s, key, &buf, &len);

  if (r == -ENOENT) {               /* forgotten since the listing */
    cdp_clear_error ();
    return 0;
  }
  if (r < 0)
    return r;
  r = archive_index_decode (key, buf, len, false, &p);
  free (buf);
  if (r < 0)
    return r;
  g->st->points++;
  for (size_t d = 0; r == 0 && d < p.ndisks; d++)
    for (uint32_t c = 0; r == 0 && c < p.disks[d].nchunks; c++) {
      struct gc_sum s;
      if (archive_sum_is_zero (p.disks[d].sums[c]))
        continue;
      memcpy (s.b, p.disks[d].sums[c], 32);
      r = sum_vector_append (&g->marked, s);
    }
  archive_point_free (&p);
  return r < 0 ? cdp_set_error (-ENOMEM, "out of memory") : 0;
}

static int
cmp_sum (const void *x, const void *y)
{
  return memcmp (x, y, 32);
}

static void
free_keys (string_vector *keys)
{
  for (size_t i = 0; i < keys->len; i++)
    free (keys->ptr[i]);
  keys->len = 0;
}

/* Sort the marked sums and drop repeats: points share most of their
 * chunks, and the mark must cost their distinct chunks, not all. */
static void
compact (sum_vector *m)
{
  size_t n = 0;

  if (m->len > 1)
    qsort (m->ptr, m->len, 32, cmp_sum);
  for (size_t i = 0; i < m->len; i++)
    if (n == 0 || memcmp (m->ptr[n - 1].b, m->ptr[i].b, 32) != 0)
      m->ptr[n++] = m->ptr[i];
  m->len = n;
}

static int
mark (struct gc *g)
{
  int r = g->a->s->ops->list (g->a->s, "points/", index_seen, g);
  size_t distinct = 0;

  for (size_t i = 0; r == 0 && i < g->keys.len; i++) {
    r = mark_index (g, g->keys.ptr[i]);
    if (r == 0)
      r = check_record (g);
    if (r == 0)
      r = cancelled (g);
    if (g->marked.len > 2 * distinct + 65536) {
      compact (&g->marked);
      distinct = g->marked.len;
    }
  }
  free_keys (&g->keys);
  if (r == -ECANCELED)
    return r;
  if (r < 0)
    return cdp_set_error (r, "archive %s: not collecting: %s",
                          g->a->s->location, cdp_get_error ());
  compact (&g->marked);
  return 0;
}

/* ---- sweep -------------------------------------------------------------- */

static int
chunk_seen (void *opaque, const struct archive_obj *o)
{
  struct gc *g = opaque;
  struct candidate c;
  uint8_t sum[32];

  /* chunks/XXXX/<64 hex>: anything else is not the archive's. */
  if (strlen (o->key) != 7 + 5 + 64 || o->key[11] != '/'
      || archive_unhex (o->key + 12, sum) < 0
      || strncmp (o->key + 7, o->key + 12, 4) != 0)
    return 0;
  g->st->chunks++;
  if (g->marked.len > 0
      && bsearch (sum, g->marked.ptr, g->marked.len, 32, cmp_sum))
    return 0;
  if (o->mtime_ns >= g->cutoff) {
    g->st->kept_young++;
    return 0;
  }
  memcpy (c.key, o->key, sizeof c.key);
  c.size = o->size;
  return candidate_vector_append (&g->cand, c) < 0
    ? cdp_set_error (-ENOMEM, "out of memory") : 0;
}

static int
sweep (struct gc *g)
{
  struct archive_store *s = g->a->s;
  int r = s->ops->list (s, "chunks/", chunk_seen, g);

  for (size_t i = 0; r == 0 && i < g->cand.len; i++) {
    int64_t mtime;
    /* Touched since the listing (a push reuses it): keep it. */
    r = s->ops->stat (s, g->cand.ptr[i].key, NULL, &mtime);
    if (r == -ENOENT) {
      cdp_clear_error ();
      r = 0;
      continue;
    }
    if (r == 0 && mtime >= g->cutoff) {
      g->st->kept_young++;
      continue;
    }
    if (r == 0)
      r = check_record (g);
    if (r == 0)
      r = cancelled (g);
    if (r == 0)
      r = s->ops->del (s, g->cand.ptr[i].key);
    if (r == 0) {
      g->st->removed++;
      g->st->removed_bytes += g->cand.ptr[i].size;
    }
  }
  return r;
}

/* ---- leftovers ---------------------------------------------------------- */

/* Temporary files of writers that died, records of collections that
 * ended (or died): a day old. */
static int
old_seen (void *opaque, const struct archive_obj *o)
{
  struct gc *g = opaque;
  char *k;

  if (o->mtime_ns >= g->t0 - ARCHIVE_LEFTOVER_NS
      || strcmp (o->key, g->rec_key) == 0)
    return 0;
  if ((k = strdup (o->key)) == NULL || string_vector_append (&g->dead, k) < 0) {
    free (k);
    return cdp_set_error (-ENOMEM, "out of memory");
  }
  return 0;
}

static int
leftovers (struct gc *g)
{
  struct archive_store *s = g->a->s;
  int r = s->ops->list (s, "tmp/", old_seen, g);

  if (r == 0)
    r = s->ops->list (s, "gc/", old_seen, g);
  for (size_t i = 0; r == 0 && i < g->dead.len; i++)
    r = s->ops->del (s, g->dead.ptr[i]);
  return r;
}

int
archive_gc (struct archive *a, int64_t grace_ns, const volatile int *cancel,
            struct archive_gc_stats *stats)
{
  struct gc g = { .a = a, .cancel = cancel, .st = stats, .lock = PTHREAD_MUTEX_INITIALIZER,
                  .cond = PTHREAD_COND_INITIALIZER };
  int r;

  memset (stats, 0, sizeof *stats);
  if (grace_ns < 0)
    return cdp_set_error (-EINVAL, "a negative grace");
  r = start (&g);
  if (r == 0)
    r = read_leases (&g, grace_ns);
  if (r == 0)
    r = mark (&g);
  if (r == 0)
    r = sweep (&g);
  finish (&g);
  if (r == 0)
    r = leftovers (&g);             /* dead leases listed by read_leases */
  free_keys (&g.keys);
  string_vector_reset (&g.keys);
  free_keys (&g.dead);
  string_vector_reset (&g.dead);
  sum_vector_reset (&g.marked);
  candidate_vector_reset (&g.cand);
  return r;
}
