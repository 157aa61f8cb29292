/* cdp/rapid: rapid recovery.  A VM runs at once on overlays over a
 * point served read-only over NBD, while the point's data streams in
 * behind it.  The state of a task's recovery (TASK/recover.json); what
 * the command (cli/cmd-recover.c: the point, the export, the overlays,
 * the domain) and the streaming (recover-stream.c: the pulls, their
 * progress, the end) share.  One thread: the command's. */
#ifndef CDP_RAPID_H
#define CDP_RAPID_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "cdp/task/task.h"

/* ---- recover-state.c: a task's rapid recovery (TASK/recover.json) -------- */

struct recovery_disk {
  char *disk;                 /* the task's disk */
  char *overlay;              /* the qcow2 overlay the VM runs on */
  uint64_t done, total;       /* bytes streamed in so far, of */
};
DEFINE_VECTOR_TYPE (recovery_disk_vector, struct recovery_disk)

struct recovery {
  char *state;                /* starting, streaming, done, failed */
  char *mode;                 /* as, in-place, qmp */
  char *domain;               /* libvirt: the domain on the overlays */
  char *connect;              /* libvirt: the connection URI, or NULL */
  char *socket;               /* the export's unix socket */
  char *error;                /* why it failed (state failed) */
  int64_t at_ns;              /* the point's time */
  uint64_t seq;               /* the point's seq (locked while it runs) */
  bool locked;                /* this recovery made that lock */
  int64_t started_ns, updated_ns, ready_ns, done_ns;
  recovery_disk_vector disks;
};
int recovery_load (const struct task *t, struct recovery *r);   /* -ENOENT: none */
int recovery_save (const struct task *t, struct recovery *r);
void recovery_clear (struct recovery *r);
/* Take TASK/recover.lock for this process: the fd, or -EBUSY. */
int recovery_lock (const struct task *t);
/* Written as starting or streaming. */
bool recovery_unfinished (const struct recovery *r);
/* The state an operator sees: "interrupted" for an unfinished recovery
 * that no cdp recover runs any more. */
const char *recovery_state (const struct task *t, const struct recovery *r);
/* Does an unfinished in-place recovery stream disk in (cdp serve must not
 * start a copy of it)? */
bool recovery_holds (const struct task *t, const char *disk);
/* Add "recovery" to a task's status object, if it has one on record. */
void recovery_status (const struct task *t, struct json_object *status);


struct lv;
struct pexp;
struct nbd_server;

struct rec {
  const char *store;
  struct task *t;                   /* the task (owned) */
  struct recovery r;                /* what recover.json says */
  unsigned long bandwidth;          /* MiB/s, 0: no limit */
  struct pexp *px;
  struct nbd_server *srv;
  struct lv *l;                     /* libvirt: the domain on the overlays */
  sigset_t sigs;
  bool tty;
  int64_t t0;                       /* when the command started */
  bool resuming;                    /* --resume */
  char *made_dir;                   /* PATH, when this recovery creates it */
};

double rec_secs (int64_t ns);
/* Write recover.json; prints the error. */
int rec_save (struct rec *c);
/* Let go of the point's lock, if this recovery made it. */
void rec_unlock_point (struct rec *c);
/* The export's URI for disk (malloc'd). */
char *rec_uri (const struct rec *c, const char *disk);
void rec_stop_export (struct rec *c);

/* recover-stream.c.  How to boot and stream the point without libvirt,
 * on stdout. */
void rec_print_qmp_howto (struct rec *c);
/* Stream until every overlay stands alone (libvirt: drive the pulls;
 * else wait for someone's block-stream), then stop the export, unlock,
 * record the recovery done.  EXIT_OK or EXIT_FAIL (said why). */
int rec_finish (struct rec *c);

#endif
