/* cdp mark: a bookmark, a point named by its label.  --json: the
 * bookmark's time and label (docs/JSON.md). */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/cli/cli-internal.h"
#include "cdp/daemon/daemon.h"
#include "cdp/rapid/rapid.h"
#include "cdp/hv/hv.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"
#include "recovery/history/fold.h"

/* Without a daemon the journal's writer lock is free: append directly. */
struct direct_wait {
  pthread_mutex_t m;
  pthread_cond_t c;
  bool done;
  int err;
  struct journal_record rec;
};

static void
direct_done (void *opaque, const struct journal_record *rec, int err)
{
  struct direct_wait *w = opaque;

  pthread_mutex_lock (&w->m);
  w->done = true;
  w->err = err;
  w->rec = *rec;
  pthread_cond_signal (&w->c);
  pthread_mutex_unlock (&w->m);
}

static int
mark_direct (const struct task *t, const char *label, int64_t *time)
{
  struct journal_options o = { .create = false };
  struct direct_wait w = { .m = PTHREAD_MUTEX_INITIALIZER,
                           .c = PTHREAD_COND_INITIALIZER };
  struct journal_record e = { .type = JOURNAL_BOOKMARK, .disk = UINT32_MAX,
                              .payload_len = strlen (label) };
  char *dir = task_path (t, "journal");
  struct journal *j;
  int r = dir ? journal_open (dir, &o, &j) : -ENOMEM;

  free (dir);
  if (r < 0)
    return r;
  r = journal_append (j, &e, label, direct_done, &w);
  if (r == 0) {
    pthread_mutex_lock (&w.m);
    while (!w.done)
      pthread_cond_wait (&w.c, &w.m);
    pthread_mutex_unlock (&w.m);
    r = w.err;
    *time = w.rec.time_ns;
  }
  journal_close (j);
  return r;
}

static int
mark_via_daemon (const struct task *t, const char *label, int *served)
{
  json_object *req = json_object_new_object ();
  const char *text;
  char *reply = NULL;
  int r;

  jf_add (req, "op", json_object_new_string ("mark"));
  jf_add (req, "label", json_object_new_string (label));
  text = jf_text (req, JSON_C_TO_STRING_SPACED);
  r = text ? control_call (t, text, &reply) : -ENOMEM;
  json_object_put (req);
  *served = r != -ENOENT && r != -ECONNREFUSED;
  if (r < 0)
    return r;
  r = cli_reply_ok (reply) ? 0 : -EIO;
  free (reply);
  return r;
}

struct label_seen {
  const char *label;
  bool seen;
  int64_t time;                     /* of the bookmark seen */
};

static int
label_cb (void *opaque, const struct index_event *e)
{
  struct label_seen *l = opaque;

  l->seen |= e->type == JOURNAL_BOOKMARK && strcmp (e->label, l->label) == 0;
  if (l->seen)
    l->time = e->time_ns;
  return l->seen;
}

/* Has the task a bookmark labelled label already?  (No history: no.)
 * If so, its time in *time (may be NULL). */
static bool
label_find (const char *store, const char *name, const char *label,
            int64_t *time)
{
  struct task_view v;
  struct label_seen l = { label, false, 0 };

  if (view_open_quiet (store, name, &v) != 0)
    return false;
  journal_reader_refresh (v.jr);
  index_catch_up (v.ix, v.jr);
  index_events (v.ix, 0, UINT64_MAX, label_cb, &l);
  view_close (&v);
  if (l.seen && time)
    *time = l.time;
  return l.seen;
}

static bool
label_taken (const char *store, const char *name, const char *label)
{
  return label_find (store, name, label, NULL);
}

/* A label names one point wherever a time is asked for: it must not read
 * as a time (that would win) nor name a point already. */
static int
check_label (const char *store, const char *name, const char *label)
{
  int64_t t;

  if (strlen (label) == 0 || strlen (label) > 200)
    return usage_error ("--label: 1 to 200 characters");
  if (parse_time (label, time_now_ns (), &t) == 0)
    return usage_error ("--label '%s' reads as a time; a label must not "
                        "(--at '%s' would mean that time)", label, label);
  if (label_taken (store, name, label))
    return usage_error ("task %s has a bookmark labelled '%s' already: "
                        "labels name one point each", name, label);
  return 0;
}

/* --freeze: the task's driver freezes the guest's file systems (libvirt:
 * through the guest agent), so that the bookmark is a consistent point.
 * Returns the handle to thaw with, or NULL (not frozen: said why on
 * stderr). */
static struct hv_frozen *
freeze (const struct task *t, bool json)
{
  char msg[512];
  struct hv_frozen *f = hv_of (t)->freeze (t, msg, sizeof msg);

  if (f == NULL) {
    fprintf (stderr, "cdp: %s\n", msg);
    return NULL;
  }
  fprintf (json ? stderr : stdout, "%s\n", msg);
  return f;
}

static void
thaw (const struct task *t, struct hv_frozen *f)
{
  char msg[512];

  if (f && hv_of (t)->thaw (f, msg, sizeof msg) < 0)
    fprintf (stderr, "cdp: %s\n", msg);
}

/* --json: the bookmark, its time as the journal recorded it. */
static int
print_json (const struct task *t, const char *label, int64_t time, bool frozen)
{
  json_object *o = json_object_new_object ();
  char tb[64];

  format_time (time, tb, sizeof tb);
  jf_add (o, "task", json_object_new_string (t->name));
  jf_add (o, "label", json_object_new_string (label));
  jf_add (o, "time", json_object_new_string (tb));
  jf_add (o, "frozen", json_object_new_boolean (frozen));
  return cli_print_json (o);
}

int
cmd_mark (const char *store, int argc, char **argv)
{
  static const struct option opts[] = {
    { "label", required_argument, 0, 'l' }, { "freeze", no_argument, 0, 'f' },
    { "json", no_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0 } };
  const char *label = NULL;
  char deflabel[64], tb[64];
  bool want_freeze = false, was_frozen, json = false;
  struct hv_frozen *frozen = NULL;
  struct task *t;
  int64_t time = time_now_ns ();
  int c, r, served;

  optind = 1;
  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    switch (c) {
    case 'l': label = optarg; break;
    case 'f': want_freeze = true; break;
    case 'j': json = true; break;
    case 'h':
      puts ("usage: cdp mark NAME [--label TEXT] [--freeze] [--json]\n"
            "Records a bookmark now; --json prints its label and time.");
      return 0;
    default: return usage_error ("see 'cdp mark --help'");
    }
  if (optind + 1 != argc)
    return usage_error ("usage: cdp mark NAME [--label TEXT] [--freeze] [--json]");
  if (cli_task_load (store, argv[optind], &t) != 0)
    return EXIT_FAIL;
  if (want_freeze && hv_of (t)->freeze == NULL) {
    r = fail ("--freeze needs the guest agent of a libvirt task; task %s "
              "is a %s task", argv[optind], task_mode_name (t));
    task_free (t);
    return r;
  }
  if (label == NULL) {
    format_time (time, tb, sizeof tb);
    snprintf (deflabel, sizeof deflabel, "mark-%.19s", tb);
    for (unsigned n = 2; label_taken (store, t->name, deflabel); n++)
      snprintf (deflabel, sizeof deflabel, "mark-%.19s-%u", tb, n);
    label = deflabel;
  }
  else if ((r = check_label (store, t->name, label)) != 0) {
    task_free (t);
    return r;
  }
  if (want_freeze)
    frozen = freeze (t, json);
  r = mark_via_daemon (t, label, &served);
  if (!served)
    r = mark_direct (t, label, &time);
  was_frozen = frozen != NULL;
  thaw (t, frozen);
  if (r < 0) {
    task_free (t);
    return fail ("cannot record bookmark '%s': %s", label, strerror (-r));
  }
  /* Through a serve, the time is the journal's: read it back. */
  if (json && served && !label_find (store, t->name, label, &time))
    r = fail ("bookmark '%s' is recorded, but cannot be found in the index "
              "of task %s to print its time", label, t->name);
  else if (json)
    r = print_json (t, label, time, was_frozen);
  else
    printf ("bookmark '%s' recorded%s\n", label,
            was_frozen ? " with the guest's file systems frozen" : "");
  task_free (t);
  return r;
}
