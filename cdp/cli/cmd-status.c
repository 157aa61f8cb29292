/* cdp status: per task, whether a live cdp serve holds it; per disk its
 * state, RPO lag and durability lag, gaps and newest base point; the
 * journal's span and size, rapid recovery and integrity.  --json: the
 * same as one document. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/cli/cli-internal.h"
#include "cdp/hv/hv.h"
#include "cdp/daemon/daemon.h"
#include "cdp/rapid/rapid.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"

#define NS 1000000000LL

/* When the store ran out of space and exact history was given up. */
static void
add_space_loss (const struct task *t, json_object *o)
{
  char *path = task_path (t, "run/space.json");
  json_object *s = NULL, *v;
  char buf[1024];
  int e;

  if (path == NULL) {
    jf_fail (o);
    return;
  }
  e = jf_load (path, SPACE_VERSION, &s, NULL);
  if (e == 0 && json_object_object_get_ex (s, "history_lost_before_ns", &v) &&
      json_object_is_type (v, json_type_int)) {
    format_time (json_object_get_int64 (v), buf, sizeof buf);
    jf_add (o, "space_reclaimed_before", json_object_new_string (buf));
  }
  else if (e < 0 && e != -ENOENT && !json_object_object_get_ex (o, "error", NULL)) {
    snprintf (buf, sizeof buf, "cannot read %s: %s; it says from when history "
              "was given up for space, and is written again when that next "
              "happens", path, jf_strerror (e));
    jf_add (o, "error", json_object_new_string (buf));
  }
  json_object_put (s);
  free (path);
}

/* Journal span and size, from the index (v: NULL when the task has no
 * history yet) and the journal's files. */
static void
add_journal_status (struct task_view *v, const struct task *t, json_object *o)
{
  int64_t first, last;
  char buf[64], *jdir = task_path (t, "journal");
  uint64_t in_use, spare;

  if (jdir == NULL) {
    jf_fail (o);
    return;
  }
  journal_dir_usage (jdir, &in_use, &spare);
  free (jdir);
  jf_add (o, "journal_bytes", json_object_new_int64 ((int64_t) in_use));
  jf_add (o, "journal_spare_bytes", json_object_new_int64 ((int64_t) spare));
  add_space_loss (t, o);
  if (v && index_span (v->ix, &first, &last) == 0 && last) {
    format_time (first, buf, sizeof buf);
    jf_add (o, "journal_from", json_object_new_string (buf));
    format_time (last, buf, sizeof buf);
    jf_add (o, "journal_to", json_object_new_string (buf));
  }
}

struct gap_scan {
  uint32_t disk;
  int64_t count;
  struct index_event last;
};

static int
gap_cb (void *opaque, const struct index_event *e)
{
  struct gap_scan *g = opaque;

  if (e->type == JOURNAL_GAP && (e->disk == g->disk || e->disk == UINT32_MAX)) {
    g->count++;
    g->last = *e;
  }
  return 0;
}

/* Per disk, from the index and the catalog: the gaps (how many, the
 * last, and so the RPO lag: 0 while protected, else the time since the
 * newest exact instant) and the newest base point. */
static void
add_disk_history (struct task_view *v, const struct task *t,
                  const struct task_disk *td, json_object *d, bool protected)
{
  struct gap_scan g = { .disk = td->id };
  struct base_catalog cat;
  char buf[64], *dir;

  if (v)
    index_events (v->ix, 0, UINT64_MAX, gap_cb, &g);
  jf_add (d, "gaps", json_object_new_int64 (g.count));
  if (g.count) {
    json_object *lg = json_object_new_object ();
    format_time (g.last.time_ns, buf, sizeof buf);
    jf_add (lg, "time", json_object_new_string (buf));
    jf_add (lg, "reason", json_object_new_string (g.last.label));
    jf_add (d, "last_gap", lg);
  }
  if (protected || g.count)
    jf_add (d, "rpo_lag_s", protected ? json_object_new_int (0)
            : json_object_new_double ((double) (time_now_ns () - g.last.time_ns) / NS));
  else
    jf_add_null (d, "rpo_lag_s");
  dir = task_path (t, "base");
  if (dir == NULL)
    jf_fail (d);
  else if (catalog_load (dir, false, &cat) == 0) {
    const struct base_point *bp = catalog_find (&cat, td->id, UINT64_MAX);
    if (bp) {
      format_time (bp->time_ns, buf, sizeof buf);
      jf_add (d, "base_point", json_object_new_string (buf));
    }
    else
      jf_add_null (d, "base_point");
    catalog_free (&cat);
  }
  free (dir);
}

static void
copy_fields (json_object *from, json_object *to, const char *const *keys)
{
  json_object *v;

  for (; *keys; keys++)
    if (json_object_object_get_ex (from, *keys, &v))
      jf_add (to, *keys, json_object_get (v));
}

/* A string member, or NULL when absent or not a string. */
static const char *
str_member (json_object *o, const char *key)
{
  json_object *v;

  if (o == NULL || !json_object_object_get_ex (o, key, &v) ||
      !json_object_is_type (v, json_type_string))
    return NULL;
  return json_object_get_string (v);
}

/* The disk's entry in run/state.json, if the file has one that reads. */
static json_object *
state_disk (json_object *state, const char *name)
{
  json_object *arr;

  if (state == NULL || !json_object_object_get_ex (state, "disks", &arr) ||
      !json_object_is_type (arr, json_type_array))
    return NULL;
  for (size_t k = 0; k < json_object_array_length (arr); k++) {
    json_object *x = json_object_array_get_idx (arr, k);
    const char *n = str_member (x, "name");
    if (n && strcmp (n, name) == 0 && str_member (x, "state") &&
        str_member (x, "reason"))
      return x;
  }
  return NULL;
}

/* served: whether a live cdp serve holds the task; if not, since when
 * (its last heartbeat) and why not, in the disks' reason. */
static void
add_disk_states (struct task_view *v, const struct task *t, json_object *o,
                 json_object *state, bool served, const char *not_served)
{
  json_object *disks = json_object_new_array ();

  for (size_t i = 0; i < t->disks.len; i++) {
    json_object *d = json_object_new_object ();
    json_object *sd = served ? state_disk (state, t->disks.ptr[i].name) : NULL;
    jf_add (d, "name", json_object_new_string (t->disks.ptr[i].name));
    jf_add (d, "state", json_object_new_string (
        sd ? str_member (sd, "state") : "not protected"));
    jf_add (d, "reason", json_object_new_string (
        sd ? str_member (sd, "reason") : not_served));
    if (sd) {
      static const char *const keys[] = { "writes", "bytes",
        "ingest_bytes_per_s", "copy_done", "copy_total",
        "copy_received_bytes", "copy_kept_bytes", NULL };
      copy_fields (sd, d, keys);
    }
    bool protected = sd && strcmp (str_member (sd, "state"), "protected") == 0;
    add_disk_history (v, t, &t->disks.ptr[i], d, protected);
    jf_append (disks, d);
  }
  jf_add (o, "disks", disks);
}

/* Not served: the RPO lag runs from the last heartbeat, when history was
 * last known exact, if that is later than what the gaps say. */
static void
lag_since_heartbeat (json_object *o, int64_t last_ns)
{
  json_object *disks = json_object_object_get (o, "disks"), *lag;
  double since = (double) (time_now_ns () - last_ns) / NS;

  for (size_t i = 0; last_ns > 0 && i < json_object_array_length (disks); i++) {
    json_object *d = json_object_array_get_idx (disks, i);
    lag = json_object_object_get (d, "rpo_lag_s");
    if (lag == NULL || json_object_get_double (lag) > since)
      jf_add (d, "rpo_lag_s",
              json_object_new_double (since < 0 ? 0 : since));
  }
}

/* A task whose task.json cannot be read: an entry that says so. */
static json_object *
task_error_status (const char *store, const char *name, int e)
{
  json_object *o = json_object_new_object ();
  char msg[1024];

  snprintf (msg, sizeof msg, "cannot read %s/tasks/%s/task.json: %s; %s",
            store, name, jf_strerror (e), e == -EPROTONOSUPPORT
            ? "run a cdp that knows its format"
            : "restore it from a backup, or delete the task "
              "(task delete --force)");
  jf_add (o, "name", json_object_new_string (name));
  jf_add (o, "served", json_object_new_boolean (false));
  jf_add (o, "error", json_object_new_string (msg));
  jf_add (o, "disks", json_object_new_array ());
  return o;
}

/* Disks of the domain a task that named its disks leaves alone, as the
 * serve holding it last saw them. */
static void
add_unprotected (const struct task *t, json_object *o, json_object *state,
                 bool served)
{
  json_object *v, *arr;
  char *list = NULL, *save = NULL;

  if (!served || !hv_of (t)->disk_requests)
    return;
  arr = json_object_new_array ();
  if (json_object_object_get_ex (state, "unprotected_disks", &v) &&
      json_object_is_type (v, json_type_string) &&
      (list = strdup (json_object_get_string (v))) == NULL)
    jf_append (arr, NULL);          /* out of memory: the document fails */
  for (char *n = list ? strtok_r (list, ",", &save) : NULL; n;
       n = strtok_r (NULL, ",", &save))
    jf_append (arr, json_object_new_string (n));
  jf_add (o, "unprotected_disks", arr);
  free (list);
}

static void
print_unprotected (json_object *o)
{
  json_object *arr = json_object_object_get (o, "unprotected_disks");

  for (size_t k = 0; arr && k < json_object_array_length (arr); k++)
    printf ("  %-12s not protected (the task protects the disks it named: "
            "task create --disk)\n",
            json_object_get_string (json_object_array_get_idx (arr, k)));
}

/* NULL: no such task. */
/* A task the store's live serve refuses: why, and when it tries again
 * (the serve's STORE/serve.json), in "refused" and a warning. */
static void
add_refusal (const char *store, const char *name, json_object *o,
             char *not_served, size_t len)
{
  char why[1024], next[64];
  long long pid;
  int64_t next_ns;
  json_object *r;

  if (serve_store_refusal (store, name, &pid, why, sizeof why, &next_ns) != 1)
    return;
  r = json_object_new_object ();
  jf_add (r, "reason", json_object_new_string (why));
  jf_add (r, "serve_pid", json_object_new_int64 (pid));
  if (next_ns > 0) {
    format_time (next_ns, next, sizeof next);
    jf_add (r, "next_try", json_object_new_string (next));
  }
  else
    jf_add_null (r, "next_try");
  jf_add (o, "refused", r);
  snprintf (not_served, len, "cdp serve (pid %lld) refuses the task", pid);
  status_warning (o, "cdp serve (pid %lld) cannot serve the task: %s%s%s",
                  pid, why, next_ns > 0 ? "; it tries again at " : "",
                  next_ns > 0 ? next : "");
}

/* "archive": what serve's archiver (TASK/archive.json) says of it, or
 * "not served"; null when the task has no archive. */
static void
archive_status (const struct task *t, json_object *o, bool served)
{
  json_object *a, *st = NULL, *p;
  char *path = task_path (t, "archive.json"), *loc = NULL, *state = NULL;
  char *err = NULL, tb[64];
  int64_t now = time_now_ns (), newest = 0, due = 0;
  bool have;

  if (t->archive.location == NULL) {
    jf_add_null (o, "archive");
    free (path);
    return;
  }
  a = json_object_new_object ();
  have = path && jf_load (path, ARCHIVE_STATE_VERSION, &st, NULL) == 0 &&
    (loc = json_str (st, "location")) &&
    strcmp (loc, t->archive.location) == 0;
  if (have) {
    state = json_str (st, "state");
    err = json_str (st, "error");
    newest = json_int (st, "newest_ns", 0);
    due = json_int (st, "oldest_due_ns", 0);
  }
  jf_add (a, "location", json_object_new_string (t->archive.location));
  jf_add (a, "state", json_object_new_string (
            !served ? "not served" : state ? state : "idle"));
  if (err && *err)
    jf_add (a, "error", json_object_new_string (err));
  else
    jf_add_null (a, "error");
  format_time (newest, tb, sizeof tb);
  if (newest)
    jf_add (a, "newest", json_object_new_string (tb));
  else
    jf_add_null (a, "newest");
  jf_add (a, "points", json_object_new_int64 (have ? json_int (st, "points", 0)
                                              : 0));
  if (have && due >= 0)             /* -1: the archive not read yet */
    jf_add (a, "lag_s", json_object_new_int64 (due && now > due
                                               ? (now - due) / NS : 0));
  else
    jf_add_null (a, "lag_s");
  if (served && have && json_object_object_get_ex (st, "pushing", &p)) {
    json_object *q = json_object_new_object ();
    format_time (json_int (p, "time_ns", 0), tb, sizeof tb);
    jf_add (q, "time", json_object_new_string (tb));
    jf_add (q, "done", json_object_new_int64 (json_int (p, "done", 0)));
    jf_add (q, "total", json_object_new_int64 (json_int (p, "total", 0)));
    jf_add (a, "pushing", q);
  }
  else
    jf_add_null (a, "pushing");
  jf_add (o, "archive", a);
  json_object_put (st);
  free (path);
  free (loc);
  free (state);
  free (err);
}

static void
archive_print (json_object *o)
{
  json_object *a = json_object_object_get (o, "archive"), *v;
  const char *state;

  if (a == NULL)
    return;
  state = json_object_get_string (json_object_object_get (a, "state"));
  printf ("  archive %s: %s",
          json_object_get_string (json_object_object_get (a, "location")),
          state);
  if ((v = json_object_object_get (a, "pushing")) != NULL) {
    int64_t done = json_object_get_int64 (json_object_object_get (v, "done"));
    int64_t total = json_object_get_int64 (json_object_object_get (v, "total"));
    printf (" the point at %s, %d%%",
            json_object_get_string (json_object_object_get (v, "time")),
            total > 0 ? (int) (done * 100 / total) : 0);
  }
  printf (", %lld point%s", (long long) json_object_get_int64 (
            json_object_object_get (a, "points")),
          json_object_get_int64 (json_object_object_get (a, "points")) == 1
          ? "" : "s");
  if ((v = json_object_object_get (a, "newest")) != NULL)
    printf (", newest %s", json_object_get_string (v));
  if ((v = json_object_object_get (a, "lag_s")) != NULL &&
      json_object_get_int64 (v) > 0) {
    char d[32];
    format_duration (json_object_get_int64 (v) * NS, d, sizeof d);
    printf (", lag %s", d);
  }
  if ((v = json_object_object_get (a, "error")) != NULL)
    printf (": %s", json_object_get_string (v));
  putchar ('\n');
}

static json_object *
task_status (const char *store, const char *name)
{
  struct task *t;
  struct task_view view, *v = NULL;
  json_object *o, *state = NULL;
  int64_t last = 0;
  char why[1024], since[64], not_served[128];
  bool served;
  int e = task_load (store, name, &t);

  if (e == -ENOENT || e == -EINVAL)
    return NULL;
  if (e < 0)
    return task_error_status (store, name, e);
  o = json_object_new_object ();
  jf_add (o, "name", json_object_new_string (name));
  served = served_load (t, &state) == 0 && served_alive (state, &last);
  jf_add (o, "served", json_object_new_boolean (served));
  snprintf (not_served, sizeof not_served, "cdp serve is not running");
  if (!served && last > 0) {
    format_time (last, since, sizeof since);
    jf_add (o, "served_until", json_object_new_string (since));
    snprintf (not_served, sizeof not_served, "not served since %s", since);
  }
  if (task_files_check (t, why, sizeof why) < 0) {
    jf_add (o, "error", json_object_new_string (why));
    if (!served)
      snprintf (not_served, sizeof not_served, "cdp serve refuses the task");
  }
  if (!served)
    add_refusal (store, name, o, not_served, sizeof not_served);
  /* The history, if there is one yet: no message when there is none. */
  if (view_open_quiet (store, name, &view) == 0)
    v = &view;
  add_disk_states (v, t, o, state, served, not_served);
  add_unprotected (t, o, state, served);
  if (!served)
    lag_since_heartbeat (o, last);
  rpo_status (t, o, state, served);
  json_object_put (state);
  add_journal_status (v, t, o);
  if (v)
    view_close (v);
  rapid_status (t, o);
  integrity_status (t, o);
  archive_status (t, o, served);
  task_free (t);
  return o;
}

static void
rpo_print (json_object *status)
{
  json_object *r = json_object_object_get (status, "rpo_s");
  char a[32];

  if (r == NULL)
    return;
  policy_format_rpo ((int64_t) (json_object_get_double (r) * NS + 0.5), a,
                     sizeof a);
  if (strcmp (a, "0") == 0)
    printf ("  RPO 0: a guest write completes once its record is durable\n");
  else
    printf ("  RPO %s: a guest write completes once the kernel has its "
            "record, durable within %s\n", a, a);
}

static void
rpo_print_disk (json_object *d)
{
  json_object *lag = json_object_object_get (d, "durability_lag_s");

  if (lag)
    printf (", durability lag %.3fs", json_object_get_double (lag));
  else
    printf (", durability lag -");
}

static void
print_disk_details (json_object *d)
{
  json_object *lag = json_object_object_get (d, "rpo_lag_s");
  json_object *rate = json_object_object_get (d, "ingest_bytes_per_s");
  json_object *bp = json_object_object_get (d, "base_point");
  json_object *lg = json_object_object_get (d, "last_gap");
  char sz[32];

  printf ("  %-12s RPO lag ", "");
  if (lag)
    printf ("%.1fs", json_object_get_double (lag));
  else
    printf ("-");
  rpo_print_disk (d);
  if (rate) {
    format_size ((uint64_t) json_object_get_double (rate), sz, sizeof sz);
    printf (", ingest %s/s", sz);
  }
  printf (", base point %s", bp ? json_object_get_string (bp) : "none");
  printf (", %lld gap%s", (long long) json_object_get_int64 (json_object_object_get (d, "gaps")),
          json_object_get_int64 (json_object_object_get (d, "gaps")) == 1 ? "" : "s");
  if (lg)
    printf (" (last %s: %s)", json_object_get_string (json_object_object_get (lg, "time")),
            json_object_get_string (json_object_object_get (lg, "reason")));
  putchar ('\n');
}

/* One line on the task's rapid recovery, and what to do about it. */
static void
print_recovery (json_object *r, const char *task)
{
  const char *state, *domain, *err;
  json_object *disks;
  uint64_t done = 0, total = 0;

  if (r == NULL)
    return;
  state = json_object_get_string (json_object_object_get (r, "state"));
  domain = json_object_get_string (json_object_object_get (r, "domain"));
  err = json_object_get_string (json_object_object_get (r, "error"));
  disks = json_object_object_get (r, "disks");
  for (size_t i = 0; disks && i < json_object_array_length (disks); i++) {
    json_object *d = json_object_array_get_idx (disks, i);
    done += (uint64_t) json_object_get_int64 (json_object_object_get (d, "done"));
    total += (uint64_t) json_object_get_int64 (json_object_object_get (d, "total"));
  }
  printf ("  recovery     %s (%s%s%s, point %s", state,
          json_object_get_string (json_object_object_get (r, "mode")),
          domain ? " " : "", domain ? domain : "",
          json_object_get_string (json_object_object_get (r, "at")));
  if (strcmp (state, "done") != 0 && total > 0)
    printf (", streamed %.0f%%", 100.0 * (double) done / (double) total);
  printf (")");
  if (strcmp (state, "interrupted") == 0)
    printf (": the VM still reads from the store; run 'cdp recover %s --resume'",
            task);
  else if (err)
    printf (": %s", err);
  putchar ('\n');
}

static void
print_status (json_object *arr)
{
  for (size_t i = 0; i < json_object_array_length (arr); i++) {
    json_object *o = json_object_array_get_idx (arr, i);
    json_object *disks = json_object_object_get (o, "disks");
    json_object *from = json_object_object_get (o, "journal_from");
    json_object *to = json_object_object_get (o, "journal_to");
    char sz[32];
    format_size ((uint64_t) json_object_get_int64 (json_object_object_get (o, "journal_bytes")),
                 sz, sizeof sz);
    json_object *err = json_object_object_get (o, "error");
    json_object *until = json_object_object_get (o, "served_until");
    if (err && disks && json_object_array_length (disks) == 0) {
      printf ("%s  error: %s\n",
              json_object_get_string (json_object_object_get (o, "name")),
              json_object_get_string (err));
      continue;
    }
    printf ("%s  journal %s", json_object_get_string (json_object_object_get (o, "name")), sz);
    if (from && to)
      printf (", %s .. %s", json_object_get_string (from), json_object_get_string (to));
    uint64_t spare = (uint64_t) json_object_get_int64 (json_object_object_get (o, "journal_spare_bytes"));
    if (spare) {
      format_size (spare, sz, sizeof sz);
      printf (" (and %s of spare segments kept for reuse)", sz);
    }
    putchar ('\n');
    if (err)
      printf ("  error: %s\n", json_object_get_string (err));
    json_object *refused = json_object_object_get (o, "refused");
    if (refused)
      printf ("  not served: cdp serve (pid %lld) refuses it\n", (long long)
              json_object_get_int64 (json_object_object_get (refused, "serve_pid")));
    else if (!json_object_get_boolean (json_object_object_get (o, "served")))
      printf ("  not served%s%s\n",
              until ? " since " : " (cdp serve is not running)",
              until ? json_object_get_string (until) : "");
    rpo_print (o);
    json_object *lost = json_object_object_get (o, "space_reclaimed_before");
    if (lost)
      printf ("  the store ran low on space: history before %s is kept only "
              "at base points\n", json_object_get_string (lost));
    for (size_t k = 0; k < json_object_array_length (disks); k++) {
      json_object *d = json_object_array_get_idx (disks, k);
      const char *reason = json_object_get_string (json_object_object_get (d, "reason"));
      printf ("  %-12s %s", json_object_get_string (json_object_object_get (d, "name")),
              json_object_get_string (json_object_object_get (d, "state")));
      if (reason && *reason)
        printf (" (%s)", reason);
      putchar ('\n');
      print_disk_details (d);
    }
    print_unprotected (o);
    print_recovery (json_object_object_get (o, "recovery"),
                    json_object_get_string (json_object_object_get (o, "name")));
    integrity_print (o, json_object_get_string (json_object_object_get (o, "name")));
    archive_print (o);
    json_object *warn = json_object_object_get (o, "warnings");
    for (size_t k = 0; warn && k < json_object_array_length (warn); k++)
      printf ("  warning: %s\n",
              json_object_get_string (json_object_array_get_idx (warn, k)));
  }
}

int
cmd_status (const char *store, int argc, char **argv)
{
  string_vector names = empty_vector;
  json_object *arr;
  bool json = false;
  int r = 0;

  if (cli_flag (argc, argv, "--help")) {
    puts ("usage: cdp status [NAME] [--json]");
    return 0;
  }
  arr = json_object_new_array ();
  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--json") == 0)
      json = true;
    else
      string_vector_append (&names, strdup (argv[i]));
  }
  if (names.len == 0)
    task_list (store, &names);
  for (size_t i = 0; r == 0 && i < names.len; i++) {
    json_object *o = task_status (store, names.ptr[i]);
    if (o == NULL)
      r = fail ("no task '%s' in %s", names.ptr[i], store);
    else
      jf_append (arr, o);
  }
  if (r == 0 && json)
    r = cli_print_json_list ("tasks", json_object_get (arr));
  else if (r == 0 && jf_failed (arr))
    r = fail ("cannot print the status: %s", strerror (ENOMEM));
  else if (r == 0)
    print_status (arr);
  json_object_put (arr);
  for (size_t i = 0; i < names.len; i++)
    free (names.ptr[i]);
  string_vector_reset (&names);
  return r;
}
