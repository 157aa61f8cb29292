/* cdp verify: check what a point, or everything a task holds, depends
 * on, and say which points are affected by what is damaged.
 *
 * Exit 0: nothing damaged; 1: damage found (or the check could not
 * run); 2: usage.  The findings go into TASK/verify.json (integrity.c):
 * a check of the whole task replaces the damage on record and records
 * itself as the last verification; a check of one point adds to it.
 * --progress shows the check's phases (progress.h); SIGINT/SIGTERM stop
 * it, and then nothing is recorded.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/cli/cli-internal.h"
#include "cdp/cli/progress.h"
#include "cdp/task/verify.h"
#include "common/error.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"
#include "recovery/archive/archive.h"

static const char usage[] =
  "usage: cdp verify NAME [--at T] [--json] [--progress]\n"
  "       cdp verify --archive LOCATION [NAME] [--json]\n"
  "Check the stored history of task NAME: every journal record's CRC, the\n"
  "index against the journal, the base point catalog against its files,\n"
  "and every base point image (qemu-img check, and its data checksums\n"
  "where it has them).  With --at, only what the point at T reads.\n"
  "Exit 0 when nothing is damaged, 1 when something is (each problem is\n"
  "named with the points it affects), 2 on a usage error.\n"
  "--progress shows the check as it goes (JSON Lines on stdout with --json,\n"
  "else on stderr).  SIGINT or SIGTERM stops it: nothing is recorded.\n"
  "A T that is no point of the store but one of the task's archive: every\n"
  "chunk of that archived point is read and checked against its name.\n"
  "--archive LOCATION checks every chunk of every point of that archive\n"
  "(of task NAME only, if given), with no store; damage is only reported.\n";

struct verify_args {
  const char *name, *at, *archive;
  bool json, progress;
};

static int
parse_args (int argc, char **argv, struct verify_args *a)
{
  static const struct option opts[] = {
    { "at", required_argument, 0, 'a' }, { "json", no_argument, 0, 'j' },
    { "progress", no_argument, 0, 'P' }, { "archive", required_argument, 0, 'A' },
    { "help", no_argument, 0, 'h' }, { 0 } };
  int c;

  optind = 1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, ":", opts, NULL)) != -1)
    switch (c) {
    case 'a': a->at = optarg; break;
    case 'j': a->json = true; break;
    case 'P': a->progress = true; break;
    case 'A': a->archive = optarg; break;
    case 'h': fputs (usage, stdout); return -1;
    default: return cli_option_error (c, argv);
    }
  if (a->archive && (optind + 1 < argc || a->at || a->progress))
    return usage_error ("usage: cdp verify --archive LOCATION [NAME] [--json]");
  if (!a->archive && optind + 1 != argc)
    return usage_error ("usage: cdp verify NAME [--at T] [--json] [--progress]");
  a->name = optind < argc ? argv[optind] : NULL;
  return 0;
}

/* Open the task without catching the index up (a damaged journal must
 * not keep the check from running); an unreadable catalog is damage. */
static int
open_task (const char *store, const char *name, struct task_view *v,
           json_object *damage)
{
  struct task *t;
  char *dir;
  int e;

  if (cli_task_load (store, name, &t) != 0)
    return EXIT_FAIL;
  task_free (t);
  if (view_open_quiet (store, name, v) < 0)
    return fail ("task '%s' has no history to check yet: has 'cdp serve' run?",
                 name);
  dir = task_path (v->task, "base");
  if (dir == NULL) {
    view_close (v);
    return fail ("task '%s': %s", name, strerror (ENOMEM));
  }
  e = catalog_load (dir, false, &v->cat);
  if (e < 0) {
    char msg[256];
    snprintf (msg, sizeof msg, "catalog: base/catalog.json cannot be read (%s);"
              " no base point can be found, so no point older than the "
              "journal", strerror (-e));
    jf_append (damage, integrity_entry ("catalog", "catalog.json",
                                        msg, "verify"));
    catalog_free (&v->cat);
    memset (&v->cat, 0, sizeof v->cat);
    v->cat.dir = dir;
  }
  else
    free (dir);
  return 0;
}

/* Is t a point of every disk in the store? */
static bool
local_point (struct task_view *v, int64_t t)
{
  uint64_t seq;

  for (size_t i = 0; i < v->task->disks.len; i++)
    if (view_resolve (v, &v->task->disks.ptr[i], t, &seq) != VIEW_POINT)
      return false;
  return true;
}

/* The points of every disk at --at; or, when that is no point of the
 * store but one of the task's archive, that archived point (*ap). */
static int
resolve (struct task_view *v, const char *at, struct point *pts, size_t *n,
         const struct archive_point **ap)
{
  char why[1024];
  int64_t t;

  if (v->task->disks.len > sizeof v->opened / sizeof v->opened[0])
    return fail ("task %s has more disks than one check can hold", v->task->name);
  view_catch_up (v);                /* best effort: --at needs the index */
  if (view_time (v, at, &t) != 0)
    return EXIT_USAGE;
  if (v->task->archive.location && !local_point (v, t) &&
      view_archive_load (v, t, ap, why, sizeof why) == 0)
    return 0;
  for (size_t i = 0; i < v->task->disks.len; i++)
    if (view_point_at (v, &v->task->disks.ptr[i], t, &pts[i]) != 0)
      return EXIT_FAIL;
  *n = v->task->disks.len;
  return 0;
}

static json_object *
result_json (const struct verify_args *a, const struct verify_result *r)
{
  json_object *o = json_object_new_object (), *c = json_object_new_object ();
  size_t n = json_object_array_length (r->damage);

  jf_add (o, "task", json_object_new_string (a->name));
  if (a->at)
    jf_add (o, "at", json_object_new_string (a->at));
  else
    jf_add_null (o, "at");
  jf_add (o, "result", json_object_new_string (n ? "damaged" : "clean"));
  jf_add (o, "seconds", json_object_new_double (r->seconds));
  jf_add (c, "journal_segments", json_object_new_uint64 (r->journal_segments));
  jf_add (c, "journal_records", json_object_new_uint64 (r->journal_records));
  jf_add (c, "journal_bytes", json_object_new_uint64 (r->journal_bytes));
  jf_add (c, "index_extents", json_object_new_uint64 (r->index_extents));
  jf_add (c, "index_times", json_object_new_uint64 (r->index_times));
  jf_add (c, "base_points", json_object_new_uint64 (r->base_points));
  jf_add (c, "base_bytes", json_object_new_uint64 (r->base_bytes));
  jf_add (c, "base_summed", json_object_new_uint64 (r->base_summed));
  jf_add (c, "base_unsummed", json_object_new_uint64 (r->base_unsummed));
  jf_add (c, "base_checked_bytes", json_object_new_uint64 (r->base_checked_bytes));
  jf_add (o, "checked", c);
  jf_add (o, "damage", json_object_get (r->damage));
  jf_add (o, "notes", json_object_get (r->notes));
  return o;
}

static void
print_text (const struct verify_args *a, const struct verify_result *r)
{
  size_t n = json_object_array_length (r->damage);
  uint64_t bytes = r->journal_bytes + r->base_checked_bytes;
  char jb[32], bb[32], rate[32];

  format_size (r->journal_bytes, jb, sizeof jb);
  format_size (r->base_bytes, bb, sizeof bb);
  format_size (r->seconds > 0 ? (uint64_t) ((double) bytes / r->seconds) : 0,
               rate, sizeof rate);
  printf ("%s%s%s: journal %" PRIu64 " records in %" PRIu64 " segments (%s), "
          "index %" PRIu64 " entries, %" PRIu64 " base points (%s) checked in "
          "%.1f s (%s/s)\n", a->name, a->at ? " at " : "", a->at ? a->at : "",
          r->journal_records, r->journal_segments, jb,
          r->index_extents + r->index_times, r->base_points, bb, r->seconds,
          rate);
  for (size_t i = 0; i < json_object_array_length (r->notes); i++)
    printf ("note: %s\n", json_object_get_string (json_object_array_get_idx (r->notes, i)));
  for (size_t i = 0; i < n; i++) {
    json_object *d = json_object_array_get_idx (r->damage, i);
    printf ("damaged: %s\n", json_object_get_string (json_object_object_get (d, "message")));
  }
  if (n)
    printf ("%s: damaged (%zu problem%s)\n", a->name, n, n == 1 ? "" : "s");
  else
    printf ("%s: clean\n", a->name);
}

/* ---- progress and cancel ------------------------------------------------- */

struct watch {
  struct cli_progress pr;
  atomic_bool stop;                 /* verify_opts.stop: a cancel came */
  atomic_bool finished;             /* the check returned */
};

/* verify_opts.progress: a phase of its own for each of the check's. */
static void
on_progress (void *opaque, const char *phase, uint64_t done, int64_t total)
{
  struct watch *w = opaque;

  if (w->pr.phase == NULL || strcmp (w->pr.phase, phase) != 0)
    cli_progress_start (&w->pr, phase,
                        strcmp (phase, "base") == 0 ? "files" : "records",
                        total);
  cli_progress_update (&w->pr, done);
}

/* Stop the check when SIGINT or SIGTERM comes (progress.h). */
static void *
cancel_thread (void *opaque)
{
  struct watch *w = opaque;

  while (!atomic_load (&w->finished))
    if (cli_cancel_wait (100000000)) {
      atomic_store (&w->stop, true);
      break;
    }
  return NULL;
}

/* Keep the findings for `cdp status`. */
static void
record (const struct task *t, const struct verify_args *a,
        const struct verify_result *r)
{
  json_object *lv = NULL;
  size_t n = json_object_array_length (r->damage);
  char now[64];
  int e;

  if (a->at == NULL) {
    lv = json_object_new_object ();
    format_time (time_now_ns (), now, sizeof now);
    jf_add (lv, "time", json_object_new_string (now));
    jf_add (lv, "time_ns", json_object_new_int64 (time_now_ns ()));
    jf_add (lv, "by", json_object_new_string ("cdp verify"));
    jf_add (lv, "result", json_object_new_string (n ? "damaged" : "clean"));
    jf_add (lv, "problems", json_object_new_uint64 (n));
    jf_add (lv, "seconds", json_object_new_double (r->seconds));
    jf_add (lv, "journal_bytes", json_object_new_uint64 (r->journal_bytes));
  }
  e = integrity_change (t, r->damage, a->at == NULL, lv);
  json_object_put (lv);
  if (e < 0)
    fprintf (stderr, "cdp: warning: cannot record the result in %s/verify.json: "
             "%s\n", t->dir, strerror (-e));
}

/* ---- archived chunks -------------------------------------------------------- */

struct chunk_check {
  pthread_mutex_t lock;
  json_object *damage;
  struct archive_verify_stats st;
  struct archive *a;
  const struct archive_point *p;
  const char *task;
  int err;
  char msg[512];
  atomic_bool finished;
};

/* archive_verify's bad(): from its threads. */
static void
chunk_bad (void *opaque, const char *key, const char *why)
{
  struct chunk_check *c = opaque;
  char msg[768];

  snprintf (msg, sizeof msg, "chunk %s: %s", key, why);
  pthread_mutex_lock (&c->lock);
  jf_append (c->damage, integrity_entry ("chunk", key, msg, "verify"));
  pthread_mutex_unlock (&c->lock);
}

static void *
chunk_thread (void *opaque)
{
  struct chunk_check *c = opaque;
  int e = archive_verify (c->a, c->p, c->task, 0, chunk_bad, c, &c->st);

  if (e < 0 && e != -EUCLEAN) {
    c->err = e;
    snprintf (c->msg, sizeof c->msg, "%s", *cdp_get_error ()
              ? cdp_get_error () : strerror (-e));
  }
  atomic_store (&c->finished, true);
  return NULL;
}

static json_object *
chunks_json (const struct verify_args *a, const char *location,
             const struct chunk_check *c, uint64_t points, double secs)
{
  json_object *o = json_object_new_object (), *k = json_object_new_object ();
  size_t n = json_object_array_length (c->damage);

  if (a->name)
    jf_add (o, "task", json_object_new_string (a->name));
  else
    jf_add_null (o, "task");
  if (a->at)
    jf_add (o, "at", json_object_new_string (a->at));
  else
    jf_add_null (o, "at");
  jf_add (o, "archive", json_object_new_string (location));
  jf_add (o, "result", json_object_new_string (n ? "damaged" : "clean"));
  jf_add (o, "seconds", json_object_new_double (secs));
  jf_add (k, "points", json_object_new_uint64 (points));
  jf_add (k, "chunks", json_object_new_uint64 (c->st.chunks));
  jf_add (k, "chunk_bytes", json_object_new_uint64 (c->st.bytes));
  jf_add (k, "bad_chunks", json_object_new_uint64 (c->st.bad));
  jf_add (o, "checked", k);
  jf_add (o, "damage", json_object_get (c->damage));
  jf_add (o, "notes", json_object_new_array ());
  return o;
}

/* Check every chunk of point p of archive a, or of every point (of
 * task, if not NULL): the report, exit 1 when one is missing or damaged.
 * Nothing is recorded: the archive is not the store's. */
static int
check_chunks (const struct verify_args *a, struct archive *ar,
              const struct archive_point *p, const char *task)
{
  const char *location = archive_location (ar);
  int64_t t0 = time_mono_ns ();
  struct chunk_check *c;
  uint64_t points;
  pthread_t th;
  char size[32];
  size_t n;
  int r;

  /* The check runs beside the main thread, which stops at a cancel
   * (the check, still running, goes with the process). */
  if ((c = calloc (1, sizeof *c)) == NULL)
    return fail ("%s", strerror (ENOMEM));
  *c = (struct chunk_check) { .lock = PTHREAD_MUTEX_INITIALIZER, .a = ar,
                              .p = p, .task = task,
                              .damage = json_object_new_array () };
  if (pthread_create (&th, NULL, chunk_thread, c) != 0) {
    json_object_put (c->damage);
    free (c);
    return fail ("cannot start the check: %s", strerror (EAGAIN));
  }
  while (!atomic_load (&c->finished))
    if (cli_cancel_wait (100000000)) {
      pthread_detach (th);
      return fail ("verify of the archive %s cancelled", location);
    }
  pthread_join (th, NULL);
  n = json_object_array_length (c->damage);
  points = c->st.points;
  if (c->err)
    r = fail ("cannot check the archive %s: %s", location, c->msg);
  else if (p == NULL && points == 0 && task)
    r = fail ("the archive %s holds no point of task '%s'", location, task);
  else if (a->json)
    r = cli_print_json (chunks_json (a, location, c, points,
                                     (double) (time_mono_ns () - t0) / 1e9));
  else {
    format_size (c->st.bytes, size, sizeof size);
    printf ("%s%s%s%s%s: %" PRIu64 " chunks (%s) of %" PRIu64 " point%s "
            "checked in %.1f s\n", location, a->name ? " task " : "",
            a->name ? a->name : "", a->at ? " at " : "", a->at ? a->at : "",
            c->st.chunks, size, points, points == 1 ? "" : "s",
            (double) (time_mono_ns () - t0) / 1e9);
    for (size_t i = 0; i < n; i++)
      printf ("damaged: %s\n", json_object_get_string (json_object_object_get (
                json_object_array_get_idx (c->damage, i), "message")));
    if (n)
      printf ("%s: damaged (%zu chunk%s)\n", location, n, n == 1 ? "" : "s");
    else
      printf ("%s: clean\n", location);
    r = EXIT_OK;
  }
  json_object_put (c->damage);
  free (c);
  return r == EXIT_OK && n ? EXIT_FAIL : r;
}

/* cdp verify --archive LOCATION [NAME]. */
static int
verify_archive (const struct verify_args *a)
{
  struct archive *ar;
  int r = archive_open (a->archive, false, &ar);

  if (r == -ENOENT)
    return fail ("no archive at %s", a->archive);
  if (r < 0)
    return fail ("cannot open the archive %s: %s", a->archive,
                 *cdp_get_error () ? cdp_get_error () : strerror (-r));
  r = check_chunks (a, ar, NULL, a->name);
  archive_close (ar);
  return r;
}

int
cmd_verify (const char *store, int argc, char **argv)
{
  struct verify_args a = { 0 };
  struct task_view v;
  struct point pts[4];
  size_t npts = 0;
  struct verify_result res;
  struct watch w = { 0 };
  pthread_t canceller;
  json_object *early = json_object_new_array ();
  int r = parse_args (argc, argv, &a);

  const struct archive_point *ap = NULL;

  if (r != 0 || (r = cli_cancel_init ()) != 0) {
    json_object_put (early);
    return r < 0 ? EXIT_OK : r;
  }
  if (a.archive) {
    json_object_put (early);
    return verify_archive (&a);
  }
  if ((r = open_task (store, a.name, &v, early)) != 0) {
    json_object_put (early);
    return r;
  }
  if (a.at && (r = resolve (&v, a.at, pts, &npts, &ap)) != 0) {
    json_object_put (early);
    view_close (&v);
    return r;
  }
  if (ap) {                         /* an archived point */
    json_object_put (early);
    r = check_chunks (&a, view_archive (&v, NULL), ap, NULL);
    view_close (&v);
    return r;
  }
  struct verify_source src = { v.task, v.jr, v.ix, &v.cat };
  struct verify_opts o = { .points = a.at ? pts : NULL, .npoints = npts,
                           .found_by = "verify", .stop = &w.stop,
                           .progress = on_progress, .progress_opaque = &w };
  cli_progress_init (&w.pr, "verify", a.progress, a.json);
  bool watching = pthread_create (&canceller, NULL, cancel_thread, &w) == 0;
  int e = verify_run (&src, &o, &res);
  atomic_store (&w.finished, true);
  if (watching)
    pthread_join (canceller, NULL);
  if (e == 0 && !atomic_load (&w.stop))
    cli_progress_end (&w.pr, w.pr.done);
  for (size_t i = 0; i < json_object_array_length (early); i++)
    jf_append (res.damage,
               json_object_get (json_object_array_get_idx (early, i)));
  json_object_put (early);
  if (e < 0) {
    r = fail ("cannot check task %s: %s%s%s", a.name, strerror (-e),
              *cdp_get_error () ? ": " : "", cdp_get_error ());
    verify_result_free (&res);
    view_close (&v);
    return r;
  }
  /* A cancel that came before the result is recorded cancels. */
  if (atomic_load (&w.stop) || cli_cancelled ()) {
    r = fail ("verify of task %s cancelled; nothing recorded", a.name);
    verify_result_free (&res);
    view_close (&v);
    return r;
  }
  record (v.task, &a, &res);
  r = EXIT_OK;
  if (a.json)
    r = cli_print_json (result_json (&a, &res));
  else
    print_text (&a, &res);
  if (r == EXIT_OK && json_object_array_length (res.damage))
    r = EXIT_FAIL;
  verify_result_free (&res);
  view_close (&v);
  return r;
}
