/* cdp serve: checking a task's stored history in the background.
 *
 * One thread per served task runs the checks of `cdp verify` over the
 * whole task every --verify-interval (counted from the last check on
 * record, whoever made it; a task never checked: from its creation),
 * reading the journal and the base points at no more than VERIFY_RATE so
 * that the guest's writes keep the disk.  It reads the receiver's index
 * (one LMDB environment per process), its own journal reader and its own
 * copy of the catalog, and checks the records the index held when it
 * began.  Retention may remove base points and journal meanwhile: what
 * it finds missing of a base point the catalog no longer names is not
 * damage.  The result replaces the damage on record in TASK/verify.json
 * as `last_verify` (by "cdp serve"), which `cdp status` shows.
 */
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdp/task/task.h"
#include "cdp/daemon/daemon.h"
#include "cdp/task/verify.h"
#include "common/fileio.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"

#define VERIFY_RATE (64ull << 20)   /* bytes read per second, at most */

struct bgverify {
  struct task *t;
  struct receiver *rx;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  atomic_bool stop;
  bool woken;                       /* the policy changed (under lock) */
};

/* When the last check on record ran (ns), or 0. */
static int64_t
last_check (const struct task *t)
{
  char *path = task_path (t, "verify.json"), *text = NULL;
  json_object *o, *lv, *v;
  int64_t when = 0;

  if (path && fio_read (path, &text, NULL) == 0 && (o = json_tokener_parse (text))) {
    if (json_object_object_get_ex (o, "last_verify", &lv) &&
        json_object_object_get_ex (lv, "time_ns", &v))
      when = json_object_get_int64 (v);
    json_object_put (o);
  }
  free (text);
  free (path);
  return when;
}

static int64_t
interval (const struct task *t)
{
  int64_t every = task_policy (t).verify_interval;

  return every > 0 ? every : VERIFY_INTERVAL_DEFAULT;
}

/* Sleep until ns (CLOCK_REALTIME), stop, or a change of the policy
 * (bgverify_wake); true if stopped. */
static bool
sleep_until (struct bgverify *b, int64_t ns)
{
  struct timespec ts = { ns / 1000000000, ns % 1000000000 };

  pthread_mutex_lock (&b->lock);
  while (!atomic_load (&b->stop) && !b->woken && time_now_ns () < ns)
    pthread_cond_timedwait (&b->cond, &b->lock, &ts);
  b->woken = false;
  pthread_mutex_unlock (&b->lock);
  return atomic_load (&b->stop);
}

/* Damage of base points retention removed during the check is not
 * damage: keep what the catalog still names. */
static json_object *
still_damaged (const struct task *t, json_object *damage)
{
  json_object *out = json_object_new_array ();
  struct base_catalog cat;
  char *dir = task_path (t, "base");
  bool have = dir && catalog_load (dir, false, &cat) == 0;

  free (dir);
  for (size_t i = 0; i < json_object_array_length (damage); i++) {
    json_object *d = json_object_array_get_idx (damage, i), *v;
    const char *kind = json_object_get_string (json_object_object_get (d, "kind"));
    const char *where = json_object_get_string (json_object_object_get (d, "where"));
    bool keep = true;
    if (have && kind && where && (strcmp (kind, "base") == 0 ||
                                  strcmp (kind, "catalog") == 0)) {
      char file[256];
      if (json_object_object_get_ex (d, "file", &v))
        snprintf (file, sizeof file, "%s", json_object_get_string (v));
      else
        snprintf (file, sizeof file, "%.*s", (int) strcspn (where, " "), where);
      keep = strstr (file, ".qcow2") == NULL || catalog_by_file (&cat, file);
    }
    if (keep)
      jf_append (out, json_object_get (d));
  }
  if (have)
    catalog_free (&cat);
  return out;
}

static void
record (struct bgverify *b, const struct verify_result *r, int64_t started)
{
  json_object *damage = still_damaged (b->t, r->damage);
  json_object *lv = json_object_new_object ();
  size_t n = json_object_array_length (damage);
  char when[64], jb[32], bb[32];

  format_time (started, when, sizeof when);
  jf_add (lv, "time", json_object_new_string (when));
  jf_add (lv, "time_ns", json_object_new_int64 (started));
  jf_add (lv, "by", json_object_new_string ("cdp serve"));
  jf_add (lv, "result", json_object_new_string (n ? "damaged" : "clean"));
  jf_add (lv, "problems", json_object_new_uint64 (n));
  jf_add (lv, "seconds", json_object_new_double (r->seconds));
  jf_add (lv, "journal_bytes", json_object_new_uint64 (r->journal_bytes));
  jf_add (lv, "base_checked_bytes",
          json_object_new_uint64 (r->base_checked_bytes));
  integrity_change (b->t, damage, true, lv);
  format_size (r->journal_bytes, jb, sizeof jb);
  format_size (r->base_checked_bytes, bb, sizeof bb);
  if (n == 0)
    log_msg ("task %s: stored history verified: clean (journal %s, base "
             "point data %s, %.1f s)", b->t->name, jb, bb, r->seconds);
  else
    log_msg ("task %s: stored history verified: %zu problem%s; the first: %s; "
             "see 'cdp status %s'", b->t->name, n, n == 1 ? "" : "s",
             json_object_get_string (json_object_object_get (
                 json_object_array_get_idx (damage, 0), "message")),
             b->t->name);
  json_object_put (lv);
  json_object_put (damage);
}

/* One check of the whole task. */
static void
check (struct bgverify *b)
{
  struct journal_reader *jr = NULL;
  struct base_catalog cat;
  struct verify_result res;
  struct cdp_index *ix = receiver_index (b->rx);
  int64_t started = time_now_ns ();
  char *dir = task_path (b->t, "journal");
  int e = dir ? journal_reader_open (dir, &jr) : -ENOMEM;

  free (dir);
  dir = task_path (b->t, "base");
  if (e == 0 && dir == NULL)
    e = -ENOMEM;
  else if (e == 0)
    e = catalog_load (dir, false, &cat);
  if (e < 0)
    journal_reader_close (jr);
  free (dir);
  if (e < 0) {
    log_msg ("task %s: cannot verify stored history: %s", b->t->name,
             strerror (-e));
    return;
  }
  struct verify_source src = { b->t, jr, ix, &cat };
  struct verify_opts o = { .rate = VERIFY_RATE, .stop = &b->stop,
                           .found_by = "serve",
                           .upto_seq = index_last_seq (ix) };
  e = verify_run (&src, &o, &res);
  if (e < 0)
    log_msg ("task %s: cannot verify stored history: %s", b->t->name,
             strerror (-e));
  else if (!atomic_load (&b->stop))
    record (b, &res, started);
  verify_result_free (&res);
  catalog_free (&cat);
  journal_reader_close (jr);
}

static void *
bgverify_thread (void *arg)
{
  struct bgverify *b = arg;

  while (!atomic_load (&b->stop)) {
    int64_t last = last_check (b->t);
    int64_t due = (last ? last : b->t->created_ns) + interval (b->t);
    if (sleep_until (b, due))
      break;
    if (time_now_ns () < due)        /* woken: the interval changed */
      continue;
    if (last_check (b->t) != last)   /* someone checked meanwhile */
      continue;
    check (b);
    if (last_check (b->t) == last)   /* not recorded: not again at once */
      sleep_until (b, time_now_ns () + interval (b->t));
  }
  return NULL;
}

int
bgverify_start (struct task *t, struct receiver *rx, struct bgverify **bp)
{
  struct bgverify *b = calloc (1, sizeof *b);
  int e;

  if (b == NULL)
    return -ENOMEM;
  b->t = t;
  b->rx = rx;
  pthread_mutex_init (&b->lock, NULL);
  pthread_cond_init (&b->cond, NULL);
  e = -pthread_create (&b->thread, NULL, bgverify_thread, b);
  if (e < 0) {
    pthread_cond_destroy (&b->cond);
    pthread_mutex_destroy (&b->lock);
    free (b);
    return e;
  }
  *bp = b;
  return 0;
}

void
bgverify_wake (struct bgverify *b)
{
  pthread_mutex_lock (&b->lock);
  b->woken = true;
  pthread_cond_broadcast (&b->cond);
  pthread_mutex_unlock (&b->lock);
}

void
bgverify_stop (struct bgverify *b)
{
  if (b == NULL)
    return;
  pthread_mutex_lock (&b->lock);
  atomic_store (&b->stop, true);
  pthread_cond_broadcast (&b->cond);
  pthread_mutex_unlock (&b->lock);
  pthread_join (b->thread, NULL);
  pthread_cond_destroy (&b->cond);
  pthread_mutex_destroy (&b->lock);
  free (b);
}
