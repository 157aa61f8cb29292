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
#include <sys/types.h>

#include "cdp/task/task.h"

/* ---- recover-state.c: a task's rapid recovery (TASK/recover.json) -------- */

struct rapid_disk {
  char *disk;                 /* the task's disk */
  char *overlay;              /* the qcow2 overlay the VM runs on */
  uint64_t done, total;       /* bytes streamed in so far, of */
};
DEFINE_VECTOR_TYPE (rapid_disk_vector, struct rapid_disk)

struct rapid_state {
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
  rapid_disk_vector disks;
};
int rapid_state_load (const struct task *t, struct rapid_state *r);   /* -ENOENT: none */
int rapid_state_save (const struct task *t, struct rapid_state *r);
void rapid_state_clear (struct rapid_state *r);
/* Take TASK/recover.lock for this process: the fd, or -EBUSY. */
int rapid_lock (const struct task *t);
/* Written as starting or streaming. */
bool rapid_state_unfinished (const struct rapid_state *r);
/* The state an operator sees: "interrupted" for an unfinished recovery
 * that no cdp recover runs any more. */
const char *rapid_state_shown (const struct task *t, const struct rapid_state *r);
/* Does an unfinished in-place recovery stream disk in (cdp serve must not
 * start a copy of it)? */
bool rapid_holds (const struct task *t, const char *disk);
/* Add "recovery" to a task's status object, if it has one on record. */
void rapid_status (const struct task *t, struct json_object *status);


struct lv;
struct pexp;
struct nbd_server;

struct rapid {
  const char *store;
  struct task *t;                   /* the task (owned) */
  struct rapid_state r;                /* what recover.json says */
  unsigned long bandwidth;          /* MiB/s, 0: no limit */
  struct pexp *px;
  struct nbd_server *srv;
  struct lv *l;                     /* libvirt: the domain on the overlays */
  sigset_t sigs;
  bool tty;
  int64_t t0;                       /* when the command started */
  bool resuming;                    /* --resume */
  char *made_dir;                   /* PATH, when this recovery creates it */
  bool json;                        /* --json: stdout is the command's
                                       document only; the rest goes to stderr */
  /* The stream's progress, done of total bytes of every disk (final:
   * every overlay stands alone), instead of the line drawn on stderr;
   * NULL: that line. */
  void (*progress) (void *opaque, uint64_t done, uint64_t total, bool final);
  void *progress_opaque;
};

double rapid_secs (int64_t ns);
/* Write recover.json; prints the error. */
int rapid_save (struct rapid *c);
/* Let go of the point's lock, if this recovery made it. */
void rapid_unlock_point (struct rapid *c);
/* The export's URI for disk (malloc'd), or NULL: out of memory. */
char *rapid_uri (const struct rapid *c, const char *disk);
void rapid_stop_export (struct rapid *c);
/* Serve the points at r.at_ns on r.socket, open to QEMU running as
 * uid/gid; create each disk's overlay on them.  0, or not 0 with the
 * recovery recorded failed and why said. */
int rapid_start_export (struct rapid *c, uid_t uid, gid_t gid);
int rapid_create_overlays (struct rapid *c);
/* Record the recovery failed (unless it is being resumed) and say why
 * in one line; returns EXIT_FAIL. */
int rapid_failed (struct rapid *c, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* recover-stream.c.  How to boot and stream the point without libvirt,
 * on stdout (stderr with json). */
void rapid_print_qmp_howto (struct rapid *c);
/* Stream until every overlay stands alone (libvirt: drive the pulls;
 * else wait for someone's block-stream), then stop the export, unlock,
 * record the recovery done.  EXIT_OK or EXIT_FAIL (said why). */
int rapid_finish (struct rapid *c);

#endif
