/* cdp serve: keeping a served task's points in its archive
 * (recovery/archive/archive.h), in the background.
 *
 * One thread per served task that has an archive (task.json "archive";
 * task set starts, changes or stops it live).  Every few seconds it
 * looks at the task's points here and finds those due:
 *   - the newest base point (of every disk), when the newest point this
 *     store archived of the task is from an earlier UTC day than it;
 *   - every lock and bookmark not archived yet, while it can be read.
 * It pushes them oldest first under the task's --archive-bandwidth,
 * then prunes the points this store archived of the task by the keep
 * policy (archive_keep_select; locks and bookmarks are pinned), and at
 * most once a day per location collects the archive's garbage.  A
 * failure is retried after a backoff that doubles up to 5 minutes.  A
 * serve that was killed mid-push leaves chunks and no point: the next
 * one finds the point due again and uploads only what is missing.
 *
 * It reads the points as the other threads of serve do: the receiver's
 * index (one LMDB environment per process), a journal reader and a copy
 * of the base point catalog of its own.  Retention may remove a base
 * point while it is read: its file stays readable while open.
 *
 * What it does is in TASK/archive.json (written without syncs: a
 * snapshot for `cdp status`, like run/state.json).  Stopping cancels a
 * push in progress (archive_push's cancel), which leaves no point.
 */
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/daemon/daemon.h"
#include "cdp/daemon/archiver-internal.h"
#include "common/error.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"
#include "recovery/archive/archive.h"
#include "recovery/history/fold.h"

#define SEC 1000000000LL
#define CHECK_NS (5 * SEC)            /* a look at the task's points */
#define REFRESH_NS (600 * SEC)        /* the archive's listing at least */
#define BACKOFF_FIRST_NS (5 * SEC)
#define BACKOFF_MAX_NS (300 * SEC)
#define GC_EVERY_NS (86400 * SEC)
#define GC_GRACE_NS (600 * SEC)
#define STATE_NS SEC                  /* archive.json during a push */

struct archiver {
  struct task *t;
  struct receiver *rx;
  char *store;                      /* the store's real path */
  char host[256];
  pthread_t thread;
  bool running;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  /* Under lock. */
  struct task_archive cfg;
  bool stop, woken;
  const char *state;                /* "idle", "pushing", "failed" */
  char error[512];
  int64_t newest_ns;                /* of this store's points; 0: none */
  size_t points;
  int64_t oldest_due_ns;            /* 0: nothing due; -1: not known */
  int64_t push_time_ns;
  uint64_t push_done, push_total;
  int64_t gc_ns;                    /* the last collection (this serve) */
  int64_t saved_mono;
  /* The thread's own. */
  volatile int cancel;
  struct archive *a;
  struct journal_reader *jr;
  time_vector archived;             /* this store's points of the task */
  time_vector pruned_pinned;        /* the pinned times of the last prune */
  bool pruned;                      /* a prune ran since the thread began */
  bool listed;                      /* archived is the archive's */
  int64_t listed_mono;
};

/* serve is stopping: every push ends now (archiver_stop_all). */
static atomic_bool all_stop;

/* The last collection of each location by this serve: at most one a day. */
struct gc_seen {
  char *location;
  int64_t ns;
};
DEFINE_VECTOR_TYPE (gc_vector, struct gc_seen)
static pthread_mutex_t gc_lock = PTHREAD_MUTEX_INITIALIZER;
static gc_vector gcs;

/* ---- TASK/archive.json ------------------------------------------------- */

/* Write what the archiver does now (caller holds lock). */
static void
state_save (struct archiver *ar)
{
  json_object *o = json_object_new_object ();
  char *path = task_path (ar->t, "archive.json");

  jf_add (o, "pid", json_object_new_int (getpid ()));
  jf_add (o, "updated_ns", json_object_new_int64 (time_now_ns ()));
  jf_add (o, "location", json_object_new_string (ar->cfg.location
                                                 ? ar->cfg.location : ""));
  jf_add (o, "state", json_object_new_string (ar->state));
  jf_add (o, "error", json_object_new_string (ar->error));
  jf_add (o, "newest_ns", json_object_new_int64 (ar->newest_ns));
  jf_add (o, "points", json_object_new_uint64 (ar->points));
  jf_add (o, "oldest_due_ns", json_object_new_int64 (ar->oldest_due_ns));
  jf_add (o, "gc_ns", json_object_new_int64 (ar->gc_ns));
  if (ar->push_time_ns) {
    json_object *p = json_object_new_object ();
    jf_add (p, "time_ns", json_object_new_int64 (ar->push_time_ns));
    jf_add (p, "done", json_object_new_uint64 (ar->push_done));
    jf_add (p, "total", json_object_new_uint64 (ar->push_total));
    jf_add (o, "pushing", p);
  }
  if (path)
    jf_save_volatile (path, o, ARCHIVE_STATE_VERSION, 0644);
  ar->saved_mono = time_mono_ns ();
  free (path);
  json_object_put (o);
}

static void
set_state (struct archiver *ar, const char *state, const char *error)
{
  pthread_mutex_lock (&ar->lock);
  if (error == NULL && strcmp (ar->state, "failed") == 0 &&
      strcmp (state, "failed") != 0)
    log_msg ("task %s: archive %s reached again", ar->t->name,
             ar->cfg.location);
  ar->state = state;
  if (error)
    snprintf (ar->error, sizeof ar->error, "%s", error);
  else
    *ar->error = '\0';
  state_save (ar);
  pthread_mutex_unlock (&ar->lock);
}

/* A collection of archive.json of an earlier serve, for gc_ns. */
static int64_t
state_gc_ns (const struct archiver *ar)
{
  char *path = task_path (ar->t, "archive.json"), *loc = NULL;
  json_object *o = NULL;
  int64_t ns = 0;

  if (path && jf_load (path, ARCHIVE_STATE_VERSION, &o, NULL) == 0 &&
      (loc = json_str (o, "location")) && ar->cfg.location &&
      strcmp (loc, ar->cfg.location) == 0)
    ns = json_int (o, "gc_ns", 0);
  free (loc);
  json_object_put (o);
  free (path);
  return ns;
}

/* ---- the archive -------------------------------------------------------- */

static int
archive_ensure (struct archiver *ar, const char *location)
{
  if (ar->a && strcmp (archive_location (ar->a), location) == 0)
    return 0;
  archive_close (ar->a);
  ar->a = NULL;
  ar->listed = false;
  return archive_open (location, true, &ar->a);
}

/* This store's points of the task in the archive (listing, oldest
 * first) into ar->archived, and what status shows of them. */
static int
list_ours (struct archiver *ar, archive_point_vector *ours)
{
  archive_point_vector all = empty_vector;
  int e = archive_points (ar->a, ar->t->name, &all);

  ar->archived.len = 0;
  for (size_t i = 0; e == 0 && i < all.len; i++) {
    struct archive_point *p = &all.ptr[i];
    if (!task_archive_ours (ar->host, ar->store, p->host, p->store) ||
        p->time_ns < ar->t->created_ns)
      continue;                     /* another store's, or a task of this
                                       name deleted with --keep-archive */
    if (time_vector_append (&ar->archived, p->time_ns) < 0 ||
        (ours && archive_point_vector_append (ours, *p) < 0)) {
      e = -ENOMEM;
      break;
    }
    if (ours)
      memset (p, 0, sizeof *p);     /* moved into ours */
  }
  archive_points_reset (&all);
  if (e < 0)
    return e;
  ar->listed = true;
  ar->listed_mono = time_mono_ns ();
  pthread_mutex_lock (&ar->lock);
  ar->points = ar->archived.len;
  ar->newest_ns = 0;
  for (size_t i = 0; i < ar->archived.len; i++)
    if (ar->archived.ptr[i] > ar->newest_ns)
      ar->newest_ns = ar->archived.ptr[i];
  pthread_mutex_unlock (&ar->lock);
  return 0;
}

static int
push_progress (void *opaque, uint64_t done, uint64_t total)
{
  struct archiver *ar = opaque;

  pthread_mutex_lock (&ar->lock);
  ar->push_done = done;
  ar->push_total = total;
  if (time_mono_ns () - ar->saved_mono >= STATE_NS)
    state_save (ar);
  pthread_mutex_unlock (&ar->lock);
  return atomic_load (&all_stop) ? 1 : 0;
}

/* Push the point d of every disk. */
static int
push_one (struct archiver *ar, struct task_view *v, const struct due_point *d,
          uint64_t bandwidth)
{
  size_t n = v->task->disks.len, opened = 0;
  struct point *pts = calloc (n + 1, sizeof *pts);
  struct archive_push_disk *pd = calloc (n + 1, sizeof *pd);
  struct archive_push_stats st = { 0 };
  char tb[64], nb[32];
  int e = pts && pd ? 0 : -ENOMEM;

  format_time (d->time_ns, tb, sizeof tb);
  for (size_t i = 0; e == 0 && i < n; i++) {
    const struct task_disk *td = &v->task->disks.ptr[i];
    uint64_t seq;
    if ((e = view_resolve (v, td, d->time_ns, &seq)) != VIEW_POINT) {
      e = cdp_set_error (-ESTALE, "the point at %s of disk %s is no longer "
                         "there", tb, td->name);
      break;
    }
    e = point_open (v->ix, v->jr, &v->cat, td->id,
                    task_disk_size_at (td, seq), seq, &pts[i]);
    if (e == 0) {
      opened++;
      pd[i] = (struct archive_push_disk) { .name = td->name, .p = &pts[i] };
    }
  }
  if (e == 0) {
    struct archive_push o = {
      .task = ar->t->name, .time_ns = d->time_ns, .kind = d->kind,
      .label = *d->label ? d->label : NULL, .store = ar->store,
      .ndisks = n, .disks = pd, .bandwidth = bandwidth,
      .progress = push_progress, .opaque = ar, .cancel = &ar->cancel };
    pthread_mutex_lock (&ar->lock);
    ar->push_time_ns = d->time_ns;
    ar->push_done = 0;
    ar->push_total = 0;
    for (size_t i = 0; i < n; i++)
      ar->push_total += pts[i].size;
    ar->state = "pushing";
    state_save (ar);
    pthread_mutex_unlock (&ar->lock);
    cdp_clear_error ();
    e = archive_push (ar->a, &o, &st);
    pthread_mutex_lock (&ar->lock);
    ar->push_time_ns = 0;
    pthread_mutex_unlock (&ar->lock);
  }
  for (size_t i = 0; i < opened; i++)
    point_close (&pts[i]);
  free (pts);
  free (pd);
  if (e < 0)
    return e;
  format_size (st.new_bytes, nb, sizeof nb);
  log_msg ("task %s: archived the %s point at %s into %s: %llu chunks, "
           "%llu new (%s stored), %llu zero", ar->t->name, d->kind, tb,
           archive_location (ar->a), (unsigned long long) st.chunks,
           (unsigned long long) st.new_chunks, nb,
           (unsigned long long) st.zero_chunks);
  return time_vector_append (&ar->archived, d->time_ns);
}

/* Are the pinned times (sorted) not those of the last prune? */
static bool
pinned_changed (struct archiver *ar, const time_vector *pinned)
{
  return !ar->pruned || pinned->len != ar->pruned_pinned.len ||
    (pinned->len > 0 && memcmp (pinned->ptr, ar->pruned_pinned.ptr,
                                pinned->len * sizeof pinned->ptr[0]) != 0);
}

/* Forget this store's points of the task that the keep policy lets go. */
static int
prune (struct archiver *ar, const struct task_archive *cfg,
       const time_vector *pinned)
{
  archive_point_vector ours = empty_vector;
  struct archive_keep k = { cfg->keep_daily, cfg->keep_weekly,
                            cfg->keep_monthly };
  bool *keep = NULL;
  size_t forgot = 0;
  int e = list_ours (ar, &ours);

  if (e == 0 && ours.len > 0 && (keep = calloc (ours.len, sizeof *keep)) == NULL)
    e = -ENOMEM;
  if (e == 0 && ours.len > 0)
    archive_keep_select (ours.ptr, ours.len, &k, pinned->ptr, pinned->len,
                         keep);
  for (size_t i = 0; e == 0 && i < ours.len; i++) {
    char tb[64];
    if (keep[i])
      continue;
    if ((e = archive_point_forget (ar->a, &ours.ptr[i])) < 0)
      break;
    format_time (ours.ptr[i].time_ns, tb, sizeof tb);
    log_msg ("task %s: archived point at %s let go by the keep policy",
             ar->t->name, tb);
    forgot++;
  }
  free (keep);
  archive_points_reset (&ours);
  if (e == 0 && forgot)
    e = list_ours (ar, NULL);
  if (e == 0) {
    ar->pruned_pinned.len = 0;
    for (size_t i = 0; e == 0 && i < pinned->len; i++)
      e = time_vector_append (&ar->pruned_pinned, pinned->ptr[i]);
    ar->pruned = e == 0;
  }
  return e;
}

/* At most once a day per location. */
static int
collect (struct archiver *ar, const char *location)
{
  struct archive_gc_stats st = { 0 };
  int64_t now = time_now_ns (), last = 0;
  char rb[32];
  size_t i;
  int e;

  pthread_mutex_lock (&gc_lock);
  for (i = 0; i < gcs.len && strcmp (gcs.ptr[i].location, location); i++)
    ;
  if (i == gcs.len) {
    struct gc_seen g = { strdup (location), state_gc_ns (ar) };
    if (g.location == NULL || gc_vector_append (&gcs, g) < 0) {
      free (g.location);
      pthread_mutex_unlock (&gc_lock);
      return -ENOMEM;
    }
  }
  last = gcs.ptr[i].ns;
  if (now - last < GC_EVERY_NS) {
    pthread_mutex_unlock (&gc_lock);
    return 0;
  }
  gcs.ptr[i].ns = now;              /* another task of the location waits */
  pthread_mutex_unlock (&gc_lock);
  cdp_clear_error ();
  if ((e = archive_gc (ar->a, GC_GRACE_NS, &ar->cancel, &st)) < 0) {
    pthread_mutex_lock (&gc_lock);
    gcs.ptr[i].ns = last;
    pthread_mutex_unlock (&gc_lock);
    return e;
  }
  pthread_mutex_lock (&ar->lock);
  ar->gc_ns = now;
  pthread_mutex_unlock (&ar->lock);
  format_size (st.removed_bytes, rb, sizeof rb);
  log_msg ("archive %s collected: %llu chunks removed (%s), %llu unused "
           "kept for now", location, (unsigned long long) st.removed, rb,
           (unsigned long long) st.kept_young);
  return 0;
}

/* One look: 0, or -errno with the thread's error set. */
static int
cycle (struct archiver *ar, const struct task_archive *cfg)
{
  due_vector due = empty_vector;
  time_vector pinned = empty_vector;
  struct task_view v;
  bool pushed = false;
  int64_t failed_ns = 0;
  char failed_why[512] = "";
  int e, pe = 0;

  if ((e = archive_ensure (ar, cfg->location)) < 0)
    return e;
  if (!ar->listed || time_mono_ns () - ar->listed_mono >= REFRESH_NS) {
    if ((e = list_ours (ar, NULL)) < 0)
      return e;
  }
  if ((e = archiver_view_begin (ar->t, ar->rx, ar->jr, &v)) < 0)
    return cdp_set_error (e, "cannot read the task's base points: %s",
                          jf_strerror (e));
  e = archiver_due (&v, &ar->archived, &due, &pinned);
  /* Something seems due: the archive's own listing says (another serve
   * of this store may have pushed it before a crash). */
  if (e == 0 && due.len > 0 && time_mono_ns () - ar->listed_mono > CHECK_NS) {
    due.len = pinned.len = 0;
    if ((e = list_ours (ar, NULL)) == 0)
      e = archiver_due (&v, &ar->archived, &due, &pinned);
  }
  pthread_mutex_lock (&ar->lock);
  if (e == 0)                       /* else what was known stays */
    ar->oldest_due_ns = due.len ? due.ptr[0].time_ns : 0;
  pthread_mutex_unlock (&ar->lock);
  /* A point that cannot be archived does not hold back the others: the
   * first failure is the cycle's, once the rest are tried. */
  for (size_t i = 0; e == 0 && i < due.len && !ar->cancel; i++) {
    int r = push_one (ar, &v, &due.ptr[i], cfg->bandwidth);
    if (r < 0 && (ar->cancel || atomic_load (&all_stop))) {
      e = r;                        /* stopping: nothing more */
      break;
    }
    if (r == 0)
      pushed = true;
    else if (pe == 0) {
      pe = r;
      failed_ns = due.ptr[i].time_ns;
      snprintf (failed_why, sizeof failed_why, "%s", *cdp_get_error ()
                ? cdp_get_error () : strerror (-r));
    }
    pthread_mutex_lock (&ar->lock);
    ar->oldest_due_ns = pe < 0 ? failed_ns
                        : i + 1 < due.len ? due.ptr[i + 1].time_ns : 0;
    pthread_mutex_unlock (&ar->lock);
  }
  /* After a push, and when a lock or bookmark came or went (an unlock
   * lets its point go). */
  if (e == 0 && !ar->cancel && (pushed || pinned_changed (ar, &pinned)))
    e = prune (ar, cfg, &pinned);
  if (e == 0 && !ar->cancel)
    e = collect (ar, cfg->location);
  archiver_view_end (&v);
  due_vector_reset (&due);
  time_vector_reset (&pinned);
  if (e == 0 && pe < 0)
    e = cdp_set_error (pe, "%s", failed_why);
  return e;
}

/* ---- the thread ----------------------------------------------------------- */

/* Sleep ns (monotonic) or until woken or stopped; true if stopped. */
static bool
pause_for (struct archiver *ar, int64_t ns)
{
  struct timespec until = time_deadline (CLOCK_MONOTONIC, ns);
  bool stop;

  pthread_mutex_lock (&ar->lock);
  while (!ar->stop && !ar->woken &&
         pthread_cond_timedwait (&ar->cond, &ar->lock, &until) != ETIMEDOUT)
    ;
  ar->woken = false;
  stop = ar->stop;
  pthread_mutex_unlock (&ar->lock);
  return stop;
}

static bool
stopped (struct archiver *ar)
{
  bool stop;

  pthread_mutex_lock (&ar->lock);
  stop = ar->stop;
  pthread_mutex_unlock (&ar->lock);
  return stop || ar->cancel || atomic_load (&all_stop);
}

static void *
archiver_thread (void *opaque)
{
  struct archiver *ar = opaque;
  int64_t backoff = 0;
  char why[512];

  while (!stopped (ar)) {
    struct task_archive cfg;
    int e;
    pthread_mutex_lock (&ar->lock);
    e = task_archive_copy (&cfg, &ar->cfg);
    pthread_mutex_unlock (&ar->lock);
    if (e == 0 && cfg.location)
      e = cycle (ar, &cfg);
    task_archive_free (&cfg);
    if (stopped (ar))
      break;
    if (e < 0) {
      snprintf (why, sizeof why, "%s", *cdp_get_error () ? cdp_get_error ()
                : strerror (-e));
      backoff = backoff == 0 ? BACKOFF_FIRST_NS
        : backoff >= BACKOFF_MAX_NS / 2 ? BACKOFF_MAX_NS : backoff * 2;
      if (strcmp (ar->error, why) != 0)
        log_msg ("task %s: archive: %s (tried again in %llds)", ar->t->name,
                 why, (long long) (backoff / SEC));
      set_state (ar, "failed", why);
      if (pause_for (ar, backoff))
        break;
      continue;
    }
    backoff = 0;
    set_state (ar, "idle", NULL);
    if (pause_for (ar, CHECK_NS))
      break;
  }
  return NULL;
}

static int
thread_start (struct archiver *ar)
{
  char *dir = task_path (ar->t, "journal");
  int e = dir ? journal_reader_open (dir, &ar->jr) : -ENOMEM;

  free (dir);
  if (e < 0)
    return e;
  ar->stop = ar->woken = false;
  ar->cancel = 0;
  ar->listed = false;
  ar->state = "idle";
  *ar->error = '\0';
  ar->oldest_due_ns = -1;           /* until the archive is read */
  ar->newest_ns = 0;
  ar->points = 0;
  ar->gc_ns = state_gc_ns (ar);
  if ((e = -pthread_create (&ar->thread, NULL, archiver_thread, ar)) < 0) {
    journal_reader_close (ar->jr);
    ar->jr = NULL;
    return e;
  }
  ar->running = true;
  log_msg ("task %s: archiving into %s", ar->t->name, ar->cfg.location);
  return 0;
}

static void
thread_stop (struct archiver *ar)
{
  if (!ar->running)
    return;
  pthread_mutex_lock (&ar->lock);
  ar->stop = true;
  ar->cancel = 1;                   /* a push in progress ends now */
  pthread_cond_broadcast (&ar->cond);
  pthread_mutex_unlock (&ar->lock);
  pthread_join (ar->thread, NULL);
  ar->running = false;
  archive_close (ar->a);
  ar->a = NULL;
  journal_reader_close (ar->jr);
  ar->jr = NULL;
  time_vector_reset (&ar->archived);
  time_vector_reset (&ar->pruned_pinned);
  ar->pruned = false;
}

/* The store's real path from the task's directory (STORE/tasks/NAME). */
static char *
store_of (const struct task *t)
{
  char *real = realpath (t->dir, NULL), *slash;

  for (int i = 0; real && i < 2; i++)
    if ((slash = strrchr (real, '/')) != NULL && slash != real)
      *slash = '\0';
  return real;
}

int
archiver_start (struct task *t, struct receiver *rx, struct archiver **out)
{
  struct archiver *ar = calloc (1, sizeof *ar);
  int e;

  if (ar == NULL)
    return -ENOMEM;
  ar->t = t;
  ar->rx = rx;
  ar->state = "idle";
  pthread_mutex_init (&ar->lock, NULL);
  pthread_cond_init (&ar->cond, NULL);
  ar->store = store_of (t);
  e = ar->store ? task_archive_copy (&ar->cfg, &t->archive) : -errno;
  if (e == 0 && gethostname (ar->host, sizeof ar->host) < 0)
    e = -errno;
  ar->host[sizeof ar->host - 1] = '\0';
  if (e == 0 && ar->cfg.location)
    e = thread_start (ar);
  if (e < 0) {
    archiver_stop (ar);
    return e;
  }
  *out = ar;
  return 0;
}

int
archiver_set (struct archiver *ar, const struct task_archive *a)
{
  struct task_archive copy;
  bool moved;
  int e;

  if (task_archive_same (&ar->cfg, a))
    return 0;
  if ((e = task_archive_copy (&copy, a)) < 0)
    return e;
  moved = (a->location == NULL) != (ar->cfg.location == NULL) ||
    (a->location && strcmp (a->location, ar->cfg.location) != 0);
  if (moved)
    thread_stop (ar);
  pthread_mutex_lock (&ar->lock);
  task_archive_free (&ar->cfg);
  ar->cfg = copy;
  ar->woken = true;
  pthread_cond_broadcast (&ar->cond);
  pthread_mutex_unlock (&ar->lock);
  if (moved && a->location == NULL) {
    char *path = task_path (ar->t, "archive.json");
    if (path)
      unlink (path);
    free (path);
    log_msg ("task %s: no longer archived", ar->t->name);
  }
  if (!moved)
    log_msg ("task %s: archive policy read again (task set): keep %u daily, "
             "%u weekly, %u monthly; at most %llu bytes a second",
             ar->t->name, a->keep_daily, a->keep_weekly, a->keep_monthly,
             (unsigned long long) a->bandwidth);
  return moved && a->location ? thread_start (ar) : 0;
}

void
archiver_stop_all (void)
{
  atomic_store (&all_stop, true);
}

void
archiver_stop (struct archiver *ar)
{
  if (ar == NULL)
    return;
  thread_stop (ar);
  task_archive_free (&ar->cfg);
  free (ar->store);
  pthread_cond_destroy (&ar->cond);
  pthread_mutex_destroy (&ar->lock);
  free (ar);
}
