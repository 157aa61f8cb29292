/* cdp/task: the store and its tasks.  task.json and the policies, the
 * files beside it (locks, heartbeat, damage record), the NBD listeners'
 * options, and the read side of a task (resolving a time to a point).
 * Every other part of cdp builds on this one; it calls none of them but
 * rapid recovery's state file (task_files_check reads it) and the table
 * of hypervisor drivers (cdp/hv/hv.h: a mode's name). */
#ifndef CDP_TASK_H
#define CDP_TASK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/vector.h"
#include "journal/journal.h"
#include "recovery/history/index.h"
#include "recovery/history/point.h"
#include "recovery/history/basepoint.h"

/* Exit codes of every command (CLI.md). */
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* ---- util.c ------------------------------------------------------------ */
/* One line on stderr: "cdp: " + message.  Returns EXIT_FAIL. */
int fail (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
int usage_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
/* From now on, the first line fail() or usage_error() says on the
 * calling thread goes into buf (len bytes, emptied now) instead of
 * stderr, and the later ones nowhere: cdp serve keeps why a task could
 * not be served, to say it once.  buf NULL: stderr again. */
void fail_capture (char *buf, size_t len);
char *path_join (const char *a, const char *b);  /* malloc'd; NULL: ENOMEM */
int mkdir_p (const char *path, unsigned mode);
bool want_help (int argc, char **argv);
void log_msg (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
/* Let QEMU running as uid/gid (and nobody else) connect to the unix socket
 * sock: task_dir (if not NULL, the task's directory) and the socket's
 * directory pass for its group, the socket is its group's.  -EACCES etc.
 * with why filled when it still cannot reach it. */
int socket_grant (const char *task_dir, const char *sock, uid_t uid, gid_t gid,
                  char *why, size_t len);

/* ---- listen.c: TLS and bounds of NBD listeners ------------------------ */

#define LISTEN_DEFAULT_MAX_CONNECTIONS 32
/* How one NBD listener serves. */
struct listen_opts {
  char *tls_creds;          /* --tls-creds DIR (absolute), or NULL */
  char *tls_psk;            /* --tls-psk FILE (absolute), or NULL */
  bool no_tls;              /* --no-tls: plain TCP on purpose */
  unsigned max_connections; /* --max-connections; 0: the default (32) */
};

/* getopt values of the listener options, for each command's table. */
enum {
  LISTEN_OPT_TLS_CREDS = 0x1000, LISTEN_OPT_TLS_PSK, LISTEN_OPT_NO_TLS,
  LISTEN_OPT_MAX_CONNECTIONS,
};
#define LISTEN_LONG_OPTIONS                                              \
  { "tls-creds", required_argument, 0, LISTEN_OPT_TLS_CREDS },          \
  { "tls-psk", required_argument, 0, LISTEN_OPT_TLS_PSK },              \
  { "no-tls", no_argument, 0, LISTEN_OPT_NO_TLS },                      \
  { "max-connections", required_argument, 0, LISTEN_OPT_MAX_CONNECTIONS }
struct nbd_server;
bool listen_is_tcp (const char *addr);
/* Take one LISTEN_OPT_* option; prints a usage error (returns 2). */
int listen_opt (int c, const char *arg, struct listen_opts *o);
/* A tcp addr needs exactly one of TLS creds, PSK or no_tls, a unix one
 * none of them; credentials must load.  Prints the error (1 or 2). */
int listen_check (const char *addr, const struct listen_opts *o);
/* Set srv's bound and, for a tcp addr, its TLS.  Prints the error. */
int listen_apply (struct nbd_server *srv, const char *addr,
                  const struct listen_opts *o);
void listen_opts_free (struct listen_opts *o);
#define CLEANUP_LISTEN_OPTS __attribute__ ((cleanup (listen_opts_free)))

/* ---- task.c: the store and its tasks ----------------------------------- */

/* A string member of a JSON object (malloc'd), or NULL; an integer
 * member, or dflt. */
struct json_object;
char *json_str (struct json_object *o, const char *key);
int64_t json_int (struct json_object *o, const char *key, int64_t dflt);

/* Which hypervisor driver the task has (cdp/hv/hv.h); only cdp/hv tells
 * them apart. */
struct hv_driver;               /* cdp/hv/hv.h */

/* A disk's size changed (libvirt mode: cdp resize, or a size found
 * changed when protection started again): from the point at seq on the
 * disk is size bytes.  Points of the disk before seq read at the size
 * before it. */
struct disk_resize {
  uint64_t seq;             /* the first seq at the new size */
  int64_t time_ns;          /* when it was recorded */
  uint64_t old_size, size;
};
DEFINE_VECTOR_TYPE (disk_resize_vector, struct disk_resize)

struct task_disk {
  char *name;               /* "disk0", a node name, or a libvirt target */
  uint32_t id;              /* disk id in the journal */
  uint64_t size;            /* bytes now; 0 until known */
  disk_resize_vector resizes;   /* oldest first; task.json "resizes" */
  uint64_t added_seq;       /* added to a protected domain: its history
                               starts at this seq (a GAP); 0: with the
                               task */
  int64_t added_ns;         /* and when */
};
DEFINE_VECTOR_TYPE (task_disk_vector, struct task_disk)

/* The size of disk d at the point seq: the size of the newest resize at
 * or before seq, or the size before the first one after it.
 * task_disk_size: its size now.  task_disk_resize_apply: d is z->size
 * bytes from z->seq on (z->old_size its size now), in memory (task.json:
 * task_disk_resized).  Thread rules: while cdp serve runs a task, its
 * protector resizes a disk while the receiver and maintenance read its
 * size: these three take one lock, and every thread but the one that
 * resizes reads a disk's size and resizes only through the first two. */
uint64_t task_disk_size_at (const struct task_disk *d, uint64_t seq);
uint64_t task_disk_size (const struct task_disk *d);
int task_disk_resize_apply (struct task_disk *d, const struct disk_resize *z);

struct task_policy {
  int64_t bp_interval;
  int64_t journal_retention;
  int64_t bp_retention;
  unsigned max_chain;
  uint32_t segment_size;    /* journal segment bytes; 0: chosen by cdp */
  int64_t verify_interval;  /* serve checks stored history this often */
  int64_t rpo;              /* ns: 0, a write is acknowledged once durable;
                               > 0, once the kernel has it, durable within */
};

#define VERIFY_INTERVAL_DEFAULT (7 * 86400 * 1000000000LL)
/* --rpo: 0, or from 10 ms to 1 h. */
#define RPO_MIN_NS (10 * 1000000LL)
#define RPO_MAX_NS (3600 * 1000000000LL)

/* task.json "archive": where the task's points are kept long-term
 * (recovery/archive/archive.h) and which of them. */
struct task_archive {
  char *location;           /* a directory or s3://BUCKET/PREFIX; NULL: none */
  unsigned keep_daily, keep_weekly, keep_monthly;
  uint64_t bandwidth;       /* bytes uploaded per second; 0: no bound */
};

#define ARCHIVE_KEEP_DAILY_DEFAULT 30
#define ARCHIVE_KEEP_WEEKLY_DEFAULT 12
#define ARCHIVE_KEEP_MONTHLY_DEFAULT 12
#define ARCHIVE_BANDWIDTH_DEFAULT (100ull << 20)

struct task {
  char *name;
  char *dir;                /* STORE/tasks/NAME */
  const struct hv_driver *hv;     /* its mode: the hypervisor driver
                                   (task.json "mode" names it) */
  char *listen;             /* manual: unix:PATH or tcp:HOST:PORT */
  struct listen_opts lo;    /* the receiver's TLS and bound */
  char *qmp;                /* qmp: QEMU's monitor socket */
  char *domain, *connect;   /* libvirt */
  bool all_disks;           /* libvirt: the task protects every disk of
                               the domain (no --disk), those added later
                               too; false: the disks named (task.json
                               written before it existed: false) */
  task_disk_vector disks;
  struct task_policy policy;
  struct task_archive archive;
  int64_t created_ns;
};

const char *store_path (const char *opt);           /* --store, env, default */
int task_name_valid (const char *name);
/* -ENOENT (no such task), -EINVAL (not a task name), jf_load's errors
 * for a task.json that cannot be read (common/jsonfile.h). */
int task_load (const char *store, const char *name, struct task **tp);
/* Say why task_load failed with e, in one line; returns EXIT_FAIL. */
int task_load_fail (const char *store, const char *name, int e);
int task_save (const struct task *t);
/* The policy in t's task.json as it is now (task_load's errors). */
int task_policy_load (const struct task *t, struct task_policy *p);
/* Replace the policies task set changes in t's task.json, leaving every
 * other member as it is: jf_load's and jf_save's errors. */
int task_policy_save (const struct task *t, const struct task_policy *p);
void task_free (struct task *t);
int task_list (const char *store, string_vector *names);
/* t's directory, "/", leaf: malloc'd; NULL when out of memory. */
char *task_path (const struct task *t, const char *leaf);
const struct task_disk *task_find_disk (const struct task *t, const char *name);
const char *task_mode_name (const struct task *t);
/* Pick the disk named by --disk, or the only one; prints the error. */
const struct task_disk *task_pick_disk (const struct task *t, const char *name);
/* TASK/task.lock, held: whoever rewrites task.json (task set, serve
 * adding or resizing a disk) holds it meanwhile.  The fd (close it to
 * let go), or -errno. */
int task_lock_hold (const struct task *t);
/* Change the disks in t's task.json, under TASK/task.lock, leaving every
 * other member as it is (a task set may rewrite the policy meanwhile):
 * task_disk_add appends d (name, id, size, added_seq, added_ns),
 * task_disk_resized records that disk id is size bytes from seq on.  t
 * itself is not changed: a served task is taken up again to run by it.
 * 0, or jf_load's and jf_save's errors, -EEXIST (a disk of that name or
 * id is there already), -ENOENT (no disk id). */
int task_disk_add (const struct task *t, const struct task_disk *d);
int task_disk_resized (const struct task *t, uint32_t id, uint64_t seq,
                       int64_t time_ns, uint64_t size);
/* task show: what the disk's history adds to it: in o (its JSON object,
 * if not NULL) "added" (a time) when it was added to a protected domain, "resizes"
 * (time, seq, old_size, size) when it was resized; in text (for its
 * line, "" if nothing) the same for people. */
struct json_object;
void task_disk_show (const struct task_disk *d, struct json_object *o,
                     char *text, size_t len);

/* ---- task-archive.c: the task's archive (task.json "archive") --------- */

/* getopt values of the archive flags (task create and task set). */
enum {
  ARCHIVE_OPT_LOCATION = 0x1180, ARCHIVE_OPT_KEEP_DAILY,
  ARCHIVE_OPT_KEEP_WEEKLY, ARCHIVE_OPT_KEEP_MONTHLY, ARCHIVE_OPT_BANDWIDTH,
};
#define ARCHIVE_LONG_OPTIONS                                                 \
  { "archive", required_argument, 0, ARCHIVE_OPT_LOCATION },                \
  { "keep-daily", required_argument, 0, ARCHIVE_OPT_KEEP_DAILY },           \
  { "keep-weekly", required_argument, 0, ARCHIVE_OPT_KEEP_WEEKLY },         \
  { "keep-monthly", required_argument, 0, ARCHIVE_OPT_KEEP_MONTHLY },       \
  { "archive-bandwidth", required_argument, 0, ARCHIVE_OPT_BANDWIDTH }
#define ARCHIVE_HELP                                                        \
  "archive: --archive LOCATION (a directory, or s3://BUCKET/PREFIX with\n"  \
  "        AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY):\n"   \
  "        cdp serve keeps a base point a day there, and every lock and\n"  \
  "        bookmark; task set --archive none stops it\n"                    \
  "        --keep-daily N (30) --keep-weekly N (12) --keep-monthly N (12):\n" \
  "        the newest point of each of the last N days, ISO weeks, months\n" \
  "        (UTC) is kept there; locks and bookmarks always are\n"          \
  "        --archive-bandwidth RATE (100M bytes a second; K M G; 0: no bound)\n"
/* No archive, the default keep and bandwidth. */
void task_archive_defaults (struct task_archive *a);
void task_archive_free (struct task_archive *a);
/* Copy of a (its location strdup'd): 0 or -ENOMEM. */
int task_archive_copy (struct task_archive *dst, const struct task_archive *a);
bool task_archive_same (const struct task_archive *a,
                        const struct task_archive *b);
/* Take one ARCHIVE_OPT_* option into a ("--archive none": no archive);
 * prints a usage error (returns 2). */
int task_archive_opt (int c, const char *arg, struct task_archive *a);
/* Is location one an archive can be: s3://BUCKET[/PREFIX] (a bucket name
 * S3 takes), or a directory path whose parent is a directory (the path
 * itself, if it exists, a directory).  0, or -EINVAL / -ENOENT /
 * -ENOTDIR with why filled. */
int task_archive_location_check (const char *location, char *why, size_t len);
/* The archive in t's task.json as it is now (a->location malloc'd), and
 * replace it there (NULL location: the member goes), every other member
 * as it is: task_load's, jf_load's and jf_save's errors. */
int task_archive_load (const struct task *t, struct task_archive *a);
int task_archive_save (const struct task *t, const struct task_archive *a);
/* This store as its archived points name it: the host's name (in host)
 * and the store's real path (*real, malloc'd).  0 or -errno.  Is a point
 * of p_host and p_store this store's? */
int task_archive_origin (const char *store, char *host, size_t len,
                         char **real);
bool task_archive_ours (const char *host, const char *real,
                        const char *p_host, const char *p_store);
/* task.json's "archive" member of a (NULL when a has no location), and
 * its parse: 0, or -EINVAL (a member has a wrong type or range). */
struct json_object *task_archive_json (const struct task_archive *a);
int task_archive_parse (struct json_object *o, struct task_archive *a);

/* ---- policy.c: the policy flags, and the policies of a served task ---- */

/* getopt values of the policy flags (task create and task set). */
enum {
  POLICY_OPT_BP_INTERVAL = 0x1100, POLICY_OPT_JOURNAL_RETENTION,
  POLICY_OPT_BP_RETENTION, POLICY_OPT_MAX_CHAIN, POLICY_OPT_VERIFY_INTERVAL,
  POLICY_OPT_RPO,
};
#define POLICY_LONG_OPTIONS                                                  \
  { "bp-interval", required_argument, 0, POLICY_OPT_BP_INTERVAL },          \
  { "journal-retention", required_argument, 0, POLICY_OPT_JOURNAL_RETENTION }, \
  { "bp-retention", required_argument, 0, POLICY_OPT_BP_RETENTION },        \
  { "max-chain", required_argument, 0, POLICY_OPT_MAX_CHAIN },              \
  { "verify-interval", required_argument, 0, POLICY_OPT_VERIFY_INTERVAL },  \
  { "rpo", required_argument, 0, POLICY_OPT_RPO }
#define POLICY_HELP                                                         \
  "policy: --bp-interval DUR (20m) --journal-retention DUR (24h)\n"         \
  "        --bp-retention DUR (7d) --max-chain N (16)\n"                    \
  "        --verify-interval DUR (7d: cdp serve checks all stored history\n" \
  "        this often, reading at a bounded rate)\n"                        \
  "        --rpo DUR (0: a guest write completes once its record is\n"      \
  "        durable; 10ms..1h: once the kernel has it, durable within DUR)\n"
void policy_defaults (struct task_policy *p);
/* Take one POLICY_OPT_* option into p; prints a usage error (returns 2). */
int policy_opt (int c, const char *arg, struct task_policy *p);
/* "0", "250ms", "1s", "5m 0s". */
void policy_format_rpo (int64_t rpo, char *buf, size_t len);
/* The policies of t, each read atomically: what a thread other than the
 * one that changes them reads while serve runs the task. */
struct task_policy task_policy (const struct task *t);
/* Change the policies task set changes (all but segment_size), each
 * atomically: serve's control thread, applying task set live. */
void task_policy_set (struct task *t, const struct task_policy *p);

/* ---- served.c: TASK/run/state.json, the heartbeat of cdp serve -------- */

/* A heartbeat older than this is a serve that no longer runs the task. */
#define SERVED_STALE_NS (15 * 1000000000LL)
struct json_object;
/* The state file: 0, or jf_load's errors (-ENOENT: none). */
int served_load (const struct task *t, struct json_object **state);
/* Write it (with its format version), atomically. */
/* durable: the last one (serve stopped); the heartbeats are snapshots,
 * written without syncs, which at one a second would cost the device
 * two flushes a second next to the journal's writes.  After a power loss
 * an older heartbeat only dates a killed serve's gap earlier. */
int served_save (const struct task *t, struct json_object *state,
                 bool durable);
/* Does a live cdp serve hold the task: the file's pid runs and its
 * heartbeat is fresh (and it did not say it stopped)?  *last_ns: the
 * heartbeat's time (0: none). */
bool served_alive (struct json_object *state, int64_t *last_ns);

/* ---- task-files.c: can a task's files be read? -------------------------- */

/* Every file of the task that serve relies on (locks.json,
 * base/catalog.json, recover.json) reads and parses.  0, or jf_load's
 * error with why filled: the file, what is wrong, what to do. */
int task_files_check (const struct task *t, char *why, size_t len);

/* ---- task-check.c: what task create checks ----------------------------- */

/* --listen: unix:/ABSOLUTE (fits a socket address) or tcp:HOST:PORT with
 * a port 1-65535 (HOST empty: every address).  0, or -EINVAL with why
 * filled. */
int listen_addr_check (const char *addr, char *why, size_t len);
/* Does a task of the store listen on addr already?  -EADDRINUSE with why
 * filled, 0, or -errno (the store cannot be read). */
int listen_addr_taken (const char *store, const char *addr, char *why,
                       size_t len);
/* Is every disk of t smaller than the store's file system?  -EFBIG with
 * why filled, 0, or -errno. */
int task_size_check (const char *store, const struct task *t, char *why,
                     size_t len);

/* ---- locks.c: locked points --------------------------------------------- */

struct point_lock {
  uint64_t seq;
  int64_t time_ns;
};
DEFINE_VECTOR_TYPE (lock_vector, struct point_lock)
int locks_load (const struct task *t, lock_vector *out);
int locks_change (const struct task *t, uint64_t seq, int64_t time_ns, bool add);
/* Hold TASK/locks.lock (waits for it): no lock or unlock changes
 * locks.json until the returned fd is closed.  fd, or -errno. */
int locks_hold (const struct task *t);
bool locks_has (const lock_vector *v, uint64_t seq);

/* ---- view.c: the read side, resolving T to a point ------------------- */

struct task_view {            /* read side of a task: journal + index */
  struct task *task;
  struct journal_reader *jr;
  struct cdp_index *ix;
  struct base_catalog cat;
  struct point opened[4];       /* points view_point opened; closed by view_close */
  size_t nopened;
  lock_vector locks;            /* read on first use (view_locks) */
  bool locks_loaded;
  int locks_err;                /* 0, or why locks.json could not be read */
  struct view_archive *arch;    /* the archive's points (view-archive.c):
                                   the task's archive, opened on first
                                   use, or what an archive-only view
                                   (view_open_archive) reads */
};
int view_open (const char *store, const char *name, struct task_view *v);
/* The task's locked points, read from locks.json on first use; when it
 * could not be read, v->locks_err says why and the vector is empty. */
const lock_vector *view_locks (struct task_view *v);
int view_open_quiet (const char *store, const char *name, struct task_view *v);
void view_close (struct task_view *v);
/* Bring the index up to the journal (if no daemon did). */
int view_catch_up (struct task_view *v);
/* Resolve the time expression s (or a bookmark label) to a point of
 * disk; prints the error.  On success fills *p. */
int view_point (struct task_view *v, const struct task_disk *d, const char *s,
                struct point *p, int64_t *time);
/* The parts of view_point: T from a time expression or bookmark label;
 * the point of d at T (exact, or a base point older than the journal). */
int view_time (struct task_view *v, const char *s, int64_t *t);
int view_point_at (struct task_view *v, const struct task_disk *d, int64_t t,
                   struct point *p);
/* What view_point_at decides, without opening or printing anything:
 * VIEW_POINT with the point's seq in *seq, a reason there is no point
 * of d at t, or -errno.  `cdp points` lists exactly the times for which
 * this says VIEW_POINT, and export, restore and the rest accept those. */
enum view_verdict {
  VIEW_POINT = 0,
  VIEW_GAP,                     /* the disk was not protected then */
  VIEW_RECLAIMED,               /* history that old is gone */
  VIEW_NOT_YET,                 /* before the task's history */
  VIEW_UNREACHED,               /* the journal no longer reaches back to t */
};
int view_resolve (struct task_view *v, const struct task_disk *d, int64_t t,
                  uint64_t *seq);
/* Is t a point (VIEW_POINT) of every disk of the task? */
bool view_all_disks_at (struct task_view *v, int64_t t);
/* The time of the newest base point at which every disk has a point
 * (view_all_disks_at), or 0 when there is none. */
int64_t view_newest_base (struct task_view *v);
/* The size of d at the point at t (task_disk_size_at of its seq); its
 * size now when t is no point of d. */
uint64_t view_size_at (struct task_view *v, const struct task_disk *d,
                       int64_t t);

/* ---- view-archive.c: points kept in an archive ------------------------- */

/* A point of d at t that is no local point is read from the task's
 * archive (task.json "archive") when it holds a point of the task at
 * exactly t with a disk of d's name: view_point_at does this by itself,
 * and such a point has ix and jr NULL (recovery/archive/archive.h,
 * archive_reader_point).  A view may also read an archive alone, with
 * no store (view_open_archive): v->task is then the task's name and the
 * disks of the archived point view_time last resolved (name, id: its
 * place in the point, size), with no directory, journal, index, catalog
 * or locks.  Thread rules: a view's archive is opened and its points
 * loaded by the thread that owns the view; the points it opened read
 * from any thread. */
struct view_archive;
/* Open the points that task name keeps in the archive at location.
 * Says why not in one line: EXIT_FAIL. */
int view_open_archive (const char *location, const char *name,
                       struct task_view *v);
/* Does v read an archive alone (view_open_archive)? */
bool view_archive_only (const struct task_view *v);
/* Was the point p opened from an archive (it has no journal)? */
bool view_point_archived (const struct point *p);
/* The view's archive, opened on first use: NULL when the task has none
 * or it cannot be opened (then *why, if not NULL, says why). */
struct archive;
struct archive *view_archive (struct task_view *v, const char **why);
/* The task's archived points, oldest first (a listing: no disks), read
 * on first use: 0, -ENOENT (the task has no archive), or -errno with
 * the message in *why: -ENOMEDIUM when the archive is not there although
 * serve's archiver counted points of the task in it (TASK/archive.json):
 * gone, never shown as empty. */
struct archive_point_vector;
int view_archive_points (struct task_view *v,
                         const struct archive_point_vector **out,
                         const char **why);
/* The time of the archived point whose bookmark label is label: 0,
 * -ENOENT (none), -errno. */
int view_archive_label (struct task_view *v, const char *label, int64_t *t);
/* Load the archived point of the task at exactly t (with its disks)
 * and keep it in the view until view_close: 0 with *out, -ENOENT (none:
 * why says so and names the nearest older and newer archived points),
 * -errno (why says why). */
struct archive_point;
int view_archive_load (struct task_view *v, int64_t t,
                       const struct archive_point **out, char *why,
                       size_t len);
/* Open disk d (by name) of the archived point at t as *p, closed by
 * view_close: 0, or -errno with why filled (-ENOENT: no archived point
 * at t; -ENODEV: it has no disk of that name). */
int view_archive_point (struct task_view *v, const struct task_disk *d,
                        int64_t t, struct point *p, char *why, size_t len);
/* An archive-only view: make the archived point at exactly t the one
 * whose disks v->task has (view_time does this).  0, or EXIT_FAIL said
 * (no archived point at t: the line names the nearest ones). */
int view_archive_select (struct task_view *v, int64_t t);
void view_archive_close (struct task_view *v);

/* ---- view-seconds.c: the second points of a range ---------------------- */

/* Call fn (oldest first) for each second point of d whose time (the
 * last nanosecond of its second) lies in [from, to] and is not after
 * now: exactly the seconds for which view_resolve says VIEW_POINT, in
 * one walk of the index's seconds; seq is the last record of the second
 * that changed d.  fn returns 0 to go on, > 0 to stop (view_seconds then
 * returns 0), < 0 to fail with it.  0 or -errno (locks.json unreadable:
 * v->locks_err). */
typedef int (*view_second_fn) (void *opaque, int64_t time, uint64_t seq);
int view_seconds (struct task_view *v, const struct task_disk *d,
                  int64_t from, int64_t to, int64_t now, view_second_fn fn,
                  void *opaque);

/* ---- integrity.c: damage found in stored history (TASK/verify.json) ----- */

/* A damage entry: kind "journal", "base", "catalog" or "index"; where
 * (with kind, what makes two entries the same damage); one line saying
 * what is wrong and which points it affects; who found it ("restore",
 * "export", "serve", "verify", ...).  A new JSON object. */
struct json_object *integrity_entry (const char *kind, const char *where,
                                     const char *message, const char *found_by);
/* The entry of a journal record that failed its CRC check; its message
 * (also into msg) names segment, offset, record, and the points of the
 * disk that read it: from its time to the next base point (cat may be
 * NULL). */
struct json_object *integrity_journal_entry (const struct task *t,
                                             const struct base_catalog *cat,
                                             const struct journal_damage *d,
                                             const char *found_by, char *msg,
                                             size_t len);
/* Add the entries of the array damage to TASK/verify.json, or replace
 * its damage by them (replace), and set its last_verify (if not NULL),
 * under TASK/verify.lock.  0 or -errno; -ENOMEM, the file as it was,
 * when damage is NULL or its building failed (jf_failed). */
int integrity_change (const struct task *t, struct json_object *damage,
                      bool replace, struct json_object *last_verify);
/* After a read of a point failed, on the thread that read: if a journal
 * record failed its CRC check or a base point cluster its sum, record it
 * and put the line saying so in msg; false if the failure was something
 * else. */
bool integrity_read_failed (const struct task *t, const struct base_catalog *cat,
                            const char *found_by, char *msg, size_t len);
/* The same without recording it: the entry (a new JSON object, its
 * "where" tells one damage from another), or NULL. */
struct json_object *integrity_read_entry (const struct task *t,
                                          const struct base_catalog *cat,
                                          const char *found_by, char *msg,
                                          size_t len);
/* Add "integrity" to a task's status object: state "damaged", "clean"
 * (verified, nothing found since), "unchecked" or "unknown", the damage
 * still in the store, and the last verification.  integrity_print: its
 * lines in `cdp status`. */
void integrity_status (const struct task *t, struct json_object *status);
void integrity_print (struct json_object *status, const char *task);

#endif
