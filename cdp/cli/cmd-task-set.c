/* cdp task set NAME [policy flags]: change a task's policies.
 *
 * task.json is rewritten whole (jf_save: fio_replace), its other members
 * as they were, under
 * TASK/task.lock so that two task sets at once each change what the
 * other left.  Then the serve that holds the task, if one does, is asked
 * over its control socket ({"op":"reload"}) to read the policies again
 * and run by them at once: the task is not restarted, nothing is
 * journaled, no copy starts again.  When no socket listens, no serve is
 * asked: a serve that opens its socket later reads the policies again
 * then (control_reload), so it cannot miss the change.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/cli/cli-internal.h"
#include "cdp/daemon/daemon.h"
#include "common/cleanup.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"

#define NS 1000000000LL
/* How long a served task may take to answer. */
#define RELOAD_WAIT_NS (30 * NS)

static const char set_help[] =
  "usage: cdp task set NAME [POLICY]... [--json]\n"
  "Changes the task's policies in its task.json.  A cdp serve that serves\n"
  "the task applies them at once, without restarting it: no gap is\n"
  "journaled, no initial copy starts again.  Disks, mode, listener and TLS\n"
  "are fixed when the task is created.  --json prints the task as 'cdp task\n"
  "show --json' does, with the policies changed and whether a serve\n"
  "applied them.\n"
  POLICY_HELP
  ARCHIVE_HELP;

enum { FIXED = 0x1200, JSON_OPT };

/* The flags of task create that are not policies. */
#define FIXED_LONG_OPTIONS                                               \
  { "size", required_argument, 0, FIXED },                              \
  { "listen", required_argument, 0, FIXED },                            \
  { "qmp", required_argument, 0, FIXED },                               \
  { "node", required_argument, 0, FIXED },                              \
  { "domain", required_argument, 0, FIXED },                            \
  { "disk", required_argument, 0, FIXED },                              \
  { "connect", required_argument, 0, FIXED },                           \
  { "segment-size", required_argument, 0, FIXED },                      \
  { "tls-creds", required_argument, 0, FIXED },                         \
  { "tls-psk", required_argument, 0, FIXED },                           \
  { "no-tls", no_argument, 0, FIXED },                                  \
  { "max-connections", required_argument, 0, FIXED }

static const struct option opts[] = {
  POLICY_LONG_OPTIONS, ARCHIVE_LONG_OPTIONS, FIXED_LONG_OPTIONS,
  { "json", no_argument, 0, JSON_OPT },
  { "help", no_argument, 0, 'h' }, { 0 } };

/* What was given: the values in p, which ones in given (by option). */
struct wanted {
  struct task_policy p;
  bool given[POLICY_OPT_RPO - POLICY_OPT_BP_INTERVAL + 1];
  struct task_archive a;
  bool agiven[ARCHIVE_OPT_BANDWIDTH - ARCHIVE_OPT_LOCATION + 1];
  bool json;
};

static int
parse_args (int argc, char **argv, struct wanted *w, const char **name)
{
  bool any = false;
  int c, idx, r = 0;

  optind = 1;
  opterr = 0;
  while (r == 0 && (c = getopt_long (argc, argv, ":", opts, &idx)) != -1) {
    switch (c) {
    case POLICY_OPT_BP_INTERVAL: case POLICY_OPT_JOURNAL_RETENTION:
    case POLICY_OPT_BP_RETENTION: case POLICY_OPT_MAX_CHAIN:
    case POLICY_OPT_VERIFY_INTERVAL: case POLICY_OPT_RPO:
      r = policy_opt (c, optarg, &w->p);
      w->given[c - POLICY_OPT_BP_INTERVAL] = any = true;
      break;
    case ARCHIVE_OPT_LOCATION: case ARCHIVE_OPT_KEEP_DAILY:
    case ARCHIVE_OPT_KEEP_WEEKLY: case ARCHIVE_OPT_KEEP_MONTHLY:
    case ARCHIVE_OPT_BANDWIDTH:
      r = task_archive_opt (c, optarg, &w->a);
      w->agiven[c - ARCHIVE_OPT_LOCATION] = any = true;
      break;
    case JSON_OPT:
      w->json = true;
      break;
    case FIXED:
      r = usage_error ("--%s is fixed when the task is created; task set "
                       "changes policies only (see 'cdp task set --help')",
                       opts[idx].name);
      break;
    case ':':
      r = usage_error ("%s needs a value", argv[optind - 1]);
      break;
    default:
      r = usage_error ("task set: unknown option '%s'; see 'cdp task set "
                       "--help'", argv[optind - 1]);
    }
  }
  if (r == 0 && optind + 1 != argc)
    r = usage_error ("usage: cdp task set NAME [POLICY]... [--json]");
  else if (r == 0 && !any)
    r = usage_error ("task set: name a policy to change; see 'cdp task set "
                     "--help'");
  *name = r == 0 ? argv[optind] : NULL;
  return r;
}

static void
say_duration (char *out, size_t len, const char *flag, int64_t from,
              int64_t to)
{
  char a[32], b[32];
  size_t n = strlen (out);

  if (strcmp (flag, "rpo") == 0) {
    policy_format_rpo (from, a, sizeof a);
    policy_format_rpo (to, b, sizeof b);
  }
  else {
    format_duration (from, a, sizeof a);
    format_duration (to, b, sizeof b);
  }
  snprintf (out + n, len - n, "%s--%s %s -> %s", n ? ", " : "", flag, a, b);
}

/* Apply w to p; in out, what changes ("" if nothing); in names (if
 * not NULL), the flags of the policies that change. */
static void
apply (const struct wanted *w, struct task_policy *p, char *out, size_t len,
       json_object *names)
{
  static const char *const flag[] = { "bp-interval", "journal-retention",
    "bp-retention", "max-chain", "verify-interval", "rpo" };
  int64_t *const have[] = { &p->bp_interval, &p->journal_retention,
    &p->bp_retention, NULL, &p->verify_interval, &p->rpo };
  const int64_t want[] = { w->p.bp_interval, w->p.journal_retention,
    w->p.bp_retention, 0, w->p.verify_interval, w->p.rpo };

  *out = '\0';
  for (size_t i = 0; i < sizeof flag / sizeof flag[0]; i++) {
    if (!w->given[i])
      continue;
    if (names && ((have[i] == NULL && p->max_chain != w->p.max_chain) ||
                  (have[i] && *have[i] != want[i])))
      jf_append (names, json_object_new_string (flag[i]));
    if (have[i] == NULL && p->max_chain != w->p.max_chain) {
      size_t n = strlen (out);
      snprintf (out + n, len - n, "%s--max-chain %u -> %u", n ? ", " : "",
                p->max_chain, w->p.max_chain);
      p->max_chain = w->p.max_chain;
    }
    else if (have[i] && *have[i] != want[i]) {
      say_duration (out, len, flag[i], *have[i], want[i]);
      *have[i] = want[i];
    }
  }
}

/* Apply the archive flags of w to a, as apply does the policies (out
 * goes on after what is there). */
static void
apply_archive (const struct wanted *w, struct task_archive *a, char *out,
               size_t len, json_object *names)
{
  static const char *const flag[] = { "archive", "keep-daily", "keep-weekly",
    "keep-monthly", "archive-bandwidth" };
  unsigned *const have[] = { NULL, &a->keep_daily, &a->keep_weekly,
    &a->keep_monthly, NULL };
  const unsigned want[] = { 0, w->a.keep_daily, w->a.keep_weekly,
    w->a.keep_monthly, 0 };
  char x[32], y[32];

  for (size_t i = 0; i < sizeof flag / sizeof flag[0]; i++) {
    size_t n = strlen (out);
    bool change;
    if (!w->agiven[i])
      continue;
    if (i == 0)
      change = (a->location == NULL) != (w->a.location == NULL) ||
        (a->location && strcmp (a->location, w->a.location) != 0);
    else if (i == 4)
      change = a->bandwidth != w->a.bandwidth;
    else
      change = *have[i] != want[i];
    if (!change)
      continue;
    if (names)
      jf_append (names, json_object_new_string (flag[i]));
    if (i == 0) {
      char *loc = w->a.location ? strdup (w->a.location) : NULL;
      snprintf (out + n, len - n, "%s--archive %s -> %s", n ? ", " : "",
                a->location ? a->location : "none",
                w->a.location ? w->a.location : "none");
      if (w->a.location && loc == NULL)
        continue;                   /* out of memory: not changed */
      free (a->location);
      a->location = loc;
    }
    else if (i == 4) {
      snprintf (x, sizeof x, "%llu", (unsigned long long) a->bandwidth);
      snprintf (y, sizeof y, "%llu", (unsigned long long) w->a.bandwidth);
      snprintf (out + n, len - n, "%s--archive-bandwidth %s -> %s",
                n ? ", " : "", x, y);
      a->bandwidth = w->a.bandwidth;
    }
    else {
      snprintf (out + n, len - n, "%s--%s %u -> %u", n ? ", " : "", flag[i],
                *have[i], want[i]);
      *have[i] = want[i];
    }
  }
}

/* Once serve said it applied the change at `since`: its next heartbeat
 * shows it (cdp status reads the heartbeat).  Bounded: the change is
 * made either way. */
static void
await_heartbeat (const struct task *t, int64_t since)
{
  int64_t deadline = time_mono_ns () + SERVED_STALE_NS;

  while (time_mono_ns () < deadline) {
    json_object *state = NULL, *v;
    bool seen = served_load (t, &state) == 0 &&
      json_object_object_get_ex (state, "updated_ns", &v) &&
      json_object_get_int64 (v) > since;
    json_object_put (state);
    if (seen)
      return;
    usleep (50000);
  }
}

/* serve's reply to reload: 0, or -EPROTO with its error in why. */
static int
reload_reply (const char *reply, char *why, size_t len)
{
  json_object *o = json_tokener_parse (reply), *v;
  bool ok = o && json_object_get_boolean (json_object_object_get (o, "ok"));

  if (!ok)
    snprintf (why, len, "%s", o && json_object_object_get_ex (o, "error", &v)
              ? json_object_get_string (v) : "it gave no valid reply");
  json_object_put (o);
  return ok ? 0 : -EPROTO;
}

/* Ask the serve that holds the task, if one does, to apply task.json.
 * 1: served and applied; 0: not served; -errno with why filled. */
static int
reload_served (const struct task *t, char *why, size_t len)
{
  int64_t asked = time_now_ns ();
  char *reply = NULL;
  int e = control_call_within (t, "{\"op\":\"reload\"}",
                               RELOAD_WAIT_NS / 1000000, &reply);

  /* No socket, or a dead serve's: a serve that opens one later reads
   * task.json then. */
  if (e == -ENOENT || e == -ECONNREFUSED)
    return 0;
  if (e < 0) {
    snprintf (why, len, "%s", e == -ETIMEDOUT ? "it did not answer within 30s"
              : strerror (-e));
    return e;
  }
  e = reload_reply (reply, why, len);
  free (reply);
  if (e < 0)
    return e;
  await_heartbeat (t, asked);
  return 1;
}

/* --json: the task as task show prints it, the policies changed (their
 * flags' names) and whether a serve runs by them now. */
static int
print_json (const struct task *t, json_object *names, bool applied)
{
  json_object *o = json_object_new_object ();

  jf_add (o, "task", task_json (t));
  jf_add (o, "changed", json_object_get (names));
  jf_add (o, "applied_live", json_object_new_boolean (applied));
  return cli_print_json (o) == EXIT_OK ? 0 : -ENOMEM;
}

int
cmd_task_set (const char *store, int argc, char **argv)
{
  struct wanted w = { 0 };
  struct task *t = NULL;
  const char *name;
  char changed[512], why[512];
  json_object *names = NULL;
  bool policy_changed, archive_changed;
  size_t policy_len;
  int fd, e;

  if (want_help (argc, argv)) {
    fputs (set_help, stdout);
    return 0;
  }
  task_archive_defaults (&w.a);
  if ((e = parse_args (argc, argv, &w, &name)) != 0 ||
      (w.agiven[0] && (e = cli_archive_check (&w.a)) != 0)) {
    task_archive_free (&w.a);
    return e;
  }
  if (cli_task_load (store, name, &t) != 0) {
    task_archive_free (&w.a);
    return EXIT_FAIL;
  }
  if ((fd = task_lock_hold (t)) < 0) {
    e = fail ("cannot lock %s/task.lock: %s", t->dir, strerror (-fd));
    task_free (t);
    task_archive_free (&w.a);
    return e;
  }
  /* Under the lock: what another task set may have written meanwhile. */
  if ((e = task_policy_load (t, &t->policy)) < 0) {
    e = task_load_fail (store, name, e);
    goto out;
  }
  task_archive_free (&t->archive);    /* task_load's, read again */
  if ((e = task_archive_load (t, &t->archive)) < 0) {
    e = task_load_fail (store, name, e);
    goto out;
  }
  /* task.json keeps no policy of an archive without its location. */
  if ((w.agiven[0] ? w.a.location : t->archive.location) == NULL &&
      (w.agiven[1] || w.agiven[2] || w.agiven[3] || w.agiven[4])) {
    e = usage_error ("task %s: --keep-daily, --keep-weekly, --keep-monthly "
                     "and --archive-bandwidth need --archive LOCATION", name);
    goto out;
  }
  names = w.json ? json_object_new_array () : NULL;
  apply (&w, &t->policy, changed, sizeof changed, names);
  policy_changed = *changed != '\0';
  policy_len = strlen (changed);
  apply_archive (&w, &t->archive, changed, sizeof changed, names);
  archive_changed = strlen (changed) > policy_len;
  if (policy_changed && (e = task_policy_save (t, &t->policy)) < 0) {
    e = fail ("task %s: cannot write %s/task.json: %s; nothing changed",
              name, t->dir, jf_strerror (e));
    goto out;
  }
  if (archive_changed && (e = task_archive_save (t, &t->archive)) < 0) {
    e = fail ("task %s: cannot write %s/task.json: %s; the archive is as "
              "it was%s", name, t->dir, jf_strerror (e),
              policy_changed ? " (the policies are changed)" : "");
    goto out;
  }
  if (w.json)
    ;
  else if (*changed)
    printf ("task %s: %s\n", name, changed);
  else
    printf ("task %s: no change (the policies are set so already)\n", name);
  e = reload_served (t, why, sizeof why);
  if (e >= 0 && w.json)
    e = print_json (t, names, e == 1);
  else if (e == 1)
    printf ("task %s: cdp serve runs by it now\n", name);
  else if (e == 0)
    printf ("task %s: not served now; cdp serve runs by it when it starts "
            "the task\n", name);
  else
    fail ("task %s: task.json is saved, but cdp serve could not apply it "
          "live: %s; it takes effect at the latest when cdp serve next starts "
          "the task",
          name, why);
  e = e < 0 ? EXIT_FAIL : 0;
 out:
  json_object_put (names);
  close (fd);
  task_free (t);
  task_archive_free (&w.a);
  return e;
}
