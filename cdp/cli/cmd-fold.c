/* cdp fold: base points of every disk now, made by the serve that holds
 * the task.
 *
 * The request goes to the serve's control socket from a thread of its
 * own; the main thread watches the base point catalog meanwhile, for
 * --progress (a disk is a step: done when its newest base point is a
 * new one) and for SIGINT/SIGTERM.  A cancel stops the waiting only:
 * the serve finishes the base points it began (they are its work, and
 * complete or absent, never half made). */
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
#include "cdp/daemon/daemon.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"

#define TICK_NS 250000000

/* The request in flight.  Static: a cancelled command returns while the
 * thread may still wait for the serve's reply. */
static struct fold_call {
  const struct task *t;
  char *reply;
  int err;
  atomic_bool done;
} call;

static void *
call_thread (void *opaque)
{
  struct fold_call *c = opaque;

  c->err = control_call (c->t, "{\"op\":\"fold\"}", &c->reply);
  atomic_store (&c->done, true);
  return NULL;
}

/* The newest base point of each disk: its seq, 0 when none.  0, or
 * -errno when the catalog cannot be read (seq and time as they were:
 * a fold is then not seen until it can). */
static int
newest (const struct task *t, uint64_t *seq, int64_t *time)
{
  struct base_catalog cat;
  char *dir = task_path (t, "base");
  int e;

  if (dir == NULL)
    return -ENOMEM;
  if ((e = catalog_load (dir, false, &cat)) == 0)
    for (size_t i = 0; i < t->disks.len; i++) {
      const struct base_point *bp = catalog_find (&cat, t->disks.ptr[i].id,
                                                  UINT64_MAX);
      seq[i] = bp ? bp->seq : 0;
      time[i] = bp ? bp->time_ns : 0;
    }
  catalog_free (&cat);
  free (dir);
  return e;
}

static uint64_t
disks_done (const struct task *t, const uint64_t *before, uint64_t *seq,
            int64_t *time)
{
  uint64_t n = 0;

  newest (t, seq, time);
  for (size_t i = 0; i < t->disks.len; i++)
    n += seq[i] != before[i];
  return n;
}

/* --json: per disk, its newest base point and whether this fold made it. */
static int
print_json (const struct task *t, const uint64_t *before, const uint64_t *seq,
            const int64_t *time)
{
  json_object *o = json_object_new_object (), *disks = json_object_new_array ();
  char tb[64];

  jf_add (o, "task", json_object_new_string (t->name));
  for (size_t i = 0; i < t->disks.len; i++) {
    json_object *d = json_object_new_object ();
    jf_add (d, "name", json_object_new_string (t->disks.ptr[i].name));
    if (seq[i]) {
      format_time (time[i], tb, sizeof tb);
      jf_add (d, "base_point", json_object_new_string (tb));
    }
    else
      jf_add_null (d, "base_point");
    jf_add (d, "new", json_object_new_boolean (seq[i] != before[i]));
    jf_append (disks, d);
  }
  jf_add (o, "disks", disks);
  return cli_print_json (o);
}

/* Wait for the serve's reply, showing the disks folded; 0, or the exit
 * code (said why). */
static int
wait_reply (const struct task *t, const uint64_t *before, uint64_t *seq,
            int64_t *time, struct cli_progress *pr)
{
  cli_progress_start (pr, "fold", "steps", (int64_t) t->disks.len);
  while (!atomic_load (&call.done)) {
    if (cli_cancel_wait (TICK_NS))
      return fail ("fold of task %s cancelled: the serve finishes the base "
                   "points it began", t->name);
    cli_progress_update (pr, disks_done (t, before, seq, time));
  }
  if (call.err == -ENOENT || call.err == -ECONNREFUSED)
    return fail ("task %s is not served: start 'cdp serve' first", t->name);
  if (call.err < 0 || !cli_reply_ok (call.reply))
    return fail ("fold failed: %s", call.reply ? call.reply : strerror (-call.err));
  disks_done (t, before, seq, time);
  /* A disk without writes since its last base point gets none: done too. */
  cli_progress_end (pr, t->disks.len);
  return 0;
}

static const char usage[] =
  "usage: cdp fold NAME [--json] [--progress]\n"
  "Makes a base point of every disk of the task now (cdp serve makes them).\n"
  "--json prints each disk's newest base point; --progress shows the disks\n"
  "done as it goes (JSON Lines on stdout with --json, else on stderr).\n";

/* cdp fold NAME: make base points of every disk now. */
int
cmd_fold (const char *store, int argc, char **argv)
{
  static const struct option opts[] = {
    { "json", no_argument, 0, 'j' }, { "progress", no_argument, 0, 'P' },
    { "help", no_argument, 0, 'h' }, { 0 } };
  struct cli_progress pr;
  struct task *t;
  uint64_t *before = NULL, *seq = NULL;
  int64_t *time = NULL;
  bool json = false, progress = false;
  pthread_t th;
  int c, r, before_err;

  optind = 1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, ":", opts, NULL)) != -1)
    switch (c) {
    case 'j': json = true; break;
    case 'P': progress = true; break;
    case 'h': fputs (usage, stdout); return 0;
    default: return cli_option_error (c, argv);
    }
  if (optind + 1 != argc)
    return usage_error ("usage: cdp fold NAME [--json] [--progress]");
  if ((r = cli_cancel_init ()) != 0)
    return r;
  if (cli_task_load (store, argv[optind], &t) != 0)
    return EXIT_FAIL;
  before = calloc (t->disks.len + 1, sizeof *before);
  seq = calloc (t->disks.len + 1, sizeof *seq);
  time = calloc (t->disks.len + 1, sizeof *time);
  if (before == NULL || seq == NULL || time == NULL) {
    r = fail ("fold: %s", strerror (ENOMEM));
    goto out;
  }
  before_err = newest (t, before, time);
  cli_progress_init (&pr, "fold", progress, json);
  call.t = t;
  if (pthread_create (&th, NULL, call_thread, &call) != 0) {
    r = fail ("fold: cannot start a thread");
    goto out;
  }
  r = wait_reply (t, before, seq, time, &pr);
  /* The document says which base point is each disk's and whether this
   * fold made it: not known without the catalog, before and after. */
  if (r == 0 && json && (before_err < 0 || (before_err = newest (t, seq, time)) < 0))
    r = fail ("fold of task %s done, but its base point catalog cannot be read: "
              "%s (cdp verify %s checks it)", t->name, jf_strerror (before_err),
              t->name);
  else if (r == 0 && json)
    r = print_json (t, before, seq, time);
  else if (r == 0)
    printf ("base points made\n");
  if (!atomic_load (&call.done)) {
    /* Cancelled: the thread still uses t (call.t) until the process
     * ends, which is now. */
    pthread_detach (th);
    t = NULL;
  }
  else {
    pthread_join (th, NULL);
    free (call.reply);
  }
 out:
  free (before);
  free (seq);
  free (time);
  task_free (t);
  return r;
}
