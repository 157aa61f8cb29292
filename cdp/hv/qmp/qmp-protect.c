/* cdp serve: the protector of a QMP-mode task.
 *
 * One thread per task owns a connection to QEMU's monitor (qmp.h) and,
 * for each disk (a block node), a blockdev-mirror job to the receiver
 * (qmp-mirror.c).  A session starts every job and follows QEMU's events
 * until one breaks or serve stops; then the thread connects again and
 * starts over.  Journaling goes through protect.h: a GAP before each
 * job's initial copy, a RESUME at READY, a GAP dated at QEMU's event
 * when a job breaks, and one when serve stops (before the job is
 * removed: guest writes no longer reach the receiver).
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/error.h"
#include "cdp/hv/protect.h"
#include "cdp/hv/qmp/qmp.h"
#include "common/timeutil.h"

/* The initial copy's progress of the mirrors still copying. */
static void
qmp_progress (struct served *s, struct qmp *q, struct qmp_mirror **m,
              const bool *ready)
{
  for (size_t i = 0; i < s->t->disks.len; i++) {
    struct json_object *job = NULL;
    if (ready[i] || m[i] == NULL ||
        qmp_mirror_state (m[i], NULL, NULL) != QMP_MIRROR_SYNCING ||
        qmp_find_job (q, qmp_mirror_job_id (m[i]), &job) < 0)
      continue;
    int64_t done = qmp_json_int (job, "current-progress", -1);
    int64_t total = qmp_json_int (job, "total-progress", -1);
    if (done >= 0 && total > 0)
      protect_progress (s, i, (uint64_t) done, (uint64_t) total);
    json_object_put (job);
  }
}

/* One QMP session: start every mirror, follow events until one breaks
 * or we stop.  Returns when the session is over. */
static void
protect_session (struct served *s, struct qmp *q)
{
  size_t n = s->t->disks.len;
  struct qmp_mirror **m = calloc (n, sizeof *m);
  bool *ready = calloc (n, sizeof *ready);
  /* A job left from an earlier serve wrote to a receiver that is gone:
   * its NBD connection is dead even if QEMU has not noticed yet. */
  struct qmp_mirror_options o = { .reconnect_delay = 0,
                                  .replace_existing = true };
  bool broken = false;
  int64_t next_progress = 0;

  for (size_t i = 0; i < n && !broken; i++) {
    const char *node = s->t->disks.ptr[i].name;
    protect_starting (s, i);
    if (qmp_mirror_start (q, node, receiver_socket (s->rx), node, NULL, &o,
                          &m[i]) < 0) {
      protect_lost (s, i, cdp_get_error (), 0);
      broken = true;
    }
  }
  while (!broken && !serve_stopping (s)) {
    struct json_object *ev = NULL;
    int e = qmp_next_event (q, 500, &ev);
    for (size_t i = 0; i < n; i++) {
      const char *reason = "";
      int64_t since = 0;
      if (e < 0 && e != -ETIMEDOUT && e != -EAGAIN && e != -ENOBUFS)
        qmp_mirror_connection_lost (m[i], e);
      else if (ev)
        qmp_mirror_handle_event (m[i], ev);
      enum qmp_mirror_state st = qmp_mirror_state (m[i], &reason, &since);
      if (st == QMP_MIRROR_PROTECTED && !ready[i]) {
        ready[i] = true;
        protect_ready (s, i);
      }
      else if (st == QMP_MIRROR_BROKEN) {
        protect_lost (s, i, reason, since);
        broken = true;
      }
    }
    json_object_put (ev);
    if (!broken && time_now_ns () >= next_progress) {
      qmp_progress (s, q, m, ready);
      next_progress = time_now_ns () + 1000000000LL;
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (m[i] && serve_stopping (s)) {
      /* Guest writes stop reaching us from here on. */
      protect_lost (s, i, atomic_load (&s->stopping)
                    ? "cdp serve let the task go" : "cdp serve stopped", 0);
      qmp_mirror_stop (m[i]);
    }
    qmp_mirror_free (m[i]);
  }
  free (m);
  free (ready);
}

void *
qmp_protector (void *arg)
{
  struct served *s = arg;

  while (!serve_stopping (s)) {
    struct qmp *q;
    int e = qmp_connect (s->t->qmp, &q);
    if (e < 0) {
      for (size_t i = 0; i < s->t->disks.len; i++)
        protect_waiting (s, i, "QEMU's QMP socket does not answer");
    }
    else {
      protect_session (s, q);
      qmp_close (q);
    }
    for (int k = 0; k < 10 && !serve_stopping (s); k++)
      usleep (100000);
  }
  return NULL;
}
