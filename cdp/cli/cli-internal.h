/* cdp/cli: what the commands' files share, grouped by defining file.
 * Not part of the contract (cli.h). */
#ifndef CDP_CLI_INTERNAL_H
#define CDP_CLI_INTERNAL_H

#include "cdp/task/task.h"
#include "recovery/files/files.h"

/* ---- cli-common.c: the steps the commands share -------------------------- */

struct json_object;
/* task_load, or say why not in one line (task_load_fail): 0 or EXIT_FAIL. */
int cli_task_load (const char *store, const char *name, struct task **tp);
/* Open the history of task name (view_open) and pick its disk: --disk
 * disk, or the only one (task_pick_disk).  With archive (--archive
 * LOCATION) the points task name keeps in that archive instead, with no
 * store (view_open_archive), and the disk is one of the archived point
 * at `at` (view_time).  0; else the error is said and v closed:
 * EXIT_FAIL when the history cannot be opened, EXIT_USAGE when no disk
 * is picked (or at is neither a time nor a label). */
int cli_view_disk (const char *store, const char *archive, const char *name,
                   const char *disk, const char *at, struct task_view *v,
                   const struct task_disk **dp);
/* "TASK/DISK at TIME": how messages name the point of d at time. */
void cli_point_name (const struct task *t, const struct task_disk *d,
                     int64_t time, char *buf, size_t len);
/* Is flag ("--json") among the arguments after argv[0]? */
bool cli_flag (int argc, char **argv, const char *flag);
/* After getopt_long with opterr = 0 and ":" leading its short options
 * returned c, ':' (a value missing) or another (an unknown option): the
 * usage error naming the option and 'cdp argv[0] --help'. */
int cli_option_error (int c, char **argv);
/* The version of the --json documents' schemas (docs/JSON.md). */
#define CDP_JSON_VERSION 1
/* Print o, the one JSON document of --json, on stdout, and drop it;
 * _list: {"key": arr} (taking arr).  A "version" member
 * (CDP_JSON_VERSION) is put first unless o has one.  EXIT_OK, or EXIT_FAIL with the one
 * line and nothing on stdout when building o ran out of memory
 * (jf_failed). */
int cli_print_json (struct json_object *o);
int cli_print_json_list (const char *key, struct json_object *arr);
/* Did the control socket (control_call) answer {"ok": true}? */
bool cli_reply_ok (const char *reply);
/* cdp resize and cdp detach: open task name and pick its disk (--disk
 * disk, or the only one) for a request only libvirt mode takes; verb
 * names it in the refusal ("cdp VERB disks of libvirt domains only").
 * 0 with *tp and *dp; else the error said, nothing left open, and
 * EXIT_FAIL, or EXIT_USAGE when no --disk picks among several disks. */
int cli_disk_task (const char *store, const char *name, const char *disk,
                   const char *verb, struct task **tp,
                   const struct task_disk **dp);
/* cdp resize and cdp detach: ask the serve holding t to do op ("resize"
 * to size bytes, "detach") on disk d; a resize's *old size and the *seq
 * from which the disk has the new one.  0, or EXIT_FAIL said. */
int cli_disk_request (const struct task *t, const struct task_disk *d,
                      const char *op, uint64_t size, uint64_t *old,
                      uint64_t *seq);

/* ---- cmd-archive.c: cdp archive, and what task create and set check -- */

struct task_archive;
/* --archive given to task create or task set: a location an archive can
 * be (else one line and EXIT_USAGE, or EXIT_FAIL when its parent
 * directory is missing); one that cannot be reached now (S3) is said on
 * stderr and taken (serve archives there once it can).  0 or the exit
 * code.  No location: 0. */
int cli_archive_check (const struct task_archive *a);
/* task delete: forget the points of t this store pushed into its
 * archive (*n of them).  0 (also when the archive holds none), or
 * -errno with why filled. */
int cli_archive_forget (const char *store, const struct task *t, size_t *n,
                        char *why, size_t len);

/* ---- cmd-task.c: the task as `cdp task show --json` prints it ----------- */

/* A new JSON object (docs/JSON.md, "task show"); task create and task
 * set --json print it too. */
struct json_object *task_json (const struct task *t);
/* ---- points-timeline.c: cdp points --bucket ----------------------------- */

/* The most buckets one timeline has (a week at one second, a day at
 * 100 ms, and more). */
#define POINTS_MAX_BUCKETS 1000000
/* Print the timeline of d (docs/JSON.md) over [*from, *to] (NULL: from
 * the oldest point, rounded down to a whole bucket; to now) in buckets
 * of bucket ns; from <= to when both are given.  The exit code, after
 * one line on stderr when not EXIT_OK. */
int points_timeline (struct task_view *v, const struct task_disk *d,
                     const int64_t *from, const int64_t *to, int64_t bucket,
                     int64_t now);
/* The bucketing, pure: t rounded down to a whole multiple of bucket
 * (> 0) for any sign of t (a time before INT64_MIN + bucket is not
 * asked for); the number of buckets of [from, to] (from <= to), 0 when
 * more than POINTS_MAX_BUCKETS; counts as the JSON array text
 * "[1,0,...]" (malloc'd, NUL-terminated, its length in *len), NULL when
 * out of memory. */
int64_t points_floor (int64_t t, int64_t bucket);
size_t points_bucket_count (int64_t from, int64_t to, int64_t bucket);
char *points_counts_text (const uint32_t *counts, size_t n, size_t *len);

/* ---- files-session.c: cdp ls, cat and get ------------------------------- */

enum files_cmd { CMD_LS, CMD_CAT, CMD_GET };

struct files_opts {
  enum files_cmd cmd;
  const char *name, *at, *disk, *path, *output;
  const char *archive;              /* --archive LOCATION: no store */
  bool json, progress;
  bool tar;                         /* get: one archive to output ("-": stdout) */
  uint64_t offset, length;          /* cat: the range (length UINT64_MAX: all) */
};

/* The point, its reader and how to name it in messages. */
struct fsession {
  struct task_view v;
  bool view_open;
  struct point p;
  struct files *f;
  struct nbd_server *srv;           /* the export libguestfs reads */
  char sockdir[64];
  struct files_gfs *gfs;
  char what[256];                   /* "TASK/DISK at TIME" */
  char tbuf[64];
  char damage[512];                 /* damaged history a read found */
};

/* What one command does with the open session: its exit code. */
typedef int fsession_fn (struct fsession *s, const struct files_opts *o);
/* Parse the arguments of cmd, start the sandboxed reader, open the
 * point, run, and close it all: the exit code. */
int fsession_run (enum files_cmd cmd, const char *store, int argc, char **argv,
                  fsession_fn *run);
/* Say that verb (list, read, get) of path failed with r, naming the
 * damage a read found if there was some.  Returns EXIT_FAIL. */
int fsession_failed (struct fsession *s, const char *verb, const char *path,
                     int r);
/* The file systems the sandboxed reader does not know (-ENOTSUP from
 * it) go to libguestfs over an NBD export of the point.  ensure starts
 * that (0, or the exit code: said why); failed is fsession_failed for
 * its errors; list is files_stat (followed, into *self) and files_list,
 * read is files_read_range, through it (-ENOTSUP: failed, said why). */
int fsession_gfs_ensure (struct fsession *s, const char *verb, const char *path);
int fsession_gfs_failed (struct fsession *s, const char *verb, const char *path,
                         int r);
int fsession_gfs_list (struct fsession *s, const char *path,
                       files_entry_vector *v, struct files_entry *self);
int fsession_gfs_read (struct fsession *s, const char *path, uint64_t off,
                       uint64_t len, const struct files_sink *sink, void *o);

#endif
