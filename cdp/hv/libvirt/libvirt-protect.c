/* cdp serve: the protector of a libvirt-mode task.
 *
 * One thread per task owns a libvirt connection (libvirt.h) and, for
 * each disk of the task, a block copy to the receiver.  It follows the
 * domain's lifecycle and block job events, and once a second looks at
 * the domain and the jobs themselves (for progress, and for whatever an
 * event did not say).  A disk is
 *
 *   idle       no job of ours: the domain is off, migrating, another job
 *              runs on the disk, or ours ended and is due to be restarted
 *   copying    our job makes its initial copy (GAP journaled before it)
 *   protected  our job is READY (RESUME journaled)
 *
 * Journaling goes through protect.h exactly as in QMP mode.  When the
 * domain stops (shut down, destroyed, crashed, migrated away) a GAP is
 * journaled and the disk waits; when it runs again, a new job copies it
 * and the receiver keeps only what changed meanwhile.  A job of ours
 * found on a disk that this serve did not start was left by an earlier
 * serve: its NBD connection died with that serve, so it is aborted and
 * started anew.  A job that is not ours (a backup, a pull, an operator's
 * copy) or a migration is reported and waited out, never touched.
 *
 * The disks: a disk attached to the running domain (hot-plugged; a
 * DEVICE_ADDED event, or the look) is added to task.json when the task
 * protects all the domain's disks, and the task is taken up again
 * (serve.c) to protect it; a task that named its disks reports it and
 * leaves it alone.  A disk of the task the domain no longer has is left
 * idle: its history stays.  QEMU refuses to resize a disk while a block
 * job runs on it, so cdp resize asks the protector (protect_resize): it
 * ends the copy (a GAP), has libvirt resize the disk, records the new
 * size from the next seq on (task.json, and the served task: the other
 * disks go on) and copies it again, journaling only what differs.  A size found changed when
 * a copy is to start (the disk was resized while unprotected) is
 * recorded the same way.  libvirt detaches no disk under a block copy
 * either: cdp detach asks the protector to end the copy and detach it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "cdp/hv/hv.h"
#include "cdp/hv/libvirt/libvirt.h"
#include "cdp/hv/protect.h"
#include "cdp/rapid/rapid.h"
#include "common/error.h"
#include "common/fileio.h"
#include "common/timeutil.h"

#define MS 1000000LL

enum phase { IDLE, COPYING, PROTECTED };

struct lvdisk {
  enum phase phase;
  int64_t retry_ns;                 /* idle: start no job before this */
  bool detaching;                   /* cdp detach asked libvirt to detach
                                       it: no copy while the guest has it */
  struct lv_dest dest;
};

struct lvp {
  struct served *s;
  struct lv *l;
  struct lvdisk *d;
  char *host, *port;                /* --listen tcp:HOST:PORT */
  bool granted;
  int64_t next_tick;
  int64_t lost_ns;                  /* when the last connection ended */
  const char *stopped;              /* why the domain stopped (an event) */
  bool retaking;                    /* task.json changed: serve takes the
                                       task up again, nothing starts */
  string_vector said;               /* disks not protected, logged once */
  string_vector gapped;             /* disks added: their first GAP is
                                       journaled (task.json may have
                                       failed: tried again, GAP not) */
};

static const char *
disk_name (struct lvp *p, size_t i)
{
  return p->s->t->disks.ptr[i].name;
}

static void
set_idle (struct lvp *p, size_t i, int64_t retry_ms)
{
  p->d[i].phase = IDLE;
  p->d[i].retry_ns = time_now_ns () + retry_ms * MS;
}

/* Every disk that had protection loses it (a GAP dated since_ns). */
static void
all_lost (struct lvp *p, const char *why, int64_t since_ns)
{
  for (size_t i = 0; i < p->s->t->disks.len; i++) {
    if (p->d[i].phase != IDLE)
      protect_lost (p->s, i, why, since_ns);
    else
      protect_waiting (p->s, i, why);
    set_idle (p, i, 0);
  }
}

static int
find_disk (struct lvp *p, const char *name)
{
  for (size_t i = 0; i < p->s->t->disks.len; i++)
    if (strcmp (disk_name (p, i), name) == 0)
      return (int) i;
  return -1;
}

/* Does a job of ours still run on disk i? */
static bool
ours_runs (struct lvp *p, size_t i)
{
  uint64_t cur, end;
  int type;
  bool ours = false;

  return lv_job (p->l, disk_name (p, i), &p->d[i].dest, &type, &cur, &end,
                 &ours) == 1 && ours;
}

/* ---- events --------------------------------------------------------------- */

static const char *
job_end_reason (int status)
{
  switch (status) {
  case VIR_DOMAIN_BLOCK_JOB_FAILED: return "the block copy failed";
  case VIR_DOMAIN_BLOCK_JOB_CANCELED:
    return "the block copy was cancelled (not by cdp)";
  default: return "the block copy ended (pivoted or completed, not by cdp)";
  }
}

static void
on_job (struct lvp *p, const struct lv_event *ev)
{
  int i = find_disk (p, ev->disk);

  if (i < 0)
    return;
  if (ev->type != VIR_DOMAIN_BLOCK_JOB_TYPE_COPY) {
    p->next_tick = 0;               /* another job ended: look again */
    return;
  }
  if (ev->status == VIR_DOMAIN_BLOCK_JOB_READY && p->d[i].phase == COPYING) {
    p->d[i].phase = PROTECTED;
    protect_ready (p->s, (size_t) i);
  }
  else if (ev->status != VIR_DOMAIN_BLOCK_JOB_READY &&
           p->d[i].phase != IDLE && !ours_runs (p, (size_t) i)) {
    /* (An event of a job we removed ourselves finds our new one
     * running, and is ignored.) */
    protect_lost (p->s, (size_t) i, job_end_reason (ev->status), ev->time_ns);
    set_idle (p, (size_t) i, 1000);
  }
}

/* Returns false when the session must end (domain gone, connection
 * lost). */
static bool
on_event (struct lvp *p, const struct lv_event *ev)
{
  switch (ev->kind) {
  case LV_EV_CLOSED:
    log_msg ("task %s: lost the connection to libvirt", p->s->t->name);
    return false;
  case LV_EV_JOB:
    on_job (p, ev);
    return true;
  case LV_EV_DEVICE:                /* a disk added or removed: look now */
    p->next_tick = 0;
    return true;
  case LV_EV_LIFECYCLE:
    if (ev->event == VIR_DOMAIN_EVENT_STOPPED ||
        ev->event == VIR_DOMAIN_EVENT_CRASHED ||
        ev->event == VIR_DOMAIN_EVENT_UNDEFINED) {
      p->stopped = lv_lifecycle_name (ev->event, ev->detail);
      all_lost (p, p->stopped, ev->time_ns);
    }
    if (ev->event == VIR_DOMAIN_EVENT_STARTED ||
        ev->event == VIR_DOMAIN_EVENT_RESUMED)
      p->next_tick = 0;
    return ev->event != VIR_DOMAIN_EVENT_UNDEFINED;
  }
  return true;
}

/* ---- starting a copy ------------------------------------------------------- */

static bool
grant (struct lvp *p)
{
  char why[512] = "";
  uid_t uid;
  gid_t gid;

  if (p->granted || p->host)
    return true;
  lv_qemu_owner (p->l, &uid, &gid);
  if (receiver_grant (p->s->rx, uid, gid, why, sizeof why) < 0) {
    for (size_t i = 0; i < p->s->t->disks.len; i++)
      protect_waiting (p->s, i, why);
    return false;
  }
  p->granted = true;
  return true;
}

/* Ask serve to take the task up again: task.json changed. */
static void
retake (struct lvp *p)
{
  p->retaking = true;
  atomic_store (&p->s->retake, true);
}

/* Disk i is size bytes from the next seq on (no job of ours runs on it):
 * a shrink journals the cut as trimmed; task.json records it, then the
 * served task (the receiver advertises the new size to the next copy,
 * folds and comparisons take it from seq on), and the disk is copied
 * again at the next look; the other disks go on.  0, or -errno. */
static int
record_size (struct lvp *p, size_t i, uint64_t size, const char *how,
             uint64_t *seq_out)
{
  struct task_disk *td = &p->s->t->disks.ptr[i];
  struct disk_resize z = { .time_ns = time_now_ns (), .old_size = td->size,
                           .size = size };
  char why[512];
  int e = receiver_resized (p->s->rx, td->id, td->size, size, &z.seq);

  if (e == 0)
    e = task_disk_resized (p->s->t, td->id, z.seq, z.time_ns, size);
  if (e < 0) {
    snprintf (why, sizeof why, "cannot record its new size (%llu bytes): %s",
              (unsigned long long) size, strerror (-e));
    protect_waiting (p->s, i, why);
    set_idle (p, i, 5000);
    return e;
  }
  log_msg ("task %s disk %s: %s: %llu bytes from seq %llu on (was %llu)",
           p->s->t->name, td->name, how, (unsigned long long) size,
           (unsigned long long) z.seq, (unsigned long long) z.old_size);
  if (seq_out)
    *seq_out = z.seq;
  if (task_disk_resize_apply (td, &z) < 0)
    retake (p);                     /* task.json has it: serve reads it */
  else
    set_idle (p, i, 0);
  return 0;
}

/* No job of ours may start while an in-place recovery streams the disk
 * in (its block pull must run first, and the history must not take the
 * recovered disk before it stands alone), while another job runs on the
 * disk, nor on a disk whose size is no longer the task's. */
static bool
may_start (struct lvp *p, size_t i)
{
  const struct task_disk *td = &p->s->t->disks.ptr[i];
  char why[256];
  uint64_t cur, end, size = 0;
  int type = 0, r;
  bool ours;

  if (rapid_holds (p->s->t, td->name)) {
    protect_waiting (p->s, i, "cdp recover streams this disk in from the "
                     "store: protection resumes when that is done");
    return false;
  }
  r = lv_job (p->l, td->name, &p->d[i].dest, &type, &cur, &end, &ours);
  if (r == 1 && !ours) {
    snprintf (why, sizeof why, "a %s block job that cdp did not start runs "
              "on this disk: cdp leaves it alone and waits for it to end",
              lv_job_type_name (type));
    protect_waiting (p->s, i, why);
    return false;
  }
  if (r == 1) {
    log_msg ("task %s disk %s: removing a block copy left by an earlier "
             "cdp serve", p->s->t->name, td->name);
    if (lv_job_abort (p->l, td->name) < 0) {
      protect_waiting (p->s, i, cdp_get_error ());
      return false;
    }
  }
  if (r < 0 || lv_disk_size (p->l, td->name, &size) < 0) {
    protect_waiting (p->s, i, cdp_get_error ());
    return false;
  }
  if (size != td->size) {
    /* Resized while nothing protected it: from here on it has its new
     * size (it is in a gap since). */
    record_size (p, i, size, "resized while not protected", NULL);
    return false;
  }
  return true;
}

/* Keep the domain's definition (secrets included, so only root reads it)
 * in TASK/domain.xml: cdp recover starts a domain from it when the
 * protected one is gone. */
static void
keep_definition (struct lvp *p)
{
  char *xml = lv_definition (p->l, true);
  char *path = task_path (p->s->t, "domain.xml");
  char *old = NULL;

  if (xml && path && (fio_read (path, &old, NULL) < 0 || strcmp (old, xml) != 0) &&
      fio_replace (path, xml, strlen (xml), 0600) < 0)
    log_msg ("task %s: cannot keep the domain's definition in %s",
             p->s->t->name, path);
  free (old);
  free (path);
  free (xml);
}

static void
start_copy (struct lvp *p, size_t i)
{
  if (!may_start (p, i)) {
    set_idle (p, i, 2000);
    return;
  }
  if (i == 0)
    keep_definition (p);
  protect_starting (p->s, i);
  if (lv_copy_start (p->l, disk_name (p, i), &p->d[i].dest) < 0) {
    protect_lost (p->s, i, cdp_get_error (), 0);
    set_idle (p, i, 5000);
    return;
  }
  p->d[i].phase = COPYING;
}

/* ---- disks added and removed ----------------------------------------------- */

static void
free_strings (string_vector *v)
{
  for (size_t k = 0; k < v->len; k++)
    free (v->ptr[k]);
  string_vector_reset (v);
}

static bool
listed (const string_vector *v, const char *name)
{
  for (size_t k = 0; k < v->len; k++)
    if (strcmp (v->ptr[k], name) == 0)
      return true;
  return false;
}

/* A disk of the domain the task does not have: add it (all_disks), or
 * say once that it is not protected. */
static void
new_disk (struct lvp *p, const char *target, string_vector *others)
{
  struct task_disk d = { .name = (char *) target };
  int e;

  if (!p->s->t->all_disks) {
    char *o = strdup (target);
    if (o == NULL || string_vector_append (others, o) < 0)
      free (o);
    if (!listed (&p->said, target)) {
      char *t = strdup (target);
      log_msg ("task %s: disk %s of domain %s is not protected: the task "
               "protects the disks it named (task create --disk)",
               p->s->t->name, target, p->s->t->domain);
      if (t == NULL || string_vector_append (&p->said, t) < 0)
        free (t);
    }
    return;
  }
  /* Its history starts with a GAP: no point before it is the disk's. */
  for (size_t i = 0; i < p->s->t->disks.len; i++)
    if (p->s->t->disks.ptr[i].id >= d.id)
      d.id = p->s->t->disks.ptr[i].id + 1;
  if ((e = lv_disk_size (p->l, target, &d.size)) == 0 &&
      !listed (&p->gapped, target) &&
      (e = receiver_event (p->s->rx, JOURNAL_GAP, d.id, "disk added to the "
                           "domain", 0)) == 0) {
    char *g = strdup (target);
    if (g == NULL || string_vector_append (&p->gapped, g) < 0)
      free (g);
  }
  if (e == 0) {
    /* At or after its GAP: the GAP was journaled before this. */
    d.added_seq = journal_last_seq (receiver_journal (p->s->rx));
    d.added_ns = time_now_ns ();
    e = task_disk_add (p->s->t, &d);
  }
  if (e < 0) {
    log_msg ("task %s: cannot add disk %s: %s", p->s->t->name, target,
             e == -EIO ? cdp_get_error () : strerror (-e));
    return;
  }
  log_msg ("task %s: disk %s (%llu bytes) was added to domain %s: "
           "protecting it", p->s->t->name, target, (unsigned long long) d.size,
           p->s->t->domain);
  retake (p);
}

/* Compare the domain's disks with the task's.  live: filled with the
 * targets the domain has. */
static int
check_disks (struct lvp *p, string_vector *live)
{
  string_vector others = empty_vector;
  char list[sizeof p->s->unprotected] = "";
  int e = lv_live_disks (p->l, live);

  if (e < 0)
    return e;
  for (size_t k = 0; k < live->len && !p->retaking; k++)
    if (task_find_disk (p->s->t, live->ptr[k]) == NULL)
      new_disk (p, live->ptr[k], &others);
  for (size_t k = 0; k < others.len; k++)
    snprintf (list + strlen (list), sizeof list - strlen (list), "%s%s",
              k ? "," : "", others.ptr[k]);
  pthread_mutex_lock (&p->s->lock);
  snprintf (p->s->unprotected, sizeof p->s->unprotected, "%s", list);
  pthread_mutex_unlock (&p->s->lock);
  free_strings (&others);
  return 0;
}

/* ---- cdp resize ------------------------------------------------------------- */

static int
resize_disk (struct lvp *p, const char *disk, uint64_t size, char *msg,
             size_t len, uint64_t *seq)
{
  int i = find_disk (p, disk);
  const struct task_disk *td;
  int e;

  if (i < 0)
    return snprintf (msg, len, "task %s has no disk '%s'", p->s->t->name,
                     disk), -ENOENT;
  td = &p->s->t->disks.ptr[i];
  if (size == td->size)
    return snprintf (msg, len, "disk %s is %llu bytes already", disk,
                     (unsigned long long) size), -EALREADY;
  if (p->d[i].phase != IDLE) {
    /* QEMU resizes no disk under a block job: the copy ends first. */
    protect_lost (p->s, (size_t) i, "cdp resize: the copy ends while the "
                  "disk is resized", 0);
    if ((e = lv_job_abort (p->l, disk)) < 0) {
      set_idle (p, (size_t) i, 0);
      return snprintf (msg, len, "%s", cdp_get_error ()), e;
    }
  }
  set_idle (p, (size_t) i, 2000);
  if ((e = lv_resize (p->l, disk, size)) < 0)
    return snprintf (msg, len, "%s", cdp_get_error ()), e;
  if ((e = record_size (p, (size_t) i, size, "resized (cdp resize)",
                       seq)) < 0)
    return snprintf (msg, len, "the disk is resized, but its new size could "
                     "not be recorded (%s): cdp serve records it when it "
                     "copies the disk again", strerror (-e)), e;
  return 0;
}

/* ---- cdp detach -------------------------------------------------------------- */

/* libvirt detaches no disk under a block job: the copy ends first (a
 * GAP), then the disk is detached; until the guest has released it the
 * disk stays idle, and then the look finds it gone.  Its history stays. */
static int
detach_disk (struct lvp *p, const char *disk, char *msg, size_t len)
{
  int i = find_disk (p, disk);
  int e;

  if (i < 0)
    return snprintf (msg, len, "task %s has no disk '%s'", p->s->t->name,
                     disk), -ENOENT;
  if (p->d[i].phase != IDLE) {
    protect_lost (p->s, (size_t) i, "cdp detach: the disk is detached from "
                  "the domain", 0);
    if ((e = lv_job_abort (p->l, disk)) < 0) {
      set_idle (p, (size_t) i, 0);
      return snprintf (msg, len, "%s", cdp_get_error ()), e;
    }
  }
  set_idle (p, (size_t) i, 0);
  if ((e = lv_detach (p->l, disk)) < 0)
    return snprintf (msg, len, "%s", cdp_get_error ()), e;
  p->d[i].detaching = true;
  protect_waiting (p->s, (size_t) i, "detached (cdp detach): its history "
                   "stays readable");
  log_msg ("task %s disk %s: detached from domain %s (cdp detach)",
           p->s->t->name, disk, p->s->t->domain);
  return 0;
}

/* ---- requests (protect.h) ------------------------------------------------------ */

static void
take_request (struct lvp *p)
{
  struct protect_request r;
  char msg[512] = "";
  uint64_t old = 0, seq = 0;
  int i, e;

  if (!protect_asked (p->s, &r))
    return;
  i = find_disk (p, r.disk);
  if (i >= 0)
    old = p->s->t->disks.ptr[i].size;
  if (p->retaking)
    e = -EAGAIN, snprintf (msg, sizeof msg, "cdp serve is taking the task "
                           "up again: try again in a moment");
  else if (r.op == PROTECT_RESIZE)
    e = resize_disk (p, r.disk, r.size, msg, sizeof msg, &seq);
  else
    e = detach_disk (p, r.disk, msg, sizeof msg);
  protect_answer (p->s, e, msg, old, seq);
}

/* ---- the periodic look ------------------------------------------------------ */

static void
watch_job (struct lvp *p, size_t i)
{
  uint64_t cur = 0, end = 0;
  int type, r;
  bool ours = false;

  r = lv_job (p->l, disk_name (p, i), &p->d[i].dest, &type, &cur, &end, &ours);
  if (r == 0 || (r == 1 && !ours)) {
    protect_lost (p->s, i, "the block copy is gone", 0);
    set_idle (p, i, 1000);
  }
  else if (r == 1 && p->d[i].phase == COPYING)
    protect_progress (p->s, i, cur, end);
}

/* Returns false when the session must end. */
static bool
look (struct lvp *p)
{
  const char *why;
  bool active;
  int r = lv_domain_active (p->l, &active, &why);
  int64_t now = time_now_ns ();
  string_vector live = empty_vector;

  if (p->retaking)
    return true;
  if (r < 0) {
    all_lost (p, cdp_get_error (), 0);
    return r != -ENOENT;
  }
  if (!active) {
    /* The event, if one came, says more than the state does. */
    all_lost (p, p->stopped ? p->stopped : why, 0);
    return true;
  }
  p->stopped = NULL;
  if (lv_migrating (p->l)) {
    for (size_t i = 0; i < p->s->t->disks.len; i++)
      if (p->d[i].phase == IDLE)
        protect_waiting (p->s, i, "the domain is being migrated: cdp waits "
                         "until it is done");
    return true;
  }
  if (!grant (p))
    return true;
  if (check_disks (p, &live) < 0) {
    free_strings (&live);
    for (size_t i = 0; i < p->s->t->disks.len; i++)
      if (p->d[i].phase == IDLE)
        protect_waiting (p->s, i, cdp_get_error ());
    return true;
  }
  for (size_t i = 0; i < p->s->t->disks.len && !p->retaking; i++) {
    if (!listed (&live, disk_name (p, i))) {
      /* Detached: its history stays, nothing is copied. */
      if (p->d[i].phase != IDLE)
        protect_lost (p->s, i, "the disk was detached from the domain", 0);
      else
        protect_waiting (p->s, i, "the domain has no such disk now "
                         "(detached): its history stays readable");
      set_idle (p, i, 0);
      p->d[i].detaching = false;
    }
    else if (p->d[i].detaching)
      protect_waiting (p->s, i, "detach asked (cdp detach): waiting for "
                       "the guest to release the disk");
    else if (p->d[i].phase == IDLE && now >= p->d[i].retry_ns)
      start_copy (p, i);
    else if (p->d[i].phase != IDLE)
      watch_job (p, i);
  }
  free_strings (&live);
  return true;
}

/* ---- sessions ---------------------------------------------------------------- */

/* A new connection: jobs this serve started before it lost the last one
 * may still run; any other state is unknown, so start again. */
static void
reconnected (struct lvp *p)
{
  for (size_t i = 0; i < p->s->t->disks.len; i++) {
    if (p->d[i].phase == PROTECTED && ours_runs (p, i))
      continue;
    if (p->d[i].phase != IDLE) {
      protect_lost (p->s, i, "the block copy ended while libvirt was "
                    "unreachable", p->lost_ns);
      if (ours_runs (p, i))
        lv_job_abort (p->l, disk_name (p, i));
      set_idle (p, i, 0);
    }
  }
}

static void
stop_all (struct lvp *p)
{
  for (size_t i = 0; i < p->s->t->disks.len; i++) {
    if (p->d[i].phase == IDLE)
      continue;
    /* Guest writes stop reaching us from here on. */
    protect_lost (p->s, i, "cdp serve stopped", 0);
    if (lv_job_abort (p->l, disk_name (p, i)) < 0)
      log_msg ("task %s disk %s: %s", p->s->t->name, disk_name (p, i),
               cdp_get_error ());
    p->d[i].phase = IDLE;
  }
}

static void
session (struct lvp *p)
{
  struct lv_event ev;

  reconnected (p);
  p->next_tick = 0;
  while (!serve_stopping (p->s)) {
    if (time_now_ns () >= p->next_tick) {
      p->next_tick = time_now_ns () + 1000 * MS;
      if (!look (p))
        return;
    }
    if (lv_next_event (p->l, 200, &ev) == 1 && !on_event (p, &ev))
      return;
    take_request (p);
  }
  stop_all (p);
}

static void
pause_a_while (struct lvp *p)
{
  for (int k = 0; k < 20 && !serve_stopping (p->s); k++)
    usleep (100000);
}

/* The destination of each disk: the receiver's unix socket, or the
 * task's --listen tcp:HOST:PORT; the export is named after the disk. */
static void
set_dests (struct lvp *p)
{
  const char *listen = p->s->t->listen;

  if (listen && strncmp (listen, "tcp:", 4) == 0) {
    const char *colon = strrchr (listen + 4, ':');
    p->host = strndup (listen + 4, (size_t) (colon - (listen + 4)));
    p->port = strdup (colon + 1);
  }
  for (size_t i = 0; i < p->s->t->disks.len; i++)
    p->d[i].dest = (struct lv_dest) {
      .socket = p->host ? NULL : receiver_socket (p->s->rx),
      .host = p->host, .port = p->port,
      .tls = p->host && p->s->t->lo.tls_creds,
      .export_name = disk_name (p, i) };
}

void *
libvirt_protector (void *arg)
{
  struct lvp p = { .s = arg };

  p.d = calloc (p.s->t->disks.len, sizeof *p.d);
  set_dests (&p);
  while (!serve_stopping (p.s)) {
    if (lv_open (p.s->t->connect, p.s->t->domain, &p.l) < 0) {
      /* Jobs running may go on without libvirt: a new connection looks. */
      for (size_t i = 0; i < p.s->t->disks.len; i++)
        if (p.d[i].phase == IDLE)
          protect_waiting (p.s, i, cdp_get_error ());
      pause_a_while (&p);
      continue;
    }
    session (&p);
    p.lost_ns = time_now_ns ();
    lv_close (p.l);
    p.l = NULL;
    if (!serve_stopping (p.s))
      pause_a_while (&p);
  }
  free (p.d);
  free (p.host);
  free (p.port);
  free_strings (&p.said);
  free_strings (&p.gapped);
  return NULL;
}
