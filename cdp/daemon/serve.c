/* cdp serve: run the receivers of every task in the store, and in QMP
 * and libvirt mode drive each disk's mirror job.  One serve per store
 * (STORE/serve.lock, serve-store.c); it takes up tasks created while it
 * runs and lets go of deleted ones, leaving the others alone.
 *
 * Threads: the main thread waits for SIGINT/SIGTERM, looks at the
 * store's tasks once a second (takes up, lets go, tries again: "the
 * main thread" below) and resumes rapid recoveries that were
 * interrupted (recover-watch.c); the heartbeat thread writes each served
 * task's run/state.json once a second; a task whose mode has a protector
 * (cdp/hv/hv.h: QMP mode's owns its QMP connection and mirror jobs,
 * libvirt mode's its libvirt connection and block copy jobs) has that
 * thread, which reports through the calls of protect.h defined here;
 * each receiver has its journal thread, indexer thread and NBD threads.
 *
 * Fidelity: a disk's history is exact only while its mirror job is READY.
 * Before a job starts, whenever one breaks and when we stop, a GAP record
 * is journaled; when the job reports READY a RESUME record is.  Points
 * between a GAP and the next RESUME are never offered as exact.  A serve
 * that was killed journaled no GAP: the next one journals it after the
 * fact, naming the instant the dead one was last known alive (its last
 * record, or its last run/state.json), from which no point is exact.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/daemon/daemon.h"
#include "cdp/hv/protect.h"
#include "cdp/hv/hv.h"
#include "common/error.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"

#define SEC 1000000000LL

static const char copying_state[] = "copying";

static atomic_bool stopping;

bool
serve_stopping (const struct served *s)
{
  return atomic_load (&stopping) || atomic_load (&s->stopping);
}

void
protect_state (struct served *s, size_t i, const char *state,
               const char *reason)
{
  pthread_mutex_lock (&s->lock);
  if (s->ds[i].state != state || strcmp (s->ds[i].reason, reason) != 0) {
    bool quiet = s->ds[i].state == state && state == copying_state;
    s->ds[i].state = state;
    snprintf (s->ds[i].reason, sizeof s->ds[i].reason, "%s", reason);
    if (!quiet) {
      s->ds[i].since_ns = time_now_ns ();
      log_msg ("task %s disk %s: %s%s%s", s->t->name, s->t->disks.ptr[i].name,
               state, *reason ? ": " : "", reason);
    }
  }
  if (state != copying_state)
    s->ds[i].copy_done = s->ds[i].copy_total = 0;
  pthread_mutex_unlock (&s->lock);
}

static void
mark (struct served *s, size_t i, uint16_t type, const char *why,
      int64_t since_ns)
{
  int e = receiver_event (s->rx, type, s->t->disks.ptr[i].id, why, since_ns);

  if (e < 0)
    log_msg ("task %s disk %s: cannot journal %s: %s", s->t->name,
             s->t->disks.ptr[i].name, type == JOURNAL_GAP ? "gap" : "resume",
             strerror (-e));
  else
    s->ds[i].in_gap = type == JOURNAL_GAP;
}

void
protect_starting (struct served *s, size_t i)
{
  /* From here until READY the receiver gets a copy, not history. */
  receiver_copying (s->rx, s->t->disks.ptr[i].id, true);
  if (!s->ds[i].in_gap)
    mark (s, i, JOURNAL_GAP, "protection starting: initial copy", 0);
  protect_state (s, i, copying_state, "initial full copy");
}

void
protect_ready (struct served *s, size_t i)
{
  receiver_copying (s->rx, s->t->disks.ptr[i].id, false);
  mark (s, i, JOURNAL_RESUME, "mirror READY", 0);
  protect_state (s, i, "protected", "");
}

void
protect_lost (struct served *s, size_t i, const char *reason,
              int64_t since_ns)
{
  if (!s->ds[i].in_gap)
    mark (s, i, JOURNAL_GAP, reason, since_ns);
  protect_state (s, i, "not protected", reason);
}

void
protect_waiting (struct served *s, size_t i, const char *reason)
{
  protect_state (s, i, "not protected", reason);
}

void
protect_progress (struct served *s, size_t i, uint64_t done, uint64_t total)
{
  char why[64];

  if (total == 0)
    return;
  snprintf (why, sizeof why, "initial full copy, %u%%",
            (unsigned) (done * 100 / total));
  protect_state (s, i, copying_state, why);
  pthread_mutex_lock (&s->lock);
  s->ds[i].copy_done = done;
  s->ds[i].copy_total = total;
  pthread_mutex_unlock (&s->lock);
}

/* Ingest rate: bytes received per second, over the last 5 seconds. */
static void
add_rate (struct disk_state *ds, json_object *d, uint64_t bytes)
{
  int64_t now = time_now_ns ();

  if (ds->rate_ns == 0 || bytes < ds->rate_bytes) {
    ds->rate_ns = now;
    ds->rate_bytes = bytes;
  }
  else if (now - ds->rate_ns >= 5000000000LL) {
    ds->rate = (double) (bytes - ds->rate_bytes) * 1e9 / (double) (now - ds->rate_ns);
    ds->rate_ns = now;
    ds->rate_bytes = bytes;
  }
  jf_add (d, "ingest_bytes_per_s", json_object_new_double (ds->rate));
}

static void
write_state (struct served *s)
{
  json_object *o = json_object_new_object (), *disks = json_object_new_array ();
  struct journal_stats js;
  int64_t lag;
  int e;

  journal_stats (receiver_journal (s->rx), &js);
  jf_add (o, "pid", json_object_new_int (getpid ()));
  jf_add (o, "updated_ns", json_object_new_int64 (time_now_ns ()));
  /* Read after the time above: task set, once serve said it applied a
   * change, waits for a heartbeat newer than that to show it. */
  jf_add (o, "rpo_ns", json_object_new_int64 (task_policy (s->t).rpo));
  /* One journal per task: every disk waits on the same syncs. */
  lag = receiver_durability_lag (s->rx);
  pthread_mutex_lock (&s->lock);
  for (size_t i = 0; i < s->t->disks.len; i++) {
    json_object *d = json_object_new_object ();
    uint64_t writes = 0, bytes = 0, copied = 0, kept = 0;
    int64_t last = 0;
    receiver_stats (s->rx, s->t->disks.ptr[i].id, &writes, &bytes, &last);
    jf_add (d, "name", json_object_new_string (s->t->disks.ptr[i].name));
    jf_add (d, "state", json_object_new_string (s->ds[i].state));
    jf_add (d, "reason", json_object_new_string (s->ds[i].reason));
    jf_add (d, "since_ns", json_object_new_int64 (s->ds[i].since_ns));
    jf_add (d, "writes", json_object_new_int64 ((int64_t) writes));
    jf_add (d, "bytes", json_object_new_int64 ((int64_t) bytes));
    jf_add (d, "last_write_ns", json_object_new_int64 (last));
    jf_add (d, "durability_lag_ns", json_object_new_int64 (lag));
    add_rate (&s->ds[i], d, bytes);
    receiver_copy_stats (s->rx, s->t->disks.ptr[i].id, &copied, &kept);
    jf_add (d, "copy_received_bytes", json_object_new_int64 ((int64_t) copied));
    jf_add (d, "copy_kept_bytes", json_object_new_int64 ((int64_t) kept));
    if (s->ds[i].copy_total) {
      jf_add (d, "copy_done", json_object_new_int64 ((int64_t) s->ds[i].copy_done));
      jf_add (d, "copy_total", json_object_new_int64 ((int64_t) s->ds[i].copy_total));
    }
    jf_append (disks, d);
  }
  if (*s->unprotected)
    jf_add (o, "unprotected_disks", json_object_new_string (s->unprotected));
  pthread_mutex_unlock (&s->lock);
  jf_add (o, "disks", disks);
  if ((e = served_save (s->t, o, false)) < 0 && !s->state_failed)
    log_msg ("task %s: cannot write run/state.json: %s", s->t->name,
             strerror (-e));
  s->state_failed = e < 0;
  json_object_put (o);
}

/* The last heartbeat of a serve that stopped: 'cdp status' shows the
 * task not served since then, and the next serve knows it stopped
 * cleanly. */
static void
write_stopped (struct served *s)
{
  json_object *o = json_object_new_object ();
  int64_t now = time_now_ns ();

  jf_add (o, "pid", json_object_new_int (getpid ()));
  jf_add (o, "updated_ns", json_object_new_int64 (now));
  jf_add (o, "stopped_ns", json_object_new_int64 (now));
  jf_add (o, "disks", json_object_new_array ());
  served_save (s->t, o, true);
  json_object_put (o);
}

/* The last heartbeat (run/state.json) of a serve that did not stop
 * cleanly (a clean one says "stopped_ns"), or 0. */
static int64_t
stale_heartbeat (const struct task *t)
{
  json_object *o = NULL, *v;
  int64_t hb = 0;

  if (served_load (t, &o) == 0 &&
      !json_object_object_get_ex (o, "stopped_ns", &v) &&
      json_object_object_get_ex (o, "updated_ns", &v) &&
      json_object_is_type (v, json_type_int))
    hb = json_object_get_int64 (v);
  json_object_put (o);
  return hb;
}

/* Where a killed serve left a disk's history without a gap, journal it
 * now, from where that serve was last known alive: at once, not when
 * QEMU is next reached, which may be much later. */
static void
mark_lost_fidelity (struct served *s)
{
  int64_t hb = stale_heartbeat (s->t);
  char buf[64];

  for (size_t i = 0; i < s->t->disks.len; i++) {
    int64_t end = receiver_open_end (s->rx, s->t->disks.ptr[i].id);
    if (end == 0)
      continue;
    if (hb > end)
      end = hb;
    format_time (end, buf, sizeof buf);
    log_msg ("task %s disk %s: the last cdp serve did not stop cleanly; "
             "no point is exact from %s until the mirror is READY again",
             s->t->name, s->t->disks.ptr[i].name, buf);
    mark (s, i, JOURNAL_GAP, "cdp serve did not stop cleanly", end);
  }
}
/* Control thread: `task delete` asks to let the task go; the main
 * thread does it at its next tick. */
static void
ask_release (void *opaque)
{
  struct served *s = opaque;

  atomic_store (&s->release, true);
}

/* Is the serve.lock that fd holds still the task's?  Not when the task
 * directory was deleted (or replaced): a serve that took the lock of a
 * task being deleted must not recreate any of it. */
static bool
lock_is_current (const struct task *t, int fd)
{
  char *lock = task_path (t, "serve.lock");
  struct stat a, b;
  bool current = true;

  if (lock && fstat (fd, &a) == 0) {
    if (stat (lock, &b) < 0)
      current = errno != ENOENT && errno != ENOTDIR;
    else
      current = a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  }
  free (lock);
  return current;
}

/* Take the task for this serve: its flock first, and nothing of the
 * task (run/, sockets, state.json, locks) is touched before it is ours.
 * -ENOENT: the task was deleted meanwhile. */
static int
take_task (struct served *s, const char *name)
{
  char *lock = task_path (s->t, "serve.lock"), *run, why[1024];
  int e;

  if (lock == NULL)
    return fail ("task %s: %s", name, strerror (ENOMEM));
  s->lockfd = open (lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  free (lock);
  if (s->lockfd < 0)
    return errno == ENOENT ? -ENOENT
      : fail ("task %s: cannot open serve.lock: %s", name, strerror (errno));
  if (flock (s->lockfd, LOCK_EX | LOCK_NB) < 0) {
    close (s->lockfd);
    s->lockfd = -1;
    return fail ("task %s: another process holds its serve.lock (task "
                 "delete, or a cdp serve of this store by another path)",
                 name);
  }
  if (!lock_is_current (s->t, s->lockfd))
    return -ENOENT;
  if (task_files_check (s->t, why, sizeof why) < 0)
    return fail ("task %s refused: %s", name, why);
  run = task_path (s->t, "run");
  /* Not mkdir_p: a task directory deleted meanwhile is not made again. */
  e = run == NULL ? -ENOMEM : mkdir (run, 0700) < 0 && errno != EEXIST
    ? -errno : 0;
  free (run);
  if (e == -ENOENT)
    return e;
  if (e < 0)
    return fail ("task %s: cannot create run/: %s", name, strerror (-e));
  return 0;
}

/* 0; EXIT_FAIL, having said why (fail); -ENOENT: no such task (said
 * nothing). */
static int
serve_task (const char *store, const char *name, struct served *s)
{
  char why[512];
  int e;

  s->lockfd = -1;
  pthread_mutex_init (&s->lock, NULL);
  if ((e = task_load (store, name, &s->t)) == -ENOENT)
    return e;
  if (e < 0)
    return task_load_fail (store, name, e);
  if ((e = take_task (s, name)) != 0)
    return e;
  s->ds = calloc (s->t->disks.len, sizeof *s->ds);
  if (s->ds == NULL && s->t->disks.len > 0)
    return fail ("task %s: %s", name, strerror (ENOMEM));
  for (size_t i = 0; i < s->t->disks.len; i++)
    s->ds[i] = (struct disk_state) {
      .state = hv_of (s->t)->initial_state,
      .since_ns = time_now_ns () };
  if (receiver_start (s->t, &s->rx) < 0)
    return EXIT_FAIL;
  if ((e = maint_start (s->t, s->rx, &s->maint)) < 0)
    return fail ("task %s: cannot start base point maintenance: %s", name,
                 jf_strerror (e));
  if (s->maint && maint_quarantined (s->maint))
    log_msg ("task %s: %u base point image%s not in the catalog moved to "
             "%s/base/quarantine/ (see docs/OPERATOR.md)", name,
             maint_quarantined (s->maint),
             maint_quarantined (s->maint) == 1 ? "" : "s", s->t->dir);
  if ((e = control_start (s->t, s->rx, s->maint, &s->control)) < 0)
    return fail ("task %s: cannot open the control socket: %s", name,
                 strerror (-e));
  control_on_release (s->control, ask_release, s);
  control_on_disk (s->control, protect_request, s);
  /* A task set that found no control socket asked nobody: what it
   * saved before the socket listened is read now, what it saves later
   * it asks for. */
  if (control_reload (s->control, why, sizeof why) < 0)
    log_msg ("task %s: %s; it runs by the policies read when it started",
             name, why);
  log_msg ("task %s: receiver on %s", name,
           s->t->listen ? s->t->listen : receiver_socket (s->rx));
  if (hv_of (s->t)->protector) {
    mark_lost_fidelity (s);
    if (pthread_create (&s->protector, NULL, hv_of (s->t)->protector, s) != 0)
      return fail ("task %s: cannot start protector thread", name);
    s->has_protector = true;
  }
  return 0;
}

/* Stop serving the task (what serve_task started of it) and free s. */
static void
unserve (struct served *s)
{
  bool was_served = s->rx != NULL;

  if (s->has_protector)
    pthread_join (s->protector, NULL);
  control_stop (s->control);
  maint_stop (s->maint);
  receiver_stop (s->rx);
  if (was_served)                   /* only a serve that held the task */
    write_stopped (s);
  if (s->lockfd >= 0)
    close (s->lockfd);
  free (s->ds);
  task_free (s->t);
  pthread_mutex_destroy (&s->lock);
  free (s);
}

/* ---- the heartbeat thread ---------------------------------------------
 *
 * Writes each served task's run/state.json once a second, on a thread
 * of its own so that the main thread may take a while taking a task up
 * (opening its journal, catching its index up) or letting one go (ending
 * its jobs) without the other tasks' heartbeats going stale. */

DEFINE_VECTOR_TYPE (served_vector, struct served *)

struct heartbeat {
  pthread_mutex_t lock;             /* served, stop */
  pthread_cond_t cond;              /* stop */
  served_vector served;
  bool stop;
  pthread_t thread;
};

static void *
heartbeat_thread (void *opaque)
{
  struct heartbeat *hb = opaque;

  pthread_mutex_lock (&hb->lock);
  while (!hb->stop) {
    struct timespec next = time_deadline (CLOCK_MONOTONIC, SEC);
    for (size_t i = 0; i < hb->served.len; i++)
      write_state (hb->served.ptr[i]);
    while (!hb->stop &&
           pthread_cond_timedwait (&hb->cond, &hb->lock, &next) != ETIMEDOUT)
      ;
  }
  pthread_mutex_unlock (&hb->lock);
  return NULL;
}

static int
heartbeat_start (struct heartbeat *hb)
{
  pthread_condattr_t ca;
  int e;

  pthread_mutex_init (&hb->lock, NULL);
  pthread_condattr_init (&ca);
  pthread_condattr_setclock (&ca, CLOCK_MONOTONIC);
  pthread_cond_init (&hb->cond, &ca);
  pthread_condattr_destroy (&ca);
  hb->served = (served_vector) empty_vector;
  hb->stop = false;
  e = pthread_create (&hb->thread, NULL, heartbeat_thread, hb);
  return -e;
}

static void
heartbeat_stop (struct heartbeat *hb)
{
  pthread_mutex_lock (&hb->lock);
  hb->stop = true;
  pthread_cond_signal (&hb->cond);
  pthread_mutex_unlock (&hb->lock);
  pthread_join (hb->thread, NULL);
  served_vector_reset (&hb->served);
  pthread_cond_destroy (&hb->cond);
  pthread_mutex_destroy (&hb->lock);
}

static int
heartbeat_add (struct heartbeat *hb, struct served *s)
{
  int e;

  pthread_mutex_lock (&hb->lock);
  e = served_vector_append (&hb->served, s);
  pthread_mutex_unlock (&hb->lock);
  return e;
}

/* Once this returns, the heartbeat thread no longer touches s. */
static void
heartbeat_remove (struct heartbeat *hb, struct served *s)
{
  pthread_mutex_lock (&hb->lock);
  for (size_t i = 0; i < hb->served.len; i++)
    if (hb->served.ptr[i] == s) {
      served_vector_remove (&hb->served, i);
      break;
    }
  pthread_mutex_unlock (&hb->lock);
}

/* ---- the main thread: which tasks are served ---------------------------
 *
 * Every tick (a second) the main thread looks at the store's tasks/
 * (or, for `cdp serve NAME...`, at the tasks named): a task it does not
 * serve yet is taken up, without touching the others; one it cannot
 * serve is said why once (again only when the reason changes) and tried
 * again after a delay that doubles up to a minute, or at the next tick
 * once its directory or task.json changed (the operator fixed it).  A
 * task `task delete` asks for (control socket) or whose directory went
 * away is let go, and one whose protector added a disk to it (task.json)
 * is let go and taken up again at once. */

#define RETRY_FIRST_NS (2 * SEC)
#define RETRY_MAX_NS (60 * SEC)

/* A task of the store as the main thread knows it. */
struct slot {
  char *name;
  struct served *s;                 /* served, or NULL */
  char why[1024];                   /* not served: why ("" : not refused) */
  int64_t since_ns;                 /* served or refused since */
  int64_t retry_ns;                 /* not served: next try (monotonic) */
  int64_t backoff_ns;
  struct timespec dir_mtime, json_mtime;  /* at the last try */
  bool released;                    /* let go for task delete */
  bool listed;                      /* in the last look at the store */
};
DEFINE_VECTOR_TYPE (slot_vector, struct slot)

struct daemon {
  const char *store;
  bool named;                       /* cdp serve NAME...: those only */
  slot_vector slots;
  struct heartbeat hb;
  int lockfd;                       /* STORE/serve.lock */
  int64_t started_ns;
  bool dirty;                       /* serve.json to rewrite */
  char list_why[256];               /* tasks/ could not be read: logged */
};

static struct slot *
slot_find (struct daemon *d, const char *name)
{
  for (size_t i = 0; i < d->slots.len; i++)
    if (strcmp (d->slots.ptr[i].name, name) == 0)
      return &d->slots.ptr[i];
  return NULL;
}

static int
slot_add (struct daemon *d, const char *name)
{
  struct slot sl = { .name = strdup (name) };
  int e;

  if (sl.name == NULL)
    return -ENOMEM;
  if ((e = slot_vector_append (&d->slots, sl)) < 0)
    free (sl.name);
  d->dirty = true;
  return e;
}

/* The mtimes of the task's directory and task.json: a change is a
 * reason to try a refused task again at once. */
static void
task_mtimes (const struct daemon *d, const char *name, struct timespec *dir,
             struct timespec *json)
{
  char path[4096];
  struct stat st;

  memset (dir, 0, sizeof *dir);
  memset (json, 0, sizeof *json);
  snprintf (path, sizeof path, "%s/tasks/%s", d->store, name);
  if (stat (path, &st) == 0)
    *dir = st.st_mtim;
  snprintf (path, sizeof path, "%s/tasks/%s/task.json", d->store, name);
  if (stat (path, &st) == 0)
    *json = st.st_mtim;
}

/* Look at the store's tasks: new ones get a slot; listed says which
 * are there.  A store that cannot be read changes nothing. */
static void
scan (struct daemon *d)
{
  string_vector names = empty_vector;
  int e;

  if (d->named) {
    for (size_t i = 0; i < d->slots.len; i++)
      d->slots.ptr[i].listed = true;
    return;
  }
  if ((e = task_list (d->store, &names)) < 0) {
    char why[256];
    snprintf (why, sizeof why, "%s", strerror (-e));
    if (strcmp (why, d->list_why) != 0)
      log_msg ("cannot read the tasks of store %s: %s; it is looked at "
               "again every second", d->store, why);
    snprintf (d->list_why, sizeof d->list_why, "%s", why);
    for (size_t i = 0; i < d->slots.len; i++)
      d->slots.ptr[i].listed = true;
    return;
  }
  *d->list_why = '\0';
  for (size_t i = 0; i < d->slots.len; i++)
    d->slots.ptr[i].listed = false;
  for (size_t i = 0; i < names.len; i++) {
    struct slot *sl = names.ptr[i] ? slot_find (d, names.ptr[i]) : NULL;
    if (names.ptr[i] == NULL)
      continue;                     /* out of memory: the next look */
    if (sl)
      sl->listed = true;
    else if (slot_add (d, names.ptr[i]) == 0)
      d->slots.ptr[d->slots.len - 1].listed = true;
    free (names.ptr[i]);
  }
  string_vector_reset (&names);
}

/* "task NAME: why" and "task NAME refused: why" as "why". */
static const char *
strip_name (const char *line, const char *name)
{
  size_t n = strlen (name);

  if (strncmp (line, "task ", 5) != 0 || strncmp (line + 5, name, n) != 0)
    return line;
  line += 5 + n;
  if (strncmp (line, ": ", 2) == 0)
    return line + 2;
  if (strncmp (line, " refused: ", 10) == 0)
    return line + 10;
  return line - 5 - n;
}

/* The task could not be served: say why if it is new, try again later. */
static void
refused (struct daemon *d, struct slot *sl, const char *line, bool quiet)
{
  const char *why = *line ? strip_name (line, sl->name)
    : "it could not be started (see the lines above)";
  int64_t now = time_mono_ns ();

  sl->backoff_ns = sl->backoff_ns == 0 || quiet ? RETRY_FIRST_NS
    : sl->backoff_ns >= RETRY_MAX_NS / 2 ? RETRY_MAX_NS : sl->backoff_ns * 2;
  sl->retry_ns = now + sl->backoff_ns;
  d->dirty = true;                  /* serve.json: the next try */
  if (quiet || strcmp (why, sl->why) == 0)
    return;
  log_msg ("task %s refused: %s (tried again later)", sl->name, why);
  snprintf (sl->why, sizeof sl->why, "%s", why);
  sl->since_ns = time_now_ns ();
}

/* Try to take the task of sl up.  false: its slot is to go (it is no
 * longer in the store). */
static bool
take_up (struct daemon *d, struct slot *sl, bool started)
{
  struct served *s = calloc (1, sizeof *s);
  char line[1024];
  bool was_refused = *sl->why != '\0';
  int e;

  task_mtimes (d, sl->name, &sl->dir_mtime, &sl->json_mtime);
  if (s == NULL) {
    refused (d, sl, "out of memory", false);
    return true;
  }
  fail_capture (line, sizeof line);
  e = serve_task (d->store, sl->name, s);
  fail_capture (NULL, 0);
  if (e == 0)
    write_state (s);                /* task create waits for it */
  if (e == 0 && (e = heartbeat_add (&d->hb, s)) < 0)
    snprintf (line, sizeof line, "%s", strerror (-e));
  if (e != 0) {
    atomic_store (&s->stopping, true);
    unserve (s);
    if (e == -ENOENT && !d->named)
      return false;                 /* deleted meanwhile */
    if (e == -ENOENT)
      snprintf (line, sizeof line, "no task '%s' in %s", sl->name, d->store);
    /* A task delete that had it let go may hold its lock a while. */
    refused (d, sl, line, sl->released);
    return true;
  }
  sl->s = s;
  sl->since_ns = time_now_ns ();
  *sl->why = '\0';
  sl->backoff_ns = 0;
  if (started || was_refused)
    log_msg ("task %s: taken up%s", sl->name,
             sl->released ? " again (task delete did not delete it)" : "");
  sl->released = false;
  d->dirty = true;
  return true;
}

/* Stop serving one task (its protector ends the mirror jobs, the
 * receiver closes), the others go on; serve.lock is released, which is
 * what `task delete` waits for. */
static void
let_go (struct daemon *d, struct slot *sl, const char *why)
{
  log_msg ("task %s: letting it go (%s): ending its jobs, closing its "
           "receiver", sl->name, why);
  heartbeat_remove (&d->hb, sl->s);
  atomic_store (&sl->s->stopping, true);
  unserve (sl->s);
  sl->s = NULL;
  sl->released = true;
  sl->backoff_ns = 0;
  sl->retry_ns = time_mono_ns () + RETRY_FIRST_NS;
  d->dirty = true;
  log_msg ("task %s: no longer served", sl->name);
}

/* Is sl, not served, to be tried now? */
static bool
due (const struct daemon *d, const struct slot *sl)
{
  int64_t now = time_mono_ns ();
  struct timespec dir, json;

  if (now >= sl->retry_ns)
    return true;
  if (*sl->why == '\0' || now < sl->retry_ns - sl->backoff_ns + RETRY_FIRST_NS)
    return false;
  task_mtimes (d, sl->name, &dir, &json);
  return memcmp (&dir, &sl->dir_mtime, sizeof dir) != 0 ||
         memcmp (&json, &sl->json_mtime, sizeof json) != 0;
}

static void
slot_remove (struct daemon *d, size_t i)
{
  free (d->slots.ptr[i].name);
  slot_vector_remove (&d->slots, i);
  d->dirty = true;
}

/* One look at every task: take up, let go, try again. */
static void
tick (struct daemon *d, bool started)
{
  scan (d);
  for (size_t i = 0; i < d->slots.len; ) {
    struct slot *sl = &d->slots.ptr[i];
    if (sl->s && atomic_load (&sl->s->release))
      let_go (d, sl, "task delete");
    else if (sl->s && atomic_load (&sl->s->retake)) {
      /* The protector added a disk to task.json: serve it as it is. */
      let_go (d, sl, "a disk was added to it; it is taken up again");
      sl->released = false;
      sl->retry_ns = 0;
    }
    else if (sl->s && !lock_is_current (sl->s->t, sl->s->lockfd))
      let_go (d, sl, "its directory is gone");
    if (sl->s)
      recover_watch (d->store, sl->s->t, &sl->s->rw);
    else if (!sl->listed) {
      slot_remove (d, i);
      continue;
    }
    else if (due (d, sl) && !take_up (d, sl, started)) {
      slot_remove (d, i);
      continue;
    }
    i++;
  }
}

/* STORE/serve.json: what this serve does with each task it knows. */
static void
save_state (struct daemon *d, bool stopped)
{
  json_object *o = json_object_new_object (), *tasks = json_object_new_array ();
  int64_t now = time_now_ns (), mono = time_mono_ns ();
  int e;

  jf_add (o, "pid", json_object_new_int (getpid ()));
  jf_add (o, "started_ns", json_object_new_int64 (d->started_ns));
  jf_add (o, "updated_ns", json_object_new_int64 (now));
  if (stopped)
    jf_add (o, "stopped_ns", json_object_new_int64 (now));
  if (d->named) {
    json_object *named = json_object_new_array ();
    for (size_t i = 0; i < d->slots.len; i++)
      jf_append (named, json_object_new_string (d->slots.ptr[i].name));
    jf_add (o, "tasks_named", named);
  }
  for (size_t i = 0; i < d->slots.len && !stopped; i++) {
    const struct slot *sl = &d->slots.ptr[i];
    json_object *t;
    if (sl->s == NULL && *sl->why == '\0')
      continue;                     /* not tried yet, or let go */
    t = json_object_new_object ();
    jf_add (t, "name", json_object_new_string (sl->name));
    jf_add (t, "served", json_object_new_boolean (sl->s != NULL));
    jf_add (t, "since_ns", json_object_new_int64 (sl->since_ns));
    if (sl->s == NULL) {
      jf_add (t, "reason", json_object_new_string (sl->why));
      jf_add (t, "next_try_ns", json_object_new_int64 (
                now + (sl->retry_ns > mono ? sl->retry_ns - mono : 0)));
    }
    jf_append (tasks, t);
  }
  jf_add (o, "tasks", tasks);
  if ((e = serve_store_save (d->store, o)) < 0)
    log_msg ("cannot write %s/serve.json: %s", d->store, strerror (-e));
  else
    d->dirty = false;
  json_object_put (o);
}

static size_t
count_served (const struct daemon *d)
{
  size_t n = 0;

  for (size_t i = 0; i < d->slots.len; i++)
    n += d->slots.ptr[i].s != NULL;
  return n;
}

static int
daemon_start (struct daemon *d, const char *store, const string_vector *names)
{
  long long holder;
  int e;

  memset (d, 0, sizeof *d);
  d->store = store;
  d->lockfd = -1;
  d->started_ns = time_now_ns ();
  d->named = names->len > 0;
  if ((e = serve_store_lock (store, &d->lockfd, &holder)) == -EWOULDBLOCK) {
    if (holder > 0)
      return fail ("store %s is served already by cdp serve (pid %lld): "
                   "one cdp serve per store", store, holder);
    return fail ("store %s is served already by another cdp serve: one "
                 "cdp serve per store", store);
  }
  if (e < 0)
    return fail ("cannot lock store %s (serve.lock): %s", store, strerror (-e));
  for (size_t i = 0; i < names->len; i++)
    if (slot_find (d, names->ptr[i]) == NULL &&
        slot_add (d, names->ptr[i]) < 0)
      return fail ("%s", strerror (ENOMEM));
  if ((e = heartbeat_start (&d->hb)) < 0)
    return fail ("cannot start the heartbeat thread: %s", strerror (-e));
  return 0;
}

/* Everything stops: the heartbeats first, so that none follows a task's
 * last one. */
static void
daemon_stop (struct daemon *d)
{
  heartbeat_stop (&d->hb);
  atomic_store (&stopping, true);
  archiver_stop_all ();             /* pushes in progress end at once */
  for (size_t i = 0; i < d->slots.len; i++) {
    if (d->slots.ptr[i].s)
      unserve (d->slots.ptr[i].s);
    free (d->slots.ptr[i].name);
  }
  d->slots.len = 0;
  save_state (d, true);
  slot_vector_reset (&d->slots);
  close (d->lockfd);
}

int
serve_run (const char *store, const string_vector *names)
{
  struct daemon d;
  sigset_t set;
  struct timespec second = { 1, 0 };
  size_t n;
  int sig;

  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  pthread_sigmask (SIG_BLOCK, &set, NULL);
  signal (SIGPIPE, SIG_IGN);
  if (daemon_start (&d, store, names) != 0) {
    for (size_t i = 0; i < d.slots.len; i++)
      free (d.slots.ptr[i].name);
    slot_vector_reset (&d.slots);
    if (d.lockfd >= 0)
      close (d.lockfd);
    return EXIT_FAIL;
  }
  tick (&d, false);
  n = count_served (&d);
  log_msg ("serving %zu task%s from %s%s", n, n == 1 ? "" : "s", store,
           d.named ? "" : "; tasks created later are taken up as they come");
  for (;;) {
    if (d.dirty)
      save_state (&d, false);
    sig = sigtimedwait (&set, NULL, &second);
    if (sig == SIGINT || sig == SIGTERM)
      break;
    tick (&d, true);
  }
  log_msg ("stopping: finishing replies in flight, syncing the journal");
  daemon_stop (&d);
  return 0;
}
