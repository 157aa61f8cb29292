/* cdp points: the recovery points of a disk, as export and restore take them. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/cli/cli-internal.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"
#include "recovery/archive/archive.h"

#define NS 1000000000LL
#define USAGE "usage: cdp points NAME [--disk D] [--from T] [--to T] " \
              "[--bucket DUR] [--json]"

struct points_out {
  json_object *arr;
  struct task_view *v;
  const struct task_disk *d;
  const lock_vector *locks;     /* the view's (view_locks) */
  int64_t now;
};

/* A point is listed only where export and restore would take it: the
 * same resolution decides both (view_resolve). */
static void
add_point (struct points_out *o, int64_t t, uint64_t seq, const char *kind,
           const char *label)
{
  json_object *p;
  uint64_t at;
  char buf[64];

  if (view_resolve (o->v, o->d, t, &at) != VIEW_POINT)
    return;
  p = json_object_new_object ();

  format_time (t, buf, sizeof buf);
  jf_add (p, "time", json_object_new_string (buf));
  jf_add (p, "kind", json_object_new_string (kind));
  jf_add (p, "locked", json_object_new_boolean (locks_has (o->locks, seq)));
  jf_add (p, "archived", json_object_new_boolean (false));
  if (label)
    jf_add (p, "label", json_object_new_string (label));
  jf_append (o->arr, p);
}

static int
second_cb (void *opaque, int64_t second, uint64_t seq)
{
  struct points_out *o = opaque;

  /* The second still running is no point yet: writes of it may come. */
  if ((second + 1) * NS - 1 <= o->now)
    add_point (o, (second + 1) * NS - 1, seq, "second", NULL);
  return 0;
}

static int
event_cb (void *opaque, const struct index_event *e)
{
  struct points_out *o = opaque;

  if (e->type == JOURNAL_BOOKMARK && (e->disk == o->d->id || e->disk == UINT32_MAX))
    add_point (o, e->time_ns, e->seq, "bookmark", e->label);
  return 0;
}

static int
cmp_time (const void *a, const void *b)
{
  const char *x = json_object_get_string (json_object_object_get (*(json_object *const *) a, "time"));
  const char *y = json_object_get_string (json_object_object_get (*(json_object *const *) b, "time"));

  return strcmp (x, y);
}

/* Does the archived point hold disk d (a listing has the disks' names)? */
static bool
has_disk (const struct archive_point *ap, const struct task_disk *d)
{
  for (size_t i = 0; i < ap->ndisks; i++)
    if (strcmp (ap->disks[i].name, d->name) == 0)
      return true;
  return false;
}

/* The archived points of disk d in [from, to]: a listed point at the
 * same time gets "archived": true, the others are listed as kind
 * "archive", with "local" saying whether the store has that point too
 * (a time between the seconds it lists) (arr sorted by time). */
static int
add_archived (struct task_view *v, const struct task_disk *d, json_object *arr,
              int64_t from, int64_t to)
{
  const archive_point_vector *l;
  const char *why;
  size_t nlocal = json_object_array_length (arr);
  json_object **local = nlocal ? malloc (nlocal * sizeof *local) : NULL;
  int e = view_archive_points (v, &l, &why);

  if (e == -ENOENT) {               /* the task keeps no archive */
    free (local);
    return 0;
  }
  if (e < 0 || (nlocal && local == NULL)) {
    free (local);
    return fail ("task '%s': %s", v->task->name, e < 0 ? why : strerror (ENOMEM));
  }
  for (size_t i = 0; i < nlocal; i++)
    local[i] = json_object_array_get_idx (arr, i);
  for (size_t i = 0; i < l->len; i++) {
    const struct archive_point *ap = &l->ptr[i];
    json_object *p, *key, **hit;
    uint64_t seq;
    char buf[64];

    if (ap->time_ns < from || ap->time_ns > to || !has_disk (ap, d))
      continue;
    format_time (ap->time_ns, buf, sizeof buf);
    key = json_object_new_object ();
    jf_add (key, "time", json_object_new_string (buf));
    hit = nlocal ? bsearch (&key, local, nlocal, sizeof *local, cmp_time) : NULL;
    json_object_put (key);
    if (hit) {
      jf_add (*hit, "archived", json_object_new_boolean (true));
      continue;
    }
    p = json_object_new_object ();
    jf_add (p, "time", json_object_new_string (buf));
    jf_add (p, "kind", json_object_new_string ("archive"));
    jf_add (p, "locked", json_object_new_boolean (false));
    jf_add (p, "archived", json_object_new_boolean (true));
    jf_add (p, "archive_kind", json_object_new_string (ap->kind));
    jf_add (p, "local", json_object_new_boolean (
              view_resolve (v, d, ap->time_ns, &seq) == VIEW_POINT));
    if (ap->label)
      jf_add (p, "label", json_object_new_string (ap->label));
    jf_append (arr, p);
  }
  free (local);
  return 0;
}

int
cmd_points (const char *store, int argc, char **argv)
{
  static const struct option opts[] = {
    { "disk", required_argument, 0, 'd' }, { "from", required_argument, 0, 'f' },
    { "to", required_argument, 0, 't' }, { "json", no_argument, 0, 'j' },
    { "bucket", required_argument, 0, 'b' }, { "help", no_argument, 0, 'h' },
    { 0 } };
  const char *disk = NULL, *from = NULL, *to = NULL, *bucket = NULL;
  int64_t b = 0;
  bool json = false;
  int64_t f = INT64_MIN, t = INT64_MAX, now = time_now_ns ();
  struct task_view v;
  const struct task_disk *d;
  struct points_out o;
  int c, r;

  optind = 1;
  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    switch (c) {
    case 'd': disk = optarg; break;
    case 'f': from = optarg; break;
    case 't': to = optarg; break;
    case 'j': json = true; break;
    case 'b': bucket = optarg; break;
    case 'h':
      puts (USAGE "\n"
            "  --bucket DUR  the timeline: points per bucket of DUR (1s, 5m,\n"
            "                100ms), base points, bookmarks, locks, gaps and\n"
            "                retention edges (docs/JSON.md); needs --json");
      return 0;
    default: return usage_error ("see 'cdp points --help'");
    }
  if (optind + 1 != argc)
    return usage_error (USAGE);
  if ((from && parse_time (from, now, &f) < 0) || (to && parse_time (to, now, &t) < 0))
    return usage_error ("--from/--to: not a time: '%s'", from && parse_time (from, now, &f) < 0 ? from : to);
  if (bucket && !json)
    return usage_error ("--bucket needs --json: the timeline is a JSON document");
  if (bucket && (parse_duration (bucket, &b) < 0 || b < 1000000))
    return usage_error ("--bucket: not a duration of 1ms or more: '%s'", bucket);
  if (bucket && from && f > (to ? t : now))
    return usage_error ("--from is after %s", to ? "--to" : "now");
  /* A --disk the task has not is a runtime failure here (exit 1);
   * export, restore, ls, cat and get say 2. */
  if ((r = cli_view_disk (store, NULL, argv[optind], disk, NULL, &v, &d)) != 0)
    return r == EXIT_USAGE && disk ? EXIT_FAIL : r;
  if (bucket) {
    r = points_timeline (&v, d, from ? &f : NULL, to ? &t : NULL, b, now);
    view_close (&v);
    return r;
  }
  o = (struct points_out) { json_object_new_array (), &v, d, view_locks (&v),
                            now };
  if (v.locks_err < 0) {
    fail ("task '%s': cannot read %s/locks.json: %s", v.task->name,
          v.task->dir, jf_strerror (v.locks_err));
    json_object_put (o.arr);
    view_close (&v);
    return EXIT_FAIL;
  }
  index_seconds (v.ix, d->id, f < 0 ? 0 : f, t, second_cb, &o);
  index_events (v.ix, 0, UINT64_MAX, event_cb, &o);
  for (size_t i = 0; i < v.cat.v.len; i++) {
    const struct base_point *bp = &v.cat.v.ptr[i];
    if (bp->disk == d->id && bp->time_ns >= f && bp->time_ns <= t)
      add_point (&o, bp->time_ns, bp->seq, "base", NULL);
  }
  json_object_array_sort (o.arr, cmp_time);
  if (add_archived (&v, d, o.arr, f, t) != 0) {
    json_object_put (o.arr);
    view_close (&v);
    return EXIT_FAIL;
  }
  if (jf_failed (o.arr)) {
    r = fail ("task '%s': %s", v.task->name, strerror (ENOMEM));
    json_object_put (o.arr);
    view_close (&v);
    return r;
  }
  json_object_array_sort (o.arr, cmp_time);
  if (json)
    r = cli_print_json_list ("points", o.arr);
  else {
    for (size_t i = 0; i < json_object_array_length (o.arr); i++) {
      json_object *p = json_object_array_get_idx (o.arr, i);
      json_object *l = json_object_object_get (p, "label");
      const char *kind = json_object_get_string (json_object_object_get (p, "kind"));
      bool also = strcmp (kind, "archive") != 0 &&
                  json_object_get_boolean (json_object_object_get (p, "archived"));
      printf ("%s  %-8s%s%s%s\n", json_object_get_string (json_object_object_get (p, "time")),
              kind, l ? "  " : "", l ? json_object_get_string (l) : "",
              also ? "  (archived)" : "");
    }
    json_object_put (o.arr);
    r = 0;
  }
  view_close (&v);
  return r;
}
