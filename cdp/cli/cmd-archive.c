/* cdp archive push | list | gc: the long-term tier from the command line
 * (recovery/archive/archive.h).
 *
 * push reads the points of a task through its view, as export and
 * restore do (one struct point per disk), and hands them to
 * archive_push on a thread of its own; the main thread shows progress
 * and turns SIGINT/SIGTERM into the push's cancel, after which the
 * chunks put so far stay for the next push or for gc and no point is
 * listed (its index is written last).  list and gc need no store: an
 * archive is read from any host. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/cli/cli-internal.h"
#include "cdp/cli/progress.h"
#include "common/cleanup.h"
#include "common/error.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"
#include "recovery/archive/archive.h"
#include "recovery/history/fold.h"

#define NS 1000000000LL
#define TICK_NS 250000000
#define MIB (1024.0 * 1024.0)
#define GC_GRACE_DEFAULT (10 * 60 * NS)

static const char push_usage[] =
  "usage: cdp archive push NAME [--at T] [--archive LOCATION]\n"
  "                        [--archive-bandwidth RATE] [--json] [--progress]\n"
  "Archives the point at T (default: the newest base point) of every disk of\n"
  "the task into its archive (task create/set --archive), or into LOCATION.\n"
  "Only chunks the archive does not hold yet are uploaded, at most RATE\n"
  "bytes a second (default: the task's --archive-bandwidth; 0: no bound).\n"
  "The point is listed once all of it is there; a push cancelled (SIGINT,\n"
  "SIGTERM) or cut short leaves no point, and the next one uploads only\n"
  "what is missing.  --json prints the result; --progress shows the bytes\n"
  "read as it goes (JSON Lines on stdout with --json, else on stderr).\n";

static const char list_usage[] =
  "usage: cdp archive list LOCATION [NAME] [--json]\n"
  "Lists the tasks an archive holds and their points (of task NAME only, if\n"
  "given): time, kind, label, the host and store that pushed it, its disks\n"
  "and sizes, and the bytes its chunks take there.  Needs no store.\n";

static const char gc_usage[] =
  "usage: cdp archive gc LOCATION [--grace DUR] [--json]\n"
  "Removes the chunks of the archive no point uses any more, safely while\n"
  "other stores push into it: a chunk younger than the collection's start\n"
  "less DUR (10m) or than any push in progress is kept.  An index that\n"
  "cannot be read stops it before anything is removed.\n";

/* getopt_long's c for an option missing its value (':') or unknown. */
static int
option_error (int c, char **argv)
{
  if (c == ':')
    return usage_error ("%s needs a value; see 'cdp archive %s --help'",
                        argv[optind - 1], argv[0]);
  return usage_error ("unknown option %s; see 'cdp archive %s --help'",
                      argv[optind - 1], argv[0]);
}

/* ---- what task create and set check ------------------------------------ */

int
cli_archive_check (const struct task_archive *a)
{
  struct archive *ar = NULL;
  char why[512];
  int e;

  if (a->location == NULL)
    return 0;
  e = task_archive_location_check (a->location, why, sizeof why);
  if (e == -EINVAL)
    return usage_error ("%s", why);
  if (e < 0)
    return fail ("%s", why);
  if (!archive_location_is_s3 (a->location))
    return 0;
  /* S3 need not be reachable now: serve archives once it is. */
  cdp_clear_error ();
  e = archive_open (a->location, false, &ar);
  archive_close (ar);
  if (e < 0 && e != -ENOENT)
    fprintf (stderr, "cdp: note: archive %s cannot be reached now (%s); "
             "cdp serve archives there once it can\n", a->location,
             *cdp_get_error () ? cdp_get_error () : strerror (-e));
  return 0;
}

/* "no archive at L", or the archive's own error. */
static int
open_fail (const char *location, int e)
{
  if (e == -ENOENT)
    return fail ("no archive at %s", location);
  return fail ("cannot open archive %s: %s", location,
               *cdp_get_error () ? cdp_get_error () : strerror (-e));
}

/* ---- task delete: forget the task's points -------------------------------- */

int
cli_archive_forget (const char *store, const struct task *t, size_t *n,
                    char *why, size_t len)
{
  archive_point_vector v = empty_vector;
  CLEANUP_FREE char *real = NULL;
  struct archive *a = NULL;
  char host[256];
  int e;

  *n = 0;
  cdp_clear_error ();
  if ((e = task_archive_origin (store, host, sizeof host, &real)) < 0) {
    snprintf (why, len, "cannot name this store: %s", strerror (-e));
    return e;
  }
  e = archive_open (t->archive.location, false, &a);
  if (e == -ENOENT)
    return 0;                       /* nothing was ever pushed there */
  if (e == 0)
    e = archive_points (a, t->name, &v);
  for (size_t i = 0; e == 0 && i < v.len; i++)
    if (task_archive_ours (host, real, v.ptr[i].host, v.ptr[i].store) &&
        v.ptr[i].time_ns >= t->created_ns) {       /* not an earlier task's */
      if ((e = archive_point_forget (a, &v.ptr[i])) == 0)
        (*n)++;
    }
  if (e < 0)
    snprintf (why, len, "%s", *cdp_get_error () ? cdp_get_error ()
              : strerror (-e));
  archive_points_reset (&v);
  archive_close (a);
  return e;
}

/* ---- push ---------------------------------------------------------------- */

/* The push in flight.  The thread reports through the atomics. */
struct push_job {
  struct archive *a;
  struct archive_push o;
  struct archive_push_stats st;
  int err;
  char why[1024];
  atomic_bool done;
  _Atomic uint64_t done_bytes;
  volatile int cancel;
};

static int
push_progress (void *opaque, uint64_t done, uint64_t total)
{
  struct push_job *j = opaque;

  (void) total;
  atomic_store (&j->done_bytes, done);
  return 0;
}

static void *
push_thread (void *opaque)
{
  struct push_job *j = opaque;

  cdp_clear_error ();
  j->err = archive_push (j->a, &j->o, &j->st);
  if (j->err < 0)
    snprintf (j->why, sizeof j->why, "%s", *cdp_get_error ()
              ? cdp_get_error () : strerror (-j->err));
  atomic_store (&j->done, true);
  return NULL;
}

/* The newest base point's time at which every disk has a point. */
static int
newest_base (struct task_view *v, int64_t *t)
{
  if ((*t = view_newest_base (v)) == 0)
    return fail ("task %s has no base point of all its disks yet (cdp fold "
                 "makes one); or name a point with --at", v->task->name);
  return 0;
}

struct kind_find {
  int64_t t;
  char label[256];
  bool bookmark;
};

static int
bookmark_cb (void *opaque, const struct index_event *e)
{
  struct kind_find *f = opaque;

  if (e->type == JOURNAL_BOOKMARK && e->time_ns == f->t) {
    snprintf (f->label, sizeof f->label, "%s", e->label);
    f->bookmark = true;
  }
  return 0;
}

/* The kind of the point at t pushed by hand: a bookmark's (with its
 * label), a lock's, else "push". */
static const char *
push_kind (struct task_view *v, int64_t t, char *label, size_t len)
{
  struct kind_find f = { .t = t };
  const lock_vector *locks = view_locks (v);

  index_events (v->ix, 0, UINT64_MAX, bookmark_cb, &f);
  if (f.bookmark) {
    snprintf (label, len, "%s", f.label);
    return "bookmark";
  }
  for (size_t i = 0; i < locks->len; i++)
    if (locks->ptr[i].time_ns == t)
      return "lock";
  return "push";
}

/* Open the point at t of every disk into pts (npts of them opened). */
static int
open_points (struct task_view *v, int64_t t, struct point *pts, size_t *npts,
             struct archive_push_disk *pd)
{
  for (size_t i = 0; i < v->task->disks.len; i++) {
    const struct task_disk *d = &v->task->disks.ptr[i];
    struct point p;
    uint64_t seq;
    int e;
    if (view_resolve (v, d, t, &seq) != VIEW_POINT)
      return view_point_at (v, d, t, &p) ? EXIT_FAIL
        : fail ("disk %s has no point at that time", d->name);
    e = point_open (v->ix, v->jr, &v->cat, d->id, task_disk_size_at (d, seq),
                    seq, &pts[i]);
    if (e < 0)
      return fail ("cannot open the point of disk %s: %s", d->name,
                   cdp_get_error ());
    *npts = i + 1;
    pd[i] = (struct archive_push_disk) { .name = d->name, .p = &pts[i] };
  }
  return 0;
}

static int
push_result (const struct push_job *j, const char *location, bool json)
{
  /* The index was there: nothing was read or put. */
  bool already = j->st.chunks == 0 && j->st.read_bytes == 0;
  char tb[64];

  format_time (j->o.time_ns, tb, sizeof tb);
  if (json) {
    json_object *o = json_object_new_object ();
    jf_add (o, "task", json_object_new_string (j->o.task));
    jf_add (o, "time", json_object_new_string (tb));
    jf_add (o, "kind", json_object_new_string (j->o.kind));
    if (j->o.label)
      jf_add (o, "label", json_object_new_string (j->o.label));
    jf_add (o, "location", json_object_new_string (location));
    jf_add (o, "key", json_object_new_string (j->st.key));
    jf_add (o, "chunks", json_object_new_uint64 (j->st.chunks));
    jf_add (o, "new_chunks", json_object_new_uint64 (j->st.new_chunks));
    jf_add (o, "new_bytes", json_object_new_uint64 (j->st.new_bytes));
    jf_add (o, "zero_chunks", json_object_new_uint64 (j->st.zero_chunks));
    jf_add (o, "read_bytes", json_object_new_uint64 (j->st.read_bytes));
    jf_add (o, "already", json_object_new_boolean (already));
    return cli_print_json (o);
  }
  if (already) {
    printf ("%s at %s is archived already (%s)\n", j->o.task, tb, j->st.key);
    return 0;
  }
  printf ("archived %s at %s: %llu chunks, %llu new (%.1f MiB stored), "
          "%llu zero\n", j->o.task, tb, (unsigned long long) j->st.chunks,
          (unsigned long long) j->st.new_chunks,
          (double) j->st.new_bytes / MIB,
          (unsigned long long) j->st.zero_chunks);
  return 0;
}

/* Run the push on its thread; the main thread shows progress and
 * passes a cancel on.  0, or the exit code (said why). */
static int
run_push (struct push_job *j, const char *location, struct cli_progress *pr)
{
  uint64_t total = 0;
  pthread_t th;
  char tb[64];
  int e;

  for (size_t i = 0; i < j->o.ndisks; i++)
    total += j->o.disks[i].p->size;
  j->o.progress = push_progress;
  j->o.opaque = j;
  j->o.cancel = &j->cancel;
  if ((e = pthread_create (&th, NULL, push_thread, j)) != 0)
    return fail ("archive push: cannot start a thread: %s", strerror (e));
  cli_progress_start (pr, "push", "bytes", (int64_t) total);
  while (!atomic_load (&j->done)) {
    if (cli_cancel_wait (TICK_NS))
      j->cancel = 1;
    cli_progress_update (pr, atomic_load (&j->done_bytes));
  }
  pthread_join (th, NULL);
  format_time (j->o.time_ns, tb, sizeof tb);
  if (j->err == -ECANCELED || (j->err < 0 && j->cancel))
    return fail ("archive push of task %s at %s cancelled: no point was "
                 "written; the chunks uploaded stay for the next push (or "
                 "cdp archive gc)", j->o.task, tb);
  if (j->err < 0)
    return fail ("cannot archive task %s at %s into %s: %s", j->o.task, tb,
                 location, j->why);
  cli_progress_end (pr, total);
  return 0;
}

static int
archive_push_cmd (const char *store, int argc, char **argv)
{
  static const struct option opts[] = {
    { "at", required_argument, 0, 'a' },
    { "archive", required_argument, 0, 'A' },
    { "archive-bandwidth", required_argument, 0, 'B' },
    { "json", no_argument, 0, 'j' }, { "progress", no_argument, 0, 'P' },
    { "help", no_argument, 0, 'h' }, { 0 } };
  const char *at = NULL, *location = NULL;
  static struct push_job j;         /* its thread reports into it */
  struct archive_push_disk *pd = NULL;
  struct point *pts = NULL;
  size_t npts = 0;
  struct cli_progress pr;
  struct task_view v;
  CLEANUP_FREE char *real = NULL;
  char label[256] = "", host[256], why[512];
  uint64_t bandwidth = 0;
  bool json = false, progress = false, bw_given = false;
  int64_t t;
  int c, r;

  optind = 1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, ":", opts, NULL)) != -1)
    switch (c) {
    case 'a': at = optarg; break;
    case 'A': location = optarg; break;
    case 'B':
      if (parse_size (optarg, &bandwidth) < 0)
        return usage_error ("--archive-bandwidth takes bytes a second (K M "
                            "G suffixes; 0: no bound), not '%s'", optarg);
      bw_given = true;
      break;
    case 'j': json = true; break;
    case 'P': progress = true; break;
    case 'h': fputs (push_usage, stdout); return 0;
    default: return option_error (c, argv);
    }
  if (optind + 1 != argc)
    return usage_error ("usage: cdp archive push NAME [--at T] [--archive "
                        "LOCATION] [--json] [--progress]");
  if (location && (r = task_archive_location_check (location, why,
                                                    sizeof why)) < 0)
    return r == -EINVAL ? usage_error ("%s", why) : fail ("%s", why);
  if ((r = cli_cancel_init ()) != 0)
    return r;
  if (view_open (store, argv[optind], &v) != 0)
    return EXIT_FAIL;
  if (location == NULL && (location = v.task->archive.location) == NULL) {
    r = usage_error ("task %s has no archive: give --archive LOCATION, or "
                     "set one (cdp task set %s --archive LOCATION)",
                     v.task->name, v.task->name);
    goto out;
  }
  if (!bw_given)
    bandwidth = v.task->archive.location ? v.task->archive.bandwidth : 0;
  if ((r = at ? view_time (&v, at, &t) : newest_base (&v, &t)) != 0)
    goto out;
  if ((r = task_archive_origin (store, host, sizeof host, &real)) < 0) {
    r = fail ("cannot name store %s: %s", store, strerror (-r));
    goto out;
  }
  pts = calloc (v.task->disks.len, sizeof *pts);
  pd = calloc (v.task->disks.len, sizeof *pd);
  if (pts == NULL || pd == NULL) {
    r = fail ("%s", strerror (ENOMEM));
    goto out;
  }
  if ((r = open_points (&v, t, pts, &npts, pd)) != 0)
    goto out;
  j.o = (struct archive_push) {
    .task = v.task->name, .time_ns = t, .store = real,
    .ndisks = v.task->disks.len, .disks = pd, .bandwidth = bandwidth };
  j.o.kind = push_kind (&v, t, label, sizeof label);
  j.o.label = strcmp (j.o.kind, "bookmark") == 0 ? label : NULL;
  cdp_clear_error ();
  if ((r = archive_open (location, true, &j.a)) < 0) {
    r = open_fail (location, r);
    goto out;
  }
  cli_progress_init (&pr, "archive push", progress, json);
  r = run_push (&j, location, &pr);
  if (r == 0)
    r = push_result (&j, location, json);
  archive_close (j.a);
 out:
  for (size_t i = 0; i < npts; i++)
    point_close (&pts[i]);
  free (pts);
  free (pd);
  view_close (&v);
  return r;
}

/* ---- list ---------------------------------------------------------------- */

static json_object *
point_json (const struct archive_point *p)
{
  json_object *o = json_object_new_object (), *disks = json_object_new_array ();
  char tb[64];

  format_time (p->time_ns, tb, sizeof tb);
  jf_add (o, "time", json_object_new_string (tb));
  jf_add (o, "kind", json_object_new_string (p->kind));
  if (p->label)
    jf_add (o, "label", json_object_new_string (p->label));
  jf_add (o, "host", json_object_new_string (p->host ? p->host : ""));
  jf_add (o, "store", json_object_new_string (p->store ? p->store : ""));
  jf_add (o, "store_id", json_object_new_string (p->store_id ? p->store_id : ""));
  format_time (p->pushed_ns, tb, sizeof tb);
  jf_add (o, "pushed", json_object_new_string (tb));
  jf_add (o, "stored_bytes", json_object_new_uint64 (p->stored_bytes));
  for (size_t i = 0; i < p->ndisks && p->disks; i++) {
    json_object *d = json_object_new_object ();
    jf_add (d, "name", json_object_new_string (p->disks[i].name));
    jf_add (d, "size", json_object_new_uint64 (p->disks[i].size));
    jf_add (d, "chunks", json_object_new_uint64 (p->disks[i].nchunks));
    jf_append (disks, d);
  }
  jf_add (o, "disks", disks);
  return o;
}

static void
point_print (const struct archive_point *p)
{
  char tb[64], sz[32], st[32];

  format_time (p->time_ns, tb, sizeof tb);
  format_size (p->stored_bytes, st, sizeof st);
  printf ("  %s  %-8s", tb, p->kind);
  for (size_t i = 0; i < p->ndisks && p->disks; i++) {
    format_size (p->disks[i].size, sz, sizeof sz);
    printf ("  %s %s", p->disks[i].name, sz);
  }
  printf ("  stored %s  from %s:%s%s%s\n", st, p->host ? p->host : "?",
          p->store ? p->store : "?", p->label ? "  label " : "",
          p->label ? p->label : "");
}

static int
list_print (const char *location, const archive_point_vector *v, bool json)
{
  json_object *tasks = json ? json_object_new_array () : NULL, *task = NULL;
  json_object *pts = NULL;
  size_t ntasks = 0;

  for (size_t i = 0; i < v->len; i++) {
    const struct archive_point *p = &v->ptr[i];
    bool first = i == 0 || strcmp (p->task, v->ptr[i - 1].task) != 0;
    if (first) {
      ntasks++;
      if (json) {
        task = json_object_new_object ();
        pts = json_object_new_array ();
        jf_add (task, "name", json_object_new_string (p->task));
        jf_add (task, "points", pts);
        jf_append (tasks, task);
      }
      else
        printf ("%s:\n", p->task);
    }
    if (json)
      jf_append (pts, point_json (p));
    else
      point_print (p);
  }
  if (json) {
    json_object *o = json_object_new_object ();
    jf_add (o, "location", json_object_new_string (location));
    jf_add (o, "tasks", tasks);
    return cli_print_json (o);
  }
  if (v->len == 0)
    printf ("archive %s holds no points\n", location);
  else
    printf ("%zu point%s of %zu task%s\n", v->len, v->len == 1 ? "" : "s",
            ntasks, ntasks == 1 ? "" : "s");
  return 0;
}

static int
cmp_point (const void *a, const void *b)
{
  const struct archive_point *x = a, *y = b;
  int c = strcmp (x->task, y->task);

  if (c)
    return c;
  return x->time_ns < y->time_ns ? -1 : x->time_ns > y->time_ns;
}

static int
archive_list_cmd (const char *store, int argc, char **argv)
{
  static const struct option opts[] = {
    { "json", no_argument, 0, 'j' }, { "help", no_argument, 0, 'h' },
    { 0 } };
  archive_point_vector v = empty_vector;
  struct archive *a = NULL;
  const char *location, *name;
  bool json = false;
  int c, r;

  (void) store;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, ":", opts, NULL)) != -1)
    switch (c) {
    case 'j': json = true; break;
    case 'h': fputs (list_usage, stdout); return 0;
    default: return option_error (c, argv);
    }
  if (optind + 1 != argc && optind + 2 != argc)
    return usage_error ("usage: cdp archive list LOCATION [NAME] [--json]");
  location = argv[optind];
  name = optind + 2 == argc ? argv[optind + 1] : NULL;
  if (name && !task_name_valid (name))
    return usage_error ("'%s' is not a task name", name);
  cdp_clear_error ();
  if ((r = archive_open (location, false, &a)) < 0)
    return open_fail (location, r);
  if ((r = archive_points (a, name, &v)) < 0)
    r = fail ("cannot list archive %s: %s", location,
              *cdp_get_error () ? cdp_get_error () : strerror (-r));
  if (r == 0 && v.len > 1)
    qsort (v.ptr, v.len, sizeof v.ptr[0], cmp_point);
  if (r == 0)
    r = list_print (location, &v, json);
  archive_points_reset (&v);
  archive_close (a);
  return r;
}

/* ---- gc ------------------------------------------------------------------ */

static int
archive_gc_cmd (const char *store, int argc, char **argv)
{
  static const struct option opts[] = {
    { "grace", required_argument, 0, 'g' }, { "json", no_argument, 0, 'j' },
    { "help", no_argument, 0, 'h' }, { 0 } };
  struct archive_gc_stats st = { 0 };
  struct archive *a = NULL;
  int64_t grace = GC_GRACE_DEFAULT, start;
  bool json = false;
  char rb[32];
  int c, r;

  (void) store;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, ":", opts, NULL)) != -1)
    switch (c) {
    case 'g':
      if (parse_duration (optarg, &grace) < 0)
        return usage_error ("--grace takes a duration (0, 90s, 10m, 2h), not "
                            "'%s'", optarg);
      break;
    case 'j': json = true; break;
    case 'h': fputs (gc_usage, stdout); return 0;
    default: return option_error (c, argv);
    }
  if (optind + 1 != argc)
    return usage_error ("usage: cdp archive gc LOCATION [--grace DUR] [--json]");
  cdp_clear_error ();
  if ((r = archive_open (argv[optind], false, &a)) < 0)
    return open_fail (argv[optind], r);
  start = time_mono_ns ();
  if ((r = archive_gc (a, grace, NULL, &st)) < 0) {
    r = fail ("garbage collection of archive %s stopped, nothing more "
              "removed: %s", argv[optind],
              *cdp_get_error () ? cdp_get_error () : strerror (-r));
    archive_close (a);
    return r;
  }
  archive_close (a);
  if (json) {
    json_object *o = json_object_new_object ();
    jf_add (o, "location", json_object_new_string (argv[optind]));
    jf_add (o, "points", json_object_new_uint64 (st.points));
    jf_add (o, "chunks", json_object_new_uint64 (st.chunks));
    jf_add (o, "removed", json_object_new_uint64 (st.removed));
    jf_add (o, "removed_bytes", json_object_new_uint64 (st.removed_bytes));
    jf_add (o, "kept_young", json_object_new_uint64 (st.kept_young));
    jf_add (o, "seconds", json_object_new_double (
              (double) (time_mono_ns () - start) / 1e9));
    return cli_print_json (o);
  }
  format_size (st.removed_bytes, rb, sizeof rb);
  printf ("archive %s: %llu points, %llu chunks; %llu removed (%s), %llu "
          "unused kept (younger than the grace or a push in progress)\n",
          argv[optind], (unsigned long long) st.points,
          (unsigned long long) st.chunks, (unsigned long long) st.removed, rb,
          (unsigned long long) st.kept_young);
  return 0;
}

/* ---- cdp archive SUBCOMMAND ------------------------------------------------ */

static const struct cli_command archive_commands[] = {
  { "push", archive_push_cmd, "archive a point of a task now",
    .args = "NAME [--at T] [--archive LOCATION] [--json] [--progress]" },
  { "list", archive_list_cmd, "the tasks and points an archive holds",
    .args = "LOCATION [NAME] [--json]" },
  { "gc", archive_gc_cmd, "remove the chunks no point uses",
    .args = "LOCATION [--grace DUR] [--json]" },
};
const struct cli_commands cli_archive_commands = {
  archive_commands, sizeof archive_commands / sizeof archive_commands[0] };

static int
archive_help (FILE *out)
{
  fputs ("usage: cdp archive SUBCOMMAND ...\n"
         "The long-term tier: points kept as deduplicated, compressed chunks\n"
         "in a directory or s3://BUCKET/PREFIX:\n", out);
  for (size_t i = 0; i < cli_archive_commands.len; i++) {
    const struct cli_command *c = &cli_archive_commands.v[i];
    fprintf (out, "  %s %s\n      %s\n", c->name, c->args, c->help);
  }
  return 0;
}

int
cmd_archive (const char *store, int argc, char **argv)
{
  const struct cli_command *c;

  if (argc < 2)
    return usage_error ("usage: cdp archive push|list|gc ...");
  c = cli_find (&cli_archive_commands, argv[1]);
  if (c)
    return c->run (store, argc - 1, argv + 1);
  if (want_help (argc, argv))
    return archive_help (stdout);
  return usage_error ("unknown archive command '%s'; see 'cdp archive --help'",
                      argv[1]);
}
