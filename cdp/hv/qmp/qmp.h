/* cdp: a QMP client (qmp.c) and the QMP-mode mirror driver (qmp-mirror.c).
 *
 * qmp.c speaks the QEMU Machine Protocol over a unix socket: it reads the
 * greeting, leaves capabilities negotiation mode, runs commands and
 * queues the asynchronous events that QEMU sends meanwhile, so that a
 * daemon can read them later from its own poll loop.
 *
 * qmp-mirror.c starts, watches and stops one `blockdev-mirror` job
 * (sync=full, copy-mode=write-blocking) whose target is an NBD node that
 * writes to cdp's receiver, and tells from the job's events whether the
 * receiver gets a faithful write history (PROTECTED) or not, and why.
 *
 * Thread rules: a handle (struct qmp, and every struct qmp_mirror made on
 * it) belongs to one thread at a time.  Different handles are
 * independent.
 *
 * Errors: every function returns >= 0 on success and -errno on failure;
 * none prints or touches errno.  After a failure, the thread's error
 * (common/error.h, cdp_get_error) holds a line a person can read (for a
 * QMP error, the command and QEMU's `desc`).
 *
 * JSON values are json-c objects.  Arguments passed in are borrowed (the
 * caller keeps its reference); values handed out carry a new reference
 * the caller drops with json_object_put().
 */
#ifndef CDP_QMP_H
#define CDP_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

/* Drop a json-c reference at the end of the scope. */
void qmp_cleanup_json_put (struct json_object **obj);
#define CLEANUP_JSON_PUT __attribute__ ((cleanup (qmp_cleanup_json_put)))

/* ---- qmp.c: the client ------------------------------------------------ */

struct qmp;

/* Default limit, in milliseconds, on every blocking wait of a handle. */
#define QMP_DEFAULT_TIMEOUT_MS 5000

/* Events kept for the caller at most; see qmp_next_event. */
#define QMP_MAX_QUEUED_EVENTS 1024

/* Connect to the QMP monitor listening on the unix socket path, read its
 * greeting and send qmp_capabilities.  The monitor must be one nobody
 * else uses (QEMU accepts several -qmp options: give cdp its own).
 * Errors: -ENOENT, -ECONNREFUSED (nothing listens at path),
 * -ENAMETOOLONG (path longer than a sockaddr_un holds), -ETIMEDOUT (no
 * greeting or reply in time), -EPROTO (the peer does not speak QMP),
 * -ECONNRESET (closed meanwhile), -ENOMEM, -EIO. */
int qmp_connect (const char *path, struct qmp **qp);

/* Close the connection and free the handle and every queued event.  Safe
 * on NULL.  QEMU keeps running, and so do its block jobs. */
void qmp_close (struct qmp *q);

/* Limit every later blocking wait of q (connecting excepted) to
 * timeout_ms milliseconds; timeout_ms < 0 means wait forever.
 * qmp_get_timeout returns the limit in force. */
void qmp_set_timeout (struct qmp *q, int timeout_ms);
int qmp_get_timeout (const struct qmp *q);

/* The socket, for a caller's poll(): readable when QEMU sent something.
 * Events may already sit in q's queue, read while a command waited for
 * its reply; poll only after qmp_next_event (q, 0, ...) returned 0. */
int qmp_fd (const struct qmp *q);

/* QEMU's version, from the greeting. */
void qmp_qemu_version (const struct qmp *q, int *major, int *minor,
                       int *micro);

/* Run command with args (an object, or NULL for none) and wait for its
 * reply, matched by "id"; events that arrive meanwhile are queued.  On
 * success, if ret is not NULL, *ret is the reply's "return" value.
 * A QMP error maps its class: CommandNotFound -> -ENOSYS,
 * DeviceNotFound -> -ENODEV, any other -> -EIO, with "COMMAND: desc" in
 * cdp_get_error().  Other errors: -ETIMEDOUT (no reply in time; a late
 * reply is discarded, the handle stays usable), -ECONNRESET or -EPIPE
 * (QEMU closed the connection or died: sticky, every later call fails
 * alike), -EPROTO, -EMSGSIZE (a message past 16 MiB), -ENOMEM. */
int qmp_execute (struct qmp *q, const char *command,
                 struct json_object *args, struct json_object **ret);

/* Take the oldest event ({"event": NAME, "data": {...}, "timestamp":
 * {...}}): a queued one, or one that arrives within timeout_ms (0: do
 * not wait; < 0: wait forever).  Returns 1 with *ev set, 0 if none came
 * in time.  Queued events are all delivered before a lost connection is
 * reported as -ECONNRESET or -EPIPE (so SHUTDOWN and the job's last
 * events are not lost when QEMU exits).  -ENOBUFS, returned once, says
 * that more than QMP_MAX_QUEUED_EVENTS were waiting and the oldest were
 * dropped: re-read whatever state the caller tracks (qmp_mirror_refresh).
 * Other errors as qmp_execute. */
int qmp_next_event (struct qmp *q, int timeout_ms, struct json_object **ev);

/* Run a human monitor command (HMP) through QMP's human-monitor-command,
 * e.g. `qemu-io -d vd0/virtio-backend "write -P 0x41 0 4k"`, which
 * writes through the guest device as a guest would.  If output is not
 * NULL, *output is the command's text (free() it).  Output starting with
 * "Error: " (HMP's own errors) fails with -EIO, the message in
 * cdp_get_error() and *output still set.  Other errors as qmp_execute. */
int qmp_hmp (struct qmp *q, const char *command_line, char **output);

/* The event's name and its data object (borrowed from ev; data may be
 * NULL), and its QEMU timestamp in nanoseconds since the epoch (0 if it
 * has none).  Return NULL / 0 for a malformed event. */
const char *qmp_event_name (struct json_object *ev);
struct json_object *qmp_event_data (struct json_object *ev);
int64_t qmp_event_time_ns (struct json_object *ev);

/* Member key of obj as a string (borrowed) or an integer; NULL / dflt
 * when obj is NULL, key is missing or of another type. */
const char *qmp_json_string (struct json_object *obj, const char *key);
int64_t qmp_json_int (struct json_object *obj, const char *key,
                      int64_t dflt);

/* Run a query command that returns a list (query-jobs, query-block,
 * query-named-block-nodes) and take the element whose string member key
 * equals value: 0 with *found (a new reference), or -ENOENT.  Other
 * errors as qmp_execute. */
int qmp_query_find (struct qmp *q, const char *command,
                    struct json_object *args, const char *key,
                    const char *value, struct json_object **found);

/* Shorthands: the query-named-block-nodes {flat: true} entry of node
 * name; the query-jobs entry of job id. */
int qmp_find_node (struct qmp *q, const char *name, struct json_object **node);
int qmp_find_job (struct qmp *q, const char *id, struct json_object **job);

/* The QOM path of the guest device whose BlockBackend sits on the top
 * node `node` (or on the -drive device of that name), as query-block
 * tells, e.g. "/machine/peripheral/vd0/virtio-backend": what `qemu-io -d`
 * takes.  Once a mirror runs its filter is the top node: ask for
 * qmp_mirror_filter_node() then.  *qdev is malloc'd.  Errors: -ENODEV
 * (no device on that node), qmp_execute's. */
int qmp_block_qdev (struct qmp *q, const char *node, char **qdev);

/* ---- qmp-mirror.c: the QMP-mode mirror driver ----------------------- */

struct qmp_mirror;

/* Protection of one disk, as far as its mirror job tells. */
enum qmp_mirror_state {
  QMP_MIRROR_STOPPED,    /* no job: not started, or stopped on purpose */
  QMP_MIRROR_SYNCING,    /* initial full copy: writes are not yet history */
  QMP_MIRROR_PROTECTED,  /* READY: every guest write reaches the target
                            before the guest sees it complete */
  QMP_MIRROR_BROKEN,     /* the job failed, ended or QEMU went away: the
                            reason says which; stop and start again */
};

/* How qmp_mirror_start found QEMU. */
enum qmp_mirror_origin {
  QMP_MIRROR_NEW,        /* no job of ours: started one */
  QMP_MIRROR_ADOPTED,    /* our job still ran (the caller restarted):
                            kept it; no new full copy */
  QMP_MIRROR_REPLACED,   /* a job or target node of ours was left over
                            and could not be kept: removed, started anew */
};

struct qmp_mirror_options {
  /* Seconds the NBD node waits for the target to come back after losing
   * its connection, holding guest writes meanwhile; a receiver restarted
   * in time then loses no history.  0 (QEMU's default): fail at once,
   * which ends the job. */
  unsigned reconnect_delay;
  /* Never adopt a running job: always remove it and start anew. */
  bool replace_existing;
};

/* Mirror block node `node` (a node name, or the device name of a -drive)
 * of the QEMU behind q to the NBD export export_name (NULL or "" for the
 * default export) served on the unix socket nbd_socket.  job_id names the
 * job (NULL: "cdp-NODE"); the target node is "cdp-target-NODE" and the
 * mirror filter "cdp-filter-NODE" (a longer NODE is shortened with a
 * hash to fit QEMU's 31 characters).
 *
 * QMP: blockdev-add {driver: nbd, node-name, server: {type: unix, path},
 * export, discard: unmap, [reconnect-delay]}, then blockdev-mirror
 * {job-id, device: node, target, filter-node-name, sync: full,
 * copy-mode: write-blocking, on-source-error: report, on-target-error:
 * report, auto-dismiss: false}.  qmp-mirror.c says why.
 *
 * A job named job_id that is still running (a restarted caller) is
 * adopted if its target node serves nbd_socket/export_name at the
 * node's size and, once READY, no target write has failed (its progress
 * counters agree; checked for up to a second); any other leftover job
 * or target node is removed first (see qmp_mirror_origin).  An adopted
 * READY job means no write was lost *by QEMU* since its READY: whether
 * the receiver kept every write it acknowledged is the caller's to
 * know.
 *
 * On success *mp is the mirror, in state SYNCING (or what an adopted job
 * is in); feed it q's events with qmp_mirror_handle_event or
 * qmp_mirror_poll.  The job's first events are already queued in q.
 * Errors: -EINVAL (bad name; the export's size differs from the node's),
 * -ENODEV (no such node), -EBUSY (a leftover target node is in use and
 * cannot be removed), the errors of qmp_execute (blockdev-add fails with
 * -EIO when nothing serves nbd_socket), -ENOMEM.  On failure nothing
 * made by this call is left in QEMU. */
int qmp_mirror_start (struct qmp *q, const char *node,
                      const char *nbd_socket, const char *export_name,
                      const char *job_id,
                      const struct qmp_mirror_options *opts,
                      struct qmp_mirror **mp);

/* Current state; *reason (if not NULL) says why the disk is not
 * protected ("" when PROTECTED), valid until the next call on m;
 * *since_ns (if not NULL) is when this state began: QEMU's timestamp of
 * the event that caused it, or the local clock (CLOCK_REALTIME) when no
 * event did. */
enum qmp_mirror_state qmp_mirror_state (const struct qmp_mirror *m,
                                        const char **reason,
                                        int64_t *since_ns);

/* How start found QEMU, and (for REPLACED) what it removed. */
enum qmp_mirror_origin qmp_mirror_origin (const struct qmp_mirror *m,
                                          const char **note);

/* Names used in QEMU (valid while m lives). */
const char *qmp_mirror_job_id (const struct qmp_mirror *m);
const char *qmp_mirror_target_node (const struct qmp_mirror *m);
const char *qmp_mirror_filter_node (const struct qmp_mirror *m);

/* Feed one event read from q.  Returns 1 if it concerned this mirror
 * (its state may have changed), 0 if not.  A mirror only moves forward
 * (SYNCING -> PROTECTED -> BROKEN); BLOCK_JOB_READY protects,
 * BLOCK_JOB_ERROR, BLOCK_JOB_COMPLETED, BLOCK_JOB_CANCELLED, SHUTDOWN and
 * JOB_STATUS_CHANGE to aborting/waiting/pending/concluded/null break.
 * Several mirrors may share one q: give every event to each of them. */
int qmp_mirror_handle_event (struct qmp_mirror *m, struct json_object *ev);

/* Tell m that q's connection was lost (err as qmp_next_event returned
 * it): QEMU died or closed the monitor.  m becomes BROKEN. */
void qmp_mirror_connection_lost (struct qmp_mirror *m, int err);

/* For a q that carries only this mirror: wait up to timeout_ms for one
 * event and feed it to m; a lost connection is fed too.  Returns 1 if an
 * event was handled, 0 on timeout, -ECONNRESET / -EPIPE once the
 * connection is gone (m is BROKEN then), other errors as qmp_next_event. */
int qmp_mirror_poll (struct qmp_mirror *m, int timeout_ms);

/* Re-read the job's status with query-jobs, for when events may have
 * been missed (qmp_next_event returned -ENOBUFS).  Errors as
 * qmp_execute. */
int qmp_mirror_refresh (struct qmp_mirror *m);

/* Stop mirroring on purpose: block-job-cancel {force: true} if the job
 * still runs, wait until it concluded, job-dismiss, blockdev-del of the
 * target node.  The guest keeps running on its disk untouched.  m
 * becomes STOPPED and ignores the job's remaining events.  Errors:
 * -ETIMEDOUT (the job did not end in time), qmp_execute's. */
int qmp_mirror_stop (struct qmp_mirror *m);

/* Free m.  Leaves QEMU as it is: call qmp_mirror_stop first to end the
 * job.  Safe on NULL. */
void qmp_mirror_free (struct qmp_mirror *m);

/* ---- qmp-protect.c: the protector of a QMP-mode task (hv.h) ---------- */

/* The protector thread: arg is the task's struct served (protect.h). */
void *qmp_protector (void *served);

#endif
