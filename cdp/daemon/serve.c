/* cdp serve: run the receivers of every task in the store, and in QMP
 * and libvirt mode drive each disk's mirror job.
 *
 * Threads: the main thread waits for SIGINT/SIGTERM, writes each
 * task's run/state.json once a second and resumes rapid recoveries that
 * were interrupted (recover-watch.c); a task whose mode has a protector
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
#include <time.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/daemon/daemon.h"
#include "cdp/hv/protect.h"
#include "cdp/hv/hv.h"
#include "common/error.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"

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

/* Main thread: stop serving one task (its protector ends the mirror
 * jobs, the receiver closes), the others go on; serve.lock is released,
 * which is what `task delete` waits for. */
static void unserve (struct served *s);
static void
release_task (struct served *s)
{
  char *name = strdup (s->t->name);

  log_msg ("task %s: letting it go (task delete): ending its jobs, "
           "closing its receiver", name);
  atomic_store (&s->stopping, true);
  unserve (s);
  s->gone = true;
  log_msg ("task %s: no longer served", name);
  free (name);
}

/* Take the task for this serve: its flock first, and nothing of the
 * task (run/, sockets, state.json, locks) is touched before it is ours. */
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
    return fail ("task %s: cannot open serve.lock: %s", name, strerror (errno));
  if (flock (s->lockfd, LOCK_EX | LOCK_NB) < 0) {
    close (s->lockfd);
    s->lockfd = -1;
    return fail ("task %s is served by another 'cdp serve'", name);
  }
  if (task_files_check (s->t, why, sizeof why) < 0) {
    log_msg ("task %s refused: %s", name, why);
    return EXIT_FAIL;
  }
  run = task_path (s->t, "run");
  e = run ? mkdir_p (run, 0700) : -ENOMEM;
  free (run);
  if (e < 0)
    return fail ("task %s: cannot create run/: %s", name, strerror (-e));
  return 0;
}

static int
serve_task (const char *store, const char *name, struct served *s)
{
  char why[512];
  int e;

  memset (s, 0, sizeof *s);
  s->lockfd = -1;
  pthread_mutex_init (&s->lock, NULL);
  if ((e = task_load (store, name, &s->t)) < 0)
    return task_load_fail (store, name, e);
  if (take_task (s, name) != 0)
    return EXIT_FAIL;
  s->ds = calloc (s->t->disks.len, sizeof *s->ds);
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

/* Main thread: the protector changed the task's disks in task.json (a
 * disk added to the VM, or resized): serve the task again as it is now. */
static void
retake_task (const char *store, struct served *s)
{
  char *name = strdup (s->t->name);

  if (name == NULL)
    return;
  log_msg ("task %s: its disks changed: taking it up again", name);
  atomic_store (&s->stopping, true);
  unserve (s);
  if (serve_task (store, name, s) != 0) {
    unserve (s);
    s->gone = true;
  }
  free (name);
}

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
}

int
serve_run (const char *store, const string_vector *names)
{
  struct served *sv;
  sigset_t set;
  struct timespec tick = { 1, 0 };
  size_t n = 0;
  int sig;

  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  pthread_sigmask (SIG_BLOCK, &set, NULL);
  signal (SIGPIPE, SIG_IGN);
  sv = calloc (names->len + 1, sizeof *sv);
  for (size_t i = 0; i < names->len; i++) {
    if (serve_task (store, names->ptr[i], &sv[n]) == 0)
      n++;
    else
      unserve (&sv[n]);
  }
  if (n == 0 && names->len > 0) {
    free (sv);
    return fail ("no task could be served");
  }
  log_msg ("serving %zu task%s from %s", n, n == 1 ? "" : "s", store);
  for (;;) {
    for (size_t i = 0; i < n; i++) {
      if (!sv[i].gone && atomic_load (&sv[i].release))
        release_task (&sv[i]);
      else if (!sv[i].gone && atomic_load (&sv[i].retake))
        retake_task (store, &sv[i]);
      if (sv[i].gone)
        continue;
      write_state (&sv[i]);
      recover_watch (store, sv[i].t, &sv[i].rw);
    }
    sig = sigtimedwait (&set, NULL, &tick);
    if (sig == SIGINT || sig == SIGTERM)
      break;
  }
  log_msg ("stopping: finishing replies in flight, syncing the journal");
  atomic_store (&stopping, true);
  for (size_t i = 0; i < n; i++)
    if (!sv[i].gone)
      unserve (&sv[i]);
  free (sv);
  return 0;
}
