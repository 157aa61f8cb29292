/* cdp: the QMP-mode mirror driver.  See qmp.h for the contract.
 *
 * Why the job is started the way it is:
 *
 * - copy-mode=write-blocking: a guest write completes only once the
 *   target acknowledged it, so after READY the receiver sees every write
 *   in order, before the guest does; sync=full makes the initial copy
 *   the first base point.
 *
 * - on-target-error=report.  In write-blocking mode QEMU never fails the
 *   guest's write when the target fails it: it marks the region dirty
 *   and would copy the newer data later.  Whatever the action, history
 *   for that region is lost from that moment.  "ignore" hides this (the
 *   job stays READY and no event says when the region was copied again);
 *   "stop" pauses the job (state "standby", which QEMU also passes through
 *   on every drain, so it tells nothing) and leaves no event either when
 *   fidelity returns.  "report" ends the job with BLOCK_JOB_ERROR and
 *   BLOCK_JOB_COMPLETED {error}: the loss is loud, has a time, and
 *   fidelity returns exactly at the next job's READY.  The receiver
 *   never fails writes on purpose, so this only happens when it broke.
 *   on-source-error=report likewise.
 *
 * - auto-dismiss=false: a job that failed while cdp was not connected
 *   stays "concluded" with its error, so a restarted cdp learns of it
 *   instead of finding nothing.  We dismiss it ourselves.
 *
 * - The target node is ours (blockdev-add): discard=unmap so that TRIM
 *   and WRITE_ZEROES may unmap; the export must have the node's exact
 *   size or the job fails after blockdev-mirror returned ("Source and
 *   target image have different sizes"), so it is checked first.
 *
 * - A job still running after cdp restarted is kept if its target node
 *   serves the same socket and export: with on-target-error=report the
 *   job is alive only if no target write failed since its READY.  With
 *   reconnect-delay the node even survives a receiver restart.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "common/error.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"
#include "cdp/hv/qmp/qmp.h"

/* QEMU's limit on node names, NUL included. */
#define NODE_NAME_SIZE 32

struct qmp_mirror {
  struct qmp *q;
  char *node;
  char *job_id;
  char target[NODE_NAME_SIZE];
  char filter[NODE_NAME_SIZE];
  char *uri;                    /* the target node's filename in QEMU */
  enum qmp_mirror_state state;
  char reason[256];
  bool weak_reason;             /* from JOB_STATUS_CHANGE: refine it */
  bool detailed;                /* QEMU's error text already appended */
  int64_t since_ns;
  enum qmp_mirror_origin origin;
  char note[256];
  bool listening;               /* saw our job's "created", or adopted */
  bool stopped;
};

/* ---- Small helpers ------------------------------------------------- */

static void
sleep_ms (long ms)
{
  struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 };

  nanosleep (&ts, NULL);
}

static bool
streq (const char *a, const char *b)
{
  return a && b && strcmp (a, b) == 0;
}

/* Add key: value to obj, taking value; false when out of memory. */
static bool
put (json_object *obj, const char *key, json_object *value)
{
  return jf_add (obj, key, value) == 0;
}

/* QEMU's id_wellformed(): a letter, then letters, digits, '-', '.', '_'. */
static bool
is_name_char (char c, bool first)
{
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
    return true;
  return !first && ((c >= '0' && c <= '9') || c == '-' || c == '.'
                    || c == '_');
}

static bool
well_formed (const char *s)
{
  if (!is_name_char (s[0], true))
    return false;
  for (size_t i = 1; s[i]; i++)
    if (!is_name_char (s[i], false))
      return false;
  return true;
}

/* prefix + node when it is a valid name that fits; else prefix, a
 * cleaned-up start of node, '-' and a hash of node: stable across runs
 * so that a restarted cdp finds what it left. */
static void
derive_name (char out[NODE_NAME_SIZE], const char *prefix, const char *node)
{
  uint32_t h = 2166136261u;     /* FNV-1a */
  size_t n, i;

  n = snprintf (out, NODE_NAME_SIZE, "%s%s", prefix, node);
  if (n < NODE_NAME_SIZE && well_formed (node) && well_formed (out))
    return;
  for (i = 0; node[i]; i++)
    h = (h ^ (unsigned char) node[i]) * 16777619u;
  n = strlen (prefix);
  memcpy (out, prefix, n);
  for (i = 0; node[i] && n < NODE_NAME_SIZE - 10; i++)
    out[n++] = is_name_char (node[i], false) ? node[i] : '_';
  snprintf (out + n, NODE_NAME_SIZE - n, "-%08x", h);
}

/* ---- Looking at QEMU ----------------------------------------------- */

static int64_t
virtual_size (json_object *node)
{
  json_object *image;

  if (!json_object_object_get_ex (node, "image", &image))
    return -1;
  return qmp_json_int (image, "virtual-size", -1);
}

/* Size of the block node (or -drive device) name. */
static int
source_size (struct qmp *q, const char *name, int64_t *size)
{
  json_object *e CLEANUP_JSON_PUT = NULL;
  json_object *inserted;
  int r;

  r = qmp_find_node (q, name, &e);
  if (r == 0) {
    *size = virtual_size (e);
    return 0;
  }
  if (r != -ENOENT)
    return r;
  r = qmp_query_find (q, "query-block", NULL, "device", name, &e);
  if (r == 0 && json_object_object_get_ex (e, "inserted", &inserted)) {
    *size = virtual_size (inserted);
    return 0;
  }
  if (r < 0 && r != -ENOENT)
    return r;
  return cdp_set_error (-ENODEV, "QEMU has no block node named %s", name);
}

/* ---- State --------------------------------------------------------- */

static int64_t
event_time (json_object *ev)
{
  int64_t t = ev ? qmp_event_time_ns (ev) : 0;

  return t > 0 ? t : time_now_ns ();
}

/* Not protected from ev on.  A weak reason (a bare status change) is
 * replaced by the first real one that follows. */
static void __attribute__ ((format (printf, 4, 5)))
set_broken (struct qmp_mirror *m, json_object *ev, bool weak,
            const char *fmt, ...)
{
  va_list ap;

  if (m->state == QMP_MIRROR_BROKEN && !(m->weak_reason && !weak))
    return;
  if (m->state != QMP_MIRROR_BROKEN)
    m->since_ns = event_time (ev);
  m->state = QMP_MIRROR_BROKEN;
  m->weak_reason = weak;
  va_start (ap, fmt);
  vsnprintf (m->reason, sizeof m->reason, fmt, ap);
  va_end (ap);
}

/* Append QEMU's error text to the reason, once. */
static void
add_detail (struct qmp_mirror *m, const char *error)
{
  size_t n = strlen (m->reason);

  if (m->detailed || error == NULL)
    return;
  m->detailed = true;
  snprintf (m->reason + n, sizeof m->reason - n, " (%s)", error);
}

static void
set_protected (struct qmp_mirror *m, json_object *ev)
{
  if (m->state != QMP_MIRROR_SYNCING)
    return;
  m->state = QMP_MIRROR_PROTECTED;
  m->reason[0] = '\0';
  m->since_ns = event_time (ev);
}

static void
on_status (struct qmp_mirror *m, json_object *ev, const char *status)
{
  if (streq (status, "ready"))
    set_protected (m, ev);
  else if (streq (status, "aborting"))
    set_broken (m, ev, true, "mirror job %s is aborting", m->job_id);
  else if (streq (status, "waiting") || streq (status, "pending"))
    set_broken (m, ev, true, "mirror job %s is completing (someone ran "
                "block-job-complete)", m->job_id);
  else if (streq (status, "concluded") || streq (status, "null"))
    set_broken (m, ev, true, "mirror job %s ended", m->job_id);
  /* created, running, paused, standby: no change.  QEMU passes through
   * standby on every drain; write-blocking copies go on regardless. */
}

static void
on_job_event (struct qmp_mirror *m, json_object *ev, const char *name,
              json_object *data)
{
  const char *error = qmp_json_string (data, "error");

  if (streq (name, "BLOCK_JOB_READY"))
    set_protected (m, ev);
  else if (streq (name, "BLOCK_JOB_ERROR")) {
    if (streq (qmp_json_string (data, "operation"), "read"))
      set_broken (m, ev, false, "mirror job %s stopped: reading the source "
                  "failed", m->job_id);
    else
      set_broken (m, ev, false, "mirror job %s stopped: the NBD target "
                  "failed a write", m->job_id);
  }
  else if (streq (name, "BLOCK_JOB_COMPLETED")) {
    if (error)
      set_broken (m, ev, false, "mirror job %s failed", m->job_id);
    else
      set_broken (m, ev, false, "mirror job %s completed and no longer "
                  "mirrors", m->job_id);
    add_detail (m, error);
  }
  else if (streq (name, "BLOCK_JOB_CANCELLED"))
    set_broken (m, ev, false, "mirror job %s was cancelled", m->job_id);
}

/* The job id an event is about, if any. */
static const char *
event_job (const char *name, json_object *data)
{
  if (streq (name, "JOB_STATUS_CHANGE"))
    return qmp_json_string (data, "id");
  if (strncmp (name, "BLOCK_JOB_", 10) == 0)
    return qmp_json_string (data, "device");
  return NULL;
}

int
qmp_mirror_handle_event (struct qmp_mirror *m, struct json_object *ev)
{
  const char *name = qmp_event_name (ev);
  json_object *data = qmp_event_data (ev);
  const char *status;

  if (name == NULL || m->stopped)
    return 0;
  if (streq (name, "SHUTDOWN")) {
    const char *why = qmp_json_string (data, "reason");
    set_broken (m, ev, false, "QEMU shut down (%s)", why ? why : "unknown");
    return 1;
  }
  if (!streq (event_job (name, data), m->job_id))
    return 0;
  status = qmp_json_string (data, "status");
  if (!m->listening) {
    /* Events of an earlier job of this id (removed by start) precede
     * our job's "created": skip them. */
    if (streq (name, "JOB_STATUS_CHANGE") && streq (status, "created"))
      m->listening = true;
    return m->listening;
  }
  if (streq (name, "JOB_STATUS_CHANGE"))
    on_status (m, ev, status);
  else
    on_job_event (m, ev, name, data);
  return 1;
}

void
qmp_mirror_connection_lost (struct qmp_mirror *m, int err)
{
  if (m->stopped)
    return;
  set_broken (m, NULL, false, "lost the QMP connection to QEMU (%s)",
              strerror (-err));
}

int
qmp_mirror_refresh (struct qmp_mirror *m)
{
  json_object *job CLEANUP_JSON_PUT = NULL;
  const char *status;
  int r;

  if (m->stopped)
    return 0;
  r = qmp_find_job (m->q, m->job_id, &job);
  if (r == -ENOENT) {
    set_broken (m, NULL, false, "mirror job %s is gone", m->job_id);
    return 0;
  }
  if (r < 0)
    return r;
  /* If our "created" was among the dropped events, what remains queued
   * is ours.  If not, stale events may follow: they can only break the
   * mirror, never protect it. */
  m->listening = true;
  status = qmp_json_string (job, "status");
  on_status (m, NULL, status);
  if (m->state == QMP_MIRROR_BROKEN)
    add_detail (m, qmp_json_string (job, "error"));
  return 0;
}

int
qmp_mirror_poll (struct qmp_mirror *m, int timeout_ms)
{
  json_object *ev CLEANUP_JSON_PUT = NULL;
  int r;

  r = qmp_next_event (m->q, timeout_ms, &ev);
  if (r == -ENOBUFS)
    return qmp_mirror_refresh (m);
  if (r < 0) {
    qmp_mirror_connection_lost (m, r);
    return r;
  }
  if (r > 0)
    qmp_mirror_handle_event (m, ev);
  return r;
}

enum qmp_mirror_state
qmp_mirror_state (const struct qmp_mirror *m, const char **reason,
                  int64_t *since_ns)
{
  if (reason)
    *reason = m->reason;
  if (since_ns)
    *since_ns = m->since_ns;
  return m->state;
}

enum qmp_mirror_origin
qmp_mirror_origin (const struct qmp_mirror *m, const char **note)
{
  if (note)
    *note = m->note;
  return m->origin;
}

const char *
qmp_mirror_job_id (const struct qmp_mirror *m)
{
  return m->job_id;
}

const char *
qmp_mirror_target_node (const struct qmp_mirror *m)
{
  return m->target;
}

const char *
qmp_mirror_filter_node (const struct qmp_mirror *m)
{
  return m->filter;
}

/* ---- Removing what a job leaves ------------------------------------ */

static bool
job_ended (const char *status)
{
  return streq (status, "concluded") || streq (status, "null");
}

/* Wait until job id has concluded or vanished; polls query-jobs so that
 * no event is taken from the caller's queue. */
static int
wait_job_ended (struct qmp *q, const char *id, bool *concluded)
{
  int timeout = qmp_get_timeout (q);
  int waited = 0;
  int r;

  for (;;) {
    json_object *job CLEANUP_JSON_PUT = NULL;

    r = qmp_find_job (q, id, &job);
    if (r == -ENOENT) {
      *concluded = false;
      return 0;
    }
    if (r < 0)
      return r;
    if (job_ended (qmp_json_string (job, "status"))) {
      *concluded = true;
      return 0;
    }
    if (timeout >= 0 && waited >= timeout)
      return cdp_set_error (-ETIMEDOUT, "mirror job %s did not end in time",
                            id);
    sleep_ms (10);
    waited += 10;
  }
}

static int
job_command (struct qmp *q, const char *command, const char *key,
             const char *id, bool force)
{
  json_object *args CLEANUP_JSON_PUT = json_object_new_object ();

  if (!put (args, key, json_object_new_string (id))
      || (force && !put (args, "force", json_object_new_boolean (true))))
    return cdp_set_error (-ENOMEM, "out of memory");
  return qmp_execute (q, command, args, NULL);
}

/* Cancel job id if it runs, and dismiss it once concluded.  note (if
 * not NULL) says what became of it. */
static int
remove_job (struct qmp *q, const char *id, char *note, size_t notelen)
{
  json_object *job CLEANUP_JSON_PUT = NULL;
  json_object *last CLEANUP_JSON_PUT = NULL;
  const char *status, *error;
  bool concluded = false;
  int r;

  r = qmp_find_job (q, id, &job);
  if (r == -ENOENT)
    return 0;
  if (r < 0)
    return r;
  status = qmp_json_string (job, "status");
  if (!job_ended (status)) {
    /* May fail in a state that takes no cancel (pending): it ends
     * by itself then. */
    r = job_command (q, "block-job-cancel", "device", id, true);
    if (r == -ECONNRESET || r == -EPIPE || r == -ETIMEDOUT)
      return r;
  }
  r = wait_job_ended (q, id, &concluded);
  if (r < 0 || !concluded)
    return r;
  r = qmp_find_job (q, id, &last);
  if (r < 0)
    return r == -ENOENT ? 0 : r;
  error = qmp_json_string (last, "error");
  if (note)
    snprintf (note, notelen, "removed earlier job %s (was %s%s%s)", id,
              status, error ? "; ended with: " : "", error ? error : "");
  r = job_command (q, "job-dismiss", "id", id, false);
  return r == -ENOENT ? 0 : r;
}

static int
remove_node (struct qmp *q, const char *name)
{
  json_object *node CLEANUP_JSON_PUT = NULL;
  int r;

  r = qmp_find_node (q, name, &node);
  if (r == -ENOENT)
    return 0;
  if (r < 0)
    return r;
  r = job_command (q, "blockdev-del", "node-name", name, false);
  return r == -EIO ? -EBUSY : r;
}

/* Remove the target node without losing the error that made us. */
static void
undo_target (struct qmp_mirror *m)
{
  struct cdp_saved_error saved;

  cdp_save_error (&saved);
  remove_node (m->q, m->target);
  cdp_restore_error (&saved);
}

/* ---- Starting ------------------------------------------------------ */

/* A failed target write leaves its bytes counted in total-progress but
 * never in current-progress, while the job may still say "ready" for up
 * to a mirror time slice (100 ms) before it aborts.  Equal counters show
 * that nothing failed; writes in flight make them differ briefly, so
 * look again for up to a second. */
static bool
settled (struct qmp_mirror *m)
{
  for (int waited = 0; waited < 1000; waited += 20) {
    json_object *job CLEANUP_JSON_PUT = NULL;
    const char *status;

    if (qmp_find_job (m->q, m->job_id, &job) < 0)
      return false;
    status = qmp_json_string (job, "status");
    if (!streq (status, "ready") && !streq (status, "standby"))
      return false;
    if (qmp_json_int (job, "current-progress", -1)
        == qmp_json_int (job, "total-progress", -1))
      return true;
    sleep_ms (20);
  }
  return false;
}

static bool
adoptable (struct qmp_mirror *m, json_object *job, int64_t size)
{
  json_object *target CLEANUP_JSON_PUT = NULL;
  json_object *image;
  const char *status = qmp_json_string (job, "status");

  if (!streq (qmp_json_string (job, "type"), "mirror") || job_ended (status)
      || streq (status, "aborting") || streq (status, "waiting")
      || streq (status, "pending"))
    return false;
  if (qmp_find_node (m->q, m->target, &target) < 0
      || !streq (qmp_json_string (target, "drv"), "nbd")
      || !json_object_object_get_ex (target, "image", &image)
      || !streq (qmp_json_string (image, "filename"), m->uri)
      || virtual_size (target) != size)
    return false;
  /* Still in the initial copy: nothing to lose, the copy goes on. */
  if (!streq (status, "ready") && !streq (status, "standby"))
    return true;
  return settled (m);
}

static void
adopt (struct qmp_mirror *m, json_object *job)
{
  const char *status = qmp_json_string (job, "status");

  m->origin = QMP_MIRROR_ADOPTED;
  m->listening = true;
  m->state = QMP_MIRROR_SYNCING;
  m->since_ns = time_now_ns ();
  snprintf (m->reason, sizeof m->reason, "initial copy (adopted job)");
  if (streq (status, "ready") || streq (status, "standby"))
    set_protected (m, NULL);
  snprintf (m->note, sizeof m->note, "kept running mirror job %s (%s)",
            m->job_id, status);
}

/* Deal with a job or target node of ours left by an earlier run.
 * Returns 1 if the job was adopted, 0 if start must go on. */
static int
handle_leftovers (struct qmp_mirror *m, int64_t size, bool replace)
{
  json_object *job CLEANUP_JSON_PUT = NULL;
  json_object *node CLEANUP_JSON_PUT = NULL;
  int r;

  r = qmp_find_job (m->q, m->job_id, &job);
  if (r < 0 && r != -ENOENT)
    return r;
  if (job && !replace && adoptable (m, job, size)) {
    adopt (m, job);
    return 1;
  }
  if (job) {
    m->origin = QMP_MIRROR_REPLACED;
    snprintf (m->note, sizeof m->note, "removed earlier job %s", m->job_id);
    r = remove_job (m->q, m->job_id, m->note, sizeof m->note);
    if (r < 0)
      return r;
  }
  r = qmp_find_node (m->q, m->target, &node);
  if (r == -ENOENT)
    return 0;
  if (r < 0)
    return r;
  if (m->origin == QMP_MIRROR_NEW) {
    m->origin = QMP_MIRROR_REPLACED;
    snprintf (m->note, sizeof m->note, "removed stale target node %s",
              m->target);
  }
  return remove_node (m->q, m->target);
}

static int
add_target (struct qmp_mirror *m, const char *socket, const char *export,
            const struct qmp_mirror_options *opts)
{
  json_object *args CLEANUP_JSON_PUT = json_object_new_object ();
  json_object *server = json_object_new_object ();

  if (!put (server, "type", json_object_new_string ("unix"))
      || !put (server, "path", json_object_new_string (socket))
      || !put (args, "server", server)
      || !put (args, "driver", json_object_new_string ("nbd"))
      || !put (args, "node-name", json_object_new_string (m->target))
      || !put (args, "export", json_object_new_string (export))
      || !put (args, "discard", json_object_new_string ("unmap"))
      || (opts->reconnect_delay
          && !put (args, "reconnect-delay",
                   json_object_new_int64 (opts->reconnect_delay))))
    return cdp_set_error (-ENOMEM, "out of memory");
  return qmp_execute (m->q, "blockdev-add", args, NULL);
}

static int
check_target_size (struct qmp_mirror *m, int64_t size)
{
  json_object *node CLEANUP_JSON_PUT = NULL;
  int64_t tsize;
  int r;

  r = qmp_find_node (m->q, m->target, &node);
  if (r < 0)
    return r == -ENOENT ? cdp_set_error (-EPROTO, "target node vanished") : r;
  tsize = virtual_size (node);
  if (tsize != size)
    return cdp_set_error (-EINVAL, "the NBD export is %" PRId64 " bytes but "
                          "node %s is %" PRId64 " bytes", tsize, m->node,
                          size);
  return 0;
}

static int
start_job (struct qmp_mirror *m)
{
  json_object *args CLEANUP_JSON_PUT = json_object_new_object ();

  if (!put (args, "job-id", json_object_new_string (m->job_id))
      || !put (args, "device", json_object_new_string (m->node))
      || !put (args, "target", json_object_new_string (m->target))
      || !put (args, "filter-node-name", json_object_new_string (m->filter))
      || !put (args, "sync", json_object_new_string ("full"))
      || !put (args, "copy-mode", json_object_new_string ("write-blocking"))
      || !put (args, "on-source-error", json_object_new_string ("report"))
      || !put (args, "on-target-error", json_object_new_string ("report"))
      || !put (args, "auto-dismiss", json_object_new_boolean (false)))
    return cdp_set_error (-ENOMEM, "out of memory");
  m->listening = false;
  return qmp_execute (m->q, "blockdev-mirror", args, NULL);
}

static struct qmp_mirror *
mirror_new (struct qmp *q, const char *node, const char *socket,
            const char *export, const char *job_id)
{
  struct qmp_mirror *m = calloc (1, sizeof *m);
  char id[NODE_NAME_SIZE];

  if (m == NULL)
    return NULL;
  m->q = q;
  derive_name (m->target, "cdp-target-", node);
  derive_name (m->filter, "cdp-filter-", node);
  if (job_id == NULL) {
    derive_name (id, "cdp-", node);
    job_id = id;
  }
  m->node = strdup (node);
  m->job_id = strdup (job_id);
  if (asprintf (&m->uri, "nbd+unix:///%s?socket=%s", export, socket) < 0)
    m->uri = NULL;
  if (m->node == NULL || m->job_id == NULL || m->uri == NULL) {
    qmp_mirror_free (m);
    return NULL;
  }
  m->state = QMP_MIRROR_SYNCING;
  snprintf (m->reason, sizeof m->reason, "initial copy in progress");
  return m;
}

int
qmp_mirror_start (struct qmp *q, const char *node, const char *nbd_socket,
                  const char *export_name, const char *job_id,
                  const struct qmp_mirror_options *opts,
                  struct qmp_mirror **mp)
{
  static const struct qmp_mirror_options defaults;
  struct qmp_mirror *m;
  int64_t size = -1;
  int r;

  if (opts == NULL)
    opts = &defaults;
  if (export_name == NULL)
    export_name = "";
  if (node == NULL || node[0] == '\0' || nbd_socket == NULL
      || nbd_socket[0] == '\0')
    return cdp_set_error (-EINVAL, "mirror: node and socket are required");
  if (job_id && !well_formed (job_id))
    return cdp_set_error (-EINVAL, "mirror: bad job id '%s' (a letter, "
                          "then letters, digits, '-', '.', '_')", job_id);
  m = mirror_new (q, node, nbd_socket, export_name, job_id);
  if (m == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");

  r = source_size (q, node, &size);
  if (r < 0)
    goto err;
  r = handle_leftovers (m, size, opts->replace_existing);
  if (r < 0)
    goto err;
  if (r == 1)
    goto out;
  r = add_target (m, nbd_socket, export_name, opts);
  if (r < 0)
    goto err;
  r = check_target_size (m, size);
  if (r < 0)
    goto err_target;
  r = start_job (m);
  if (r < 0)
    goto err_target;
  m->since_ns = time_now_ns ();
 out:
  *mp = m;
  return 0;

 err_target:
  undo_target (m);
 err:
  qmp_mirror_free (m);
  return r;
}

/* ---- Stopping ------------------------------------------------------ */

int
qmp_mirror_stop (struct qmp_mirror *m)
{
  int r;

  m->stopped = true;
  r = remove_job (m->q, m->job_id, NULL, 0);
  if (r == 0)
    r = remove_node (m->q, m->target);
  if (r < 0) {
    set_broken (m, NULL, false, "could not stop mirror job %s: %s",
                m->job_id, cdp_get_error ());
    return r;
  }
  m->state = QMP_MIRROR_STOPPED;
  m->since_ns = time_now_ns ();
  snprintf (m->reason, sizeof m->reason, "stopped");
  return 0;
}

void
qmp_mirror_free (struct qmp_mirror *m)
{
  if (m == NULL)
    return;
  free (m->node);
  free (m->job_id);
  free (m->uri);
  free (m);
}
