/* cdp/daemon: what `cdp serve` runs for each task it serves: the
 * receiver QEMU's mirror writes into, maintenance (base points,
 * retention, space), the control socket, and the watch over interrupted
 * rapid recoveries.  Threads: see docs/ARCHITECTURE.md. */
#ifndef CDP_DAEMON_H
#define CDP_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cdp/task/task.h"

/* ---- serve.c: the daemon ------------------------------------------------ */

/* Serve the tasks of the store (the receiver, maintenance and control
 * socket of each, and in QMP and libvirt mode its protector) until
 * SIGINT or SIGTERM, which it blocks: every task of the store, taken up
 * as it is created and let go as it is deleted, or, when names is not
 * empty, only the tasks named.  A task that cannot be served is said
 * why, once, and tried again later.  0 when stopped; EXIT_FAIL (said
 * why) when another serve holds the store or its lock cannot be taken. */
int serve_run (const char *store, const string_vector *names);

/* ---- serve-store.c: one serve per store, and what task create sees ---- */

#define SERVE_VERSION 1     /* STORE/serve.json */
/* Hold STORE/serve.lock (flock, the store made if need be) with this
 * process's pid written in it; a holder that may be `task create`
 * looking is waited for 2 s.  0 with *fd; -EWOULDBLOCK with *holder the
 * pid of the serve holding it (0: not known); other -errno. */
int serve_store_lock (const char *store, int *fd, long long *holder);
/* Replace STORE/serve.json with o (its version set), without syncs:
 * jf_save_volatile's errors. */
struct json_object;
int serve_store_save (const char *store, struct json_object *o);

/* What the serve of a store does with a task just created. */
enum serve_take {
  SERVE_TAKE_NONE,          /* no cdp serve runs for the store */
  SERVE_TAKE_TAKEN,         /* its heartbeat in TASK/run/state.json */
  SERVE_TAKE_REFUSED,       /* it cannot serve it: why */
  SERVE_TAKE_NOT_NAMED,     /* it serves only the tasks it was named */
  SERVE_TAKE_STOPPED,       /* it stopped while we waited */
};
/* Wait at most ms for the cdp serve of store (*pid: its pid, 0 when not
 * known) to take t up.  An enum serve_take (why filled for REFUSED),
 * -ETIMEDOUT, or -errno when the store's lock cannot be read. */
int serve_await_task (const char *store, const struct task *t, unsigned ms,
                      long long *pid, char *why, size_t len);

/* Does the live cdp serve of store refuse the task name?  1 with *pid,
 * why and *next_try_ns (when it tries again; 0 when not said); 0 when no
 * serve runs or it does not refuse it; -errno when the store's lock
 * cannot be read. */
int serve_store_refusal (const char *store, const char *name, long long *pid,
                         char *why, size_t len, int64_t *next_try_ns);

/* ---- receiver.c: the NBD target QEMU's mirror writes into ------------- */

struct receiver;
int receiver_start (struct task *t, struct receiver **rp);
/* Append a bookmark, gap or resume record for disk (all disks: UINT32_MAX)
 * and wait until it is durable.  since_ns: for a gap journaled after the
 * fact, the earlier instant fidelity was lost at; else 0. */
int receiver_event (struct receiver *r, uint16_t type, uint32_t disk,
                    const char *label, int64_t since_ns);
/* Disk's size changes from old_size to size while no job writes to it
 * (its history is in a gap): a shrink journals the cut range as
 * trimmed, durably, so that a disk grown again reads zeroes there, as
 * QEMU's does.  *seq: the first seq at the new size (every record of
 * the disk from then on comes after it).  0 or -errno. */
int receiver_resized (struct receiver *r, uint32_t disk, uint64_t old_size,
                      uint64_t size, uint64_t *seq);
/* The newest record the receiver indexed itself, and its time: durable.
 * The index may hold newer ones: another process (cdp points, export)
 * catching up from the journal reads what the kernel holds, which at an
 * RPO above 0 a power loss can still take. */
void receiver_durable_end (struct receiver *r, uint64_t *seq, int64_t *t);
/* If the history of disk ends without a gap (whoever journaled it last
 * did not stop cleanly), the time of the journal's last record; else 0. */
int64_t receiver_open_end (struct receiver *r, uint32_t disk);
const char *receiver_socket (struct receiver *r);  /* unix socket, or NULL */
/* A job's initial copy of disk runs (on) or ended (off): while it runs,
 * only what differs from the disk as journaled is journaled. */
void receiver_copying (struct receiver *r, uint32_t disk, bool on);
void receiver_copy_stats (struct receiver *r, uint32_t disk,
                          uint64_t *received, uint64_t *kept);
/* Let QEMU running as uid/gid (and nobody else) connect to the unix
 * socket; -EACCES etc. with why filled when it cannot reach it. */
int receiver_grant (struct receiver *r, uid_t uid, gid_t gid, char *why,
                    size_t len);
void receiver_stats (struct receiver *r, uint32_t disk, uint64_t *writes,
                     uint64_t *bytes, int64_t *last_write_ns);
struct journal *receiver_journal (struct receiver *r);
struct cdp_index *receiver_index (struct receiver *r);
/* Have the indexer commit every durable record queued so far at once (it
 * spaces its commits), and wait until it has tried: the index then holds
 * them, unless it could not be written (a full store).  Records not yet
 * durable (an RPO above 0) wait for the journal's sync, not hastened. */
void receiver_index_current (struct receiver *r);
/* Journal segments were reclaimed: let go of their files. */
void receiver_reclaimed (struct receiver *r);
/* fn(opaque) is called (on the journal thread; must not block) when a
 * write found the journal full; the write is held unanswered until
 * receiver_retry_stalled appends it again (fail_with == 0) or fails it
 * with fail_with.  Returns how many writes were held. */
void receiver_on_full (struct receiver *r, void (*fn) (void *), void *opaque);
size_t receiver_retry_stalled (struct receiver *r, int fail_with);
void receiver_stop (struct receiver *r);
/* Change how the receiver acknowledges writes, live: 0 = once durable;
 * > 0 = once in the kernel's hands, durable within rpo_ns.  No gap. */
int receiver_set_rpo (struct receiver *r, int64_t rpo_ns);
/* Age (ns) of the oldest acknowledged record not yet durable; 0: none. */
int64_t receiver_durability_lag (struct receiver *r);

/* ---- maint.c: base points, retention, space --------------------------- */

#define SPACE_VERSION 1     /* run/space.json: from when history was lost */
struct maint;
int maint_start (struct task *t, struct receiver *rx, struct maint **mp);
void maint_fold_now (struct maint *m);
/* The task's policies changed (task set): what waits on one of them (the
 * background check's next run) looks again. */
void maint_policy_changed (struct maint *m);
/* The task's archive changed (task set): its archiver (archiver.c, which
 * maintenance starts and stops with it) runs by a from now on.  0 or
 * -errno. */
int maint_archive_changed (struct maint *m, const struct task_archive *a);
/* How many images not in the catalog maint_start moved to base/quarantine/. */
unsigned maint_quarantined (const struct maint *m);
void maint_stop (struct maint *m);

/* ---- bgverify.c: serve checks stored history every --verify-interval -- */
struct bgverify;
int bgverify_start (struct task *t, struct receiver *rx, struct bgverify **bp);
/* --verify-interval changed: the next check is due by the new one. */
void bgverify_wake (struct bgverify *b);
void bgverify_stop (struct bgverify *b);

/* ---- archiver.c: serve keeps a task's points in its archive ---------- */

#define ARCHIVE_STATE_VERSION 1     /* TASK/archive.json */
struct archiver;
/* Start archiving t (its thread runs while t has an archive location). */
int archiver_start (struct task *t, struct receiver *rx, struct archiver **ap);
/* task set changed the archive: a new location stops the thread
 * (cancelling a push in progress) and starts it on the new one; keep
 * and bandwidth take effect from the next look.  0 or -errno. */
int archiver_set (struct archiver *ar, const struct task_archive *a);
/* serve is stopping: every push in progress ends now. */
void archiver_stop_all (void);
/* Stop (cancelling a push in progress) and free.  Safe on NULL. */
void archiver_stop (struct archiver *ar);

/* ---- control.c: the control socket of a served task ---------------------- */

struct control;
int control_start (struct task *t, struct receiver *rx, struct maint *m,
                   struct control **cp);
/* fn(opaque) is called (on the control thread; must not block) when a
 * client asks serve to let the task go ({"op":"release"}); until it is
 * set, that request is refused as unknown. */
void control_on_release (struct control *c, void (*fn) (void *), void *opaque);
/* Read the policies in task.json and run by them from now on (what
 * {"op":"reload"} does; serve calls it once the socket listens, for a
 * task set that found none).  0, or -errno with why filled: then nothing
 * changed. */
int control_reload (struct control *c, char *why, size_t len);
/* fn(opaque, op, disk, size, msg, len, *old_size, *seq) is called on
 * the control thread (it may wait, bounded) for {"op":"resize"} (op
 * "resize", size the new size) and {"op":"detach"}: 0, or -errno with
 * msg saying why.  Until it is set, both are refused. */
typedef int (*control_disk_fn) (void *opaque, const char *op,
                                const char *disk, uint64_t size, char *msg,
                                size_t len, uint64_t *old_size,
                                uint64_t *seq);
void control_on_disk (struct control *c, control_disk_fn fn, void *opaque);
void control_stop (struct control *c);
/* Client side: send one request line, read one reply line (malloc'd).
 * -ENOENT / -ECONNREFUSED when no daemon serves the task. */
int control_call (const struct task *t, const char *request, char **reply);
/* The same, but -ETIMEDOUT when no reply came within ms (a hung serve). */
int control_call_within (const struct task *t, const char *request,
                         unsigned ms, char **reply);

/* ---- recover-watch.c: cdp serve resumes interrupted recoveries ---------- */

struct recover_watch {
  int64_t check_ns;           /* next look at recover.json */
  int64_t seen_ns;            /* when it was first seen interrupted */
  int64_t next_ns;            /* resume no earlier than this */
  int64_t backoff_ns;         /* after a resume that failed */
  pid_t pid;                  /* the cdp recover --resume it started */
};
/* Called about once a second per task by the main thread of cdp serve. */
void recover_watch (const char *store, const struct task *t,
                    struct recover_watch *w);

#endif
