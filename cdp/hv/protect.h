/* cdp: what every protector of `cdp serve` shares (a driver's protector,
 * hv.h: qmp/qmp-protect.c, libvirt/libvirt-protect.c); daemon/serve.c
 * defines these calls.
 *
 * A protector drives the copy job of each disk of one task and tells
 * the rest of the daemon what it sees through these calls, which keep
 * the journal's fidelity record and the disk's state (run/state.json)
 * in step:
 *
 *   protect_starting  before a job's initial copy: a GAP (unless the
 *                     history is in one already), state "copying"; the
 *                     receiver compares what the copy sends with what it
 *                     holds and journals only the difference
 *   protect_ready     the job is READY: a RESUME, state "protected"
 *   protect_lost      the job broke or the VM went away: a GAP dated
 *                     since_ns (0: now), state "not protected"
 *   protect_waiting   nothing runs and nothing is journaled: state
 *                     "not protected" with the reason (VM shut off,
 *                     another job on the disk, libvirt unreachable)
 *
 * Thread rules: a disk's calls come from its task's protector thread
 * only; the state is read by the main thread under s->lock.
 */
#ifndef CDP_PROTECT_H
#define CDP_PROTECT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cdp/task/task.h"
#include "cdp/daemon/daemon.h"

struct disk_state {
  const char *state;                /* static string */
  char reason[256];
  int64_t since_ns;
  bool in_gap;                      /* the last fidelity record is a GAP */
  uint64_t copy_done, copy_total;   /* initial copy progress, bytes */
  uint64_t rate_bytes;              /* ingest rate: bytes at rate_ns */
  int64_t rate_ns;
  double rate;                      /* bytes/s over the last interval */
};

/* What cdp resize and cdp detach ask of a protector through the control
 * socket (protect_request); under served.lock. */
enum protect_op { PROTECT_RESIZE, PROTECT_DETACH };
struct protect_request {
  bool asked, answered;
  enum protect_op op;
  char disk[64];
  uint64_t size;                    /* PROTECT_RESIZE: the new size */
  int result;                       /* 0, or -errno with msg */
  char msg[512];
  uint64_t old_size, seq;           /* resize answered: what it was, and
                                       the first seq at the new size */
};

struct served {
  struct task *t;
  struct receiver *rx;
  struct maint *maint;
  struct control *control;
  int lockfd;                       /* serve.lock, held; -1: not ours */
  bool state_failed;                /* the last state.json write failed */
  atomic_bool release;              /* task delete asked to let it go */
  atomic_bool stopping;             /* this task alone is being stopped */
  atomic_bool retake;               /* a disk was added to task.json: the
                                       main thread takes the task up again */
  struct protect_request req;       /* under lock */
  char unprotected[256];            /* under lock: disks of the VM the task
                                       does not protect (named disks) */
  pthread_t protector;
  bool has_protector;
  pthread_mutex_t lock;
  struct disk_state *ds;
  struct recover_watch rw;          /* main thread only */
};

/* The daemon, or this task alone, is stopping: protectors end their
 * jobs and return. */
bool serve_stopping (const struct served *s);

void protect_starting (struct served *s, size_t i);
void protect_ready (struct served *s, size_t i);
void protect_lost (struct served *s, size_t i, const char *reason,
                   int64_t since_ns);
void protect_waiting (struct served *s, size_t i, const char *reason);
/* Initial copy progress, shown in the reason and in state.json. */
void protect_progress (struct served *s, size_t i, uint64_t done,
                       uint64_t total);
/* The control thread, for cdp resize and cdp detach (control.c's
 * control_disk_fn): have the protector do op on disk ("resize",
 * "detach") and wait for its answer (at most 120 s).  0, or -errno with
 * msg saying why (-ENOTSUP: the mode's protector cannot). */
int protect_request (void *served, const char *op, const char *disk,
                     uint64_t size, char *msg, size_t len,
                     uint64_t *old_size, uint64_t *seq);
/* The protector: the request asked, if any (true: *r is a copy), and
 * its answer. */
bool protect_asked (struct served *s, struct protect_request *r);
void protect_answer (struct served *s, int result, const char *msg,
                     uint64_t old_size, uint64_t seq);

/* Set the state and reason shown for disk i (logged when it changes). */
void protect_state (struct served *s, size_t i, const char *state,
                    const char *reason);

#endif
