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

struct served {
  struct task *t;
  struct receiver *rx;
  struct maint *maint;
  struct control *control;
  int lockfd;                       /* serve.lock, held; -1: not ours */
  bool state_failed;                /* the last state.json write failed */
  atomic_bool release;              /* task delete asked to let it go */
  atomic_bool stopping;             /* this task alone is being stopped */
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
/* Set the state and reason shown for disk i (logged when it changes). */
void protect_state (struct served *s, size_t i, const char *state,
                    const char *reason);

#endif
