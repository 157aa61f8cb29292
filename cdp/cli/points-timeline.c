/* cdp points --bucket: the timeline a page draws (docs/JSON.md). */
#include <errno.h>
#include <json-c/json.h>
#include <json-c/printbuf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli-internal.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"
#include "recovery/archive/archive.h"

#define NS 1000000000LL

/* A base point or bookmark in the range, as the list shows it. */
struct tl_point {
  int64_t time;
  const char *kind;
  bool locked;
  char label[256];
};
DEFINE_VECTOR_TYPE (tl_point_vector, struct tl_point)

struct timeline {
  struct task_view *v;
  const struct task_disk *d;
  const lock_vector *locks;
  int64_t from, to, bucket, now;
  size_t n;                     /* buckets */
  uint32_t *counts;
  tl_point_vector points;
  const archive_point_vector *archived;   /* NULL: the task keeps no archive */
  int err;                      /* a lookup that failed: -errno */
};

/* t in [from, to]: its bucket (unsigned: to - from may pass INT64_MAX). */
static void
count (struct timeline *tl, int64_t t)
{
  tl->counts[((uint64_t) t - (uint64_t) tl->from) / (uint64_t) tl->bucket]++;
}

static int
count_second (void *opaque, int64_t t, uint64_t seq)
{
  count (opaque, t);
  return 0;
}

/* A base point or bookmark is listed where view_resolve takes it. */
static int
add_point (struct timeline *tl, int64_t t, uint64_t seq, const char *kind,
           const char *label)
{
  struct tl_point p = { t, kind, locks_has (tl->locks, seq), "" };
  uint64_t at;
  int r;

  if (t < tl->from || t > tl->to)
    return 0;
  if ((r = view_resolve (tl->v, tl->d, t, &at)) != VIEW_POINT)
    return r < 0 ? r : 0;
  if (label)
    snprintf (p.label, sizeof p.label, "%s", label);
  count (tl, t);
  return tl_point_vector_append (&tl->points, p);
}

static int
bookmark_cb (void *opaque, const struct index_event *e)
{
  struct timeline *tl = opaque;

  if (e->type != JOURNAL_BOOKMARK ||
      (e->disk != tl->d->id && e->disk != UINT32_MAX))
    return 0;
  return add_point (tl, e->time_ns, e->seq, "bookmark", e->label);
}

/* By time; at one time bookmarks before base points, as the list. */
static int
cmp_point (const void *a, const void *b)
{
  const struct tl_point *p = a, *q = b;

  if (p->time != q->time)
    return (p->time > q->time) - (p->time < q->time);
  return -strcmp (p->kind, q->kind);
}

static int
collect (struct timeline *tl)
{
  const base_vector *bps = &tl->v->cat.v;
  int r = view_seconds (tl->v, tl->d, tl->from, tl->to, tl->now,
                        count_second, tl);

  for (size_t i = 0; r == 0 && i < bps->len; i++)
    if (bps->ptr[i].disk == tl->d->id)
      r = add_point (tl, bps->ptr[i].time_ns, bps->ptr[i].seq, "base", NULL);
  if (r == 0)
    r = index_events (tl->v->ix, 0, UINT64_MAX, bookmark_cb, tl);
  if (r == 0 && tl->points.len > 1)
    qsort (tl->points.ptr, tl->points.len, sizeof tl->points.ptr[0],
           cmp_point);
  return r;
}

/* ---- the oldest points ------------------------------------------------ */

static int
first_second (void *opaque, int64_t t, uint64_t seq)
{
  *(int64_t *) opaque = t;
  return 1;
}

/* The oldest base point of the disk that is a point (INT64_MAX: none). */
static int
oldest_base (struct task_view *v, const struct task_disk *d, int64_t *t)
{
  const base_vector *bps = &v->cat.v;
  uint64_t at;
  int r;

  *t = INT64_MAX;
  for (size_t i = 0; i < bps->len; i++) {
    if (bps->ptr[i].disk != d->id || bps->ptr[i].time_ns >= *t)
      continue;
    if ((r = view_resolve (v, d, bps->ptr[i].time_ns, &at)) < 0)
      return r;
    if (r == VIEW_POINT)
      *t = bps->ptr[i].time_ns;
  }
  return 0;
}

struct oldest_mark {
  struct task_view *v;
  const struct task_disk *d;
  int64_t t;
};

static int
oldest_mark_cb (void *opaque, const struct index_event *e)
{
  struct oldest_mark *o = opaque;
  uint64_t at;
  int r;

  if (e->type != JOURNAL_BOOKMARK || e->time_ns >= o->t ||
      (e->disk != o->d->id && e->disk != UINT32_MAX))
    return 0;
  if ((r = view_resolve (o->v, o->d, e->time_ns, &at)) < 0)
    return r;
  if (r == VIEW_POINT)
    o->t = e->time_ns;
  return 0;
}

/* The oldest point of each kind (INT64_MAX: none). */
static int
oldest_points (struct task_view *v, const struct task_disk *d, int64_t now,
               int64_t *second, int64_t *base, int64_t *mark)
{
  struct oldest_mark o = { v, d, INT64_MAX };
  int r;

  *second = INT64_MAX;
  if ((r = view_seconds (v, d, 0, now, now, first_second, second)) < 0 ||
      (r = oldest_base (v, d, base)) < 0 ||
      (r = index_events (v->ix, 0, UINT64_MAX, oldest_mark_cb, &o)) < 0)
    return r;
  *mark = o.t;
  return 0;
}

/* ---- the document ------------------------------------------------------ */

static json_object *
time_string (int64_t t)
{
  char buf[64];

  format_time (t, buf, sizeof buf);
  return json_object_new_string (buf);
}

static void
add_time_or_null (json_object *o, const char *key, int64_t t)
{
  if (t == INT64_MAX)
    jf_add_null (o, key);
  else
    jf_add (o, key, time_string (t));
}

/* The counts are written as text by json-c's printer: 86400 integers
 * as json-c objects would cost more than everything else together. */
struct counts_text {
  char *s;
  size_t len;
};

static int
counts_print (json_object *o, struct printbuf *pb, int level, int flags)
{
  const struct counts_text *c = json_object_get_userdata (o);

  return printbuf_memappend (pb, c->s, (int) c->len) < 0 ? -1 : 0;
}

static void
counts_free (json_object *o, void *userdata)
{
  struct counts_text *c = userdata;

  free (c->s);
  free (c);
}

char *
points_counts_text (const uint32_t *counts, size_t n, size_t *len)
{
  char *s, *p;

  /* "[" + at most 11 bytes a count ("4294967295,") + "]" */
  if (n > (SIZE_MAX - 3) / 11 || (s = malloc (n * 11 + 3)) == NULL)
    return NULL;
  p = s;
  *p++ = '[';
  for (size_t i = 0; i < n; i++) {
    uint32_t x = counts[i];
    char d[10];
    int k = 0;
    do
      d[k++] = (char) ('0' + x % 10);
    while ((x /= 10) != 0);
    while (k > 0)
      *p++ = d[--k];
    *p++ = ',';
  }
  if (n > 0)
    p--;
  *p++ = ']';
  *p = 0;
  *len = (size_t) (p - s);
  return s;
}

static json_object *
counts_json (const struct timeline *tl)
{
  struct counts_text *c = calloc (1, sizeof *c);
  json_object *o;

  if (c == NULL ||
      (c->s = points_counts_text (tl->counts, tl->n, &c->len)) == NULL) {
    free (c);
    return NULL;
  }
  if ((o = json_object_new_array ()) == NULL) {
    counts_free (NULL, c);
    return NULL;
  }
  json_object_set_serializer (o, counts_print, c, counts_free);
  return o;
}

/* Does the archive hold a point of the disk at exactly t? */
static bool
archived_at (const struct timeline *tl, int64_t t)
{
  for (size_t i = 0; tl->archived && i < tl->archived->len; i++) {
    const struct archive_point *ap = &tl->archived->ptr[i];
    for (size_t k = 0; ap->time_ns == t && k < ap->ndisks; k++)
      if (strcmp (ap->disks[k].name, tl->d->name) == 0)
        return true;
  }
  return false;
}

static json_object *
points_json (const struct timeline *tl)
{
  json_object *arr = json_object_new_array ();

  for (size_t i = 0; i < tl->points.len; i++) {
    const struct tl_point *p = &tl->points.ptr[i];
    json_object *o = json_object_new_object ();
    jf_add (o, "time", time_string (p->time));
    jf_add (o, "kind", json_object_new_string (p->kind));
    jf_add (o, "locked", json_object_new_boolean (p->locked));
    jf_add (o, "archived", json_object_new_boolean (archived_at (tl, p->time)));
    if (strcmp (p->kind, "bookmark") == 0)
      jf_add (o, "label", json_object_new_string (p->label));
    jf_append (arr, o);
  }
  return arr;
}

static int
cmp_lock (const void *a, const void *b)
{
  int64_t x = ((const struct point_lock *) a)->time_ns;
  int64_t y = ((const struct point_lock *) b)->time_ns;

  return (x > y) - (x < y);
}

static json_object *
locks_json (struct timeline *tl)
{
  json_object *arr = json_object_new_array ();
  lock_vector sorted = empty_vector;
  uint64_t at;
  int r;

  for (size_t i = 0; i < tl->locks->len; i++)
    if (tl->locks->ptr[i].time_ns >= tl->from &&
        tl->locks->ptr[i].time_ns <= tl->to &&
        lock_vector_append (&sorted, tl->locks->ptr[i]) < 0) {
      tl->err = -ENOMEM;
      break;
    }
  if (sorted.len > 1)
    qsort (sorted.ptr, sorted.len, sizeof sorted.ptr[0], cmp_lock);
  for (size_t i = 0; tl->err == 0 && i < sorted.len; i++) {
    json_object *o = json_object_new_object ();
    if ((r = view_resolve (tl->v, tl->d, sorted.ptr[i].time_ns, &at)) < 0)
      tl->err = r;
    jf_add (o, "time", time_string (sorted.ptr[i].time_ns));
    jf_add (o, "point", json_object_new_boolean (r == VIEW_POINT));
    jf_append (arr, o);
  }
  lock_vector_reset (&sorted);
  return arr;
}

/* Gaps: from a gap event (when fidelity was lost) to the disk's next
 * resume; a gap journaled while one is open belongs to it. */
struct gap_walk {
  struct timeline *tl;
  json_object *arr;
  bool open;
  int64_t from;
  char reason[256];
};

static void
gap_emit (struct gap_walk *g, int64_t to)
{
  json_object *o;

  if (g->from > g->tl->to || (to != INT64_MAX && to < g->tl->from))
    return;
  o = json_object_new_object ();
  jf_add (o, "from", time_string (g->from));
  add_time_or_null (o, "to", to);
  jf_add (o, "reason", json_object_new_string (g->reason));
  jf_append (g->arr, o);
}

static int
gap_cb (void *opaque, const struct index_event *e)
{
  struct gap_walk *g = opaque;

  if (e->disk != g->tl->d->id)
    return 0;
  if (e->type == JOURNAL_GAP && !g->open) {
    g->open = true;
    g->from = e->time_ns;
    snprintf (g->reason, sizeof g->reason, "%s", e->label);
  } else if (e->type == JOURNAL_RESUME && g->open) {
    g->open = false;
    gap_emit (g, e->time_ns);
  }
  return 0;
}

static json_object *
gaps_json (struct timeline *tl)
{
  struct gap_walk g = { .tl = tl, .arr = json_object_new_array () };
  int r = index_events (tl->v->ix, 0, UINT64_MAX, gap_cb, &g);

  if (r < 0)
    tl->err = r;
  if (g.open)
    gap_emit (&g, INT64_MAX);
  return g.arr;
}

/* The archived points in the range, oldest first; "local": --at finds
 * the same time in the store too. */
static json_object *
archive_json (struct timeline *tl)
{
  json_object *arr = json_object_new_array ();
  uint64_t at;
  int r;

  for (size_t i = 0; tl->archived && tl->err == 0 && i < tl->archived->len; i++) {
    const struct archive_point *ap = &tl->archived->ptr[i];
    json_object *o;

    if (ap->time_ns < tl->from || ap->time_ns > tl->to ||
        !archived_at (tl, ap->time_ns))
      continue;
    if ((r = view_resolve (tl->v, tl->d, ap->time_ns, &at)) < 0) {
      tl->err = r;
      break;
    }
    o = json_object_new_object ();
    jf_add (o, "time", time_string (ap->time_ns));
    jf_add (o, "kind", json_object_new_string (ap->kind));
    if (ap->label)
      jf_add (o, "label", json_object_new_string (ap->label));
    jf_add (o, "local", json_object_new_boolean (r == VIEW_POINT));
    jf_append (arr, o);
  }
  return arr;
}

static json_object *
retention_json (struct timeline *tl, int64_t second, int64_t base)
{
  struct task_policy p = task_policy (tl->v->task);
  json_object *o = json_object_new_object ();

  add_time_or_null (o, "oldest_second", second);
  add_time_or_null (o, "oldest_base", base);
  add_time_or_null (o, "oldest_archived", tl->archived && tl->archived->len
                    ? tl->archived->ptr[0].time_ns : INT64_MAX);
  jf_add (o, "journal_retention_s",
          json_object_new_double ((double) p.journal_retention / NS));
  jf_add (o, "bp_retention_s",
          json_object_new_double ((double) p.bp_retention / NS));
  return o;
}

static json_object *
duration_s (int64_t ns)
{
  if (ns % NS == 0)
    return json_object_new_int64 (ns / NS);
  return json_object_new_double ((double) ns / NS);
}

static json_object *
document (struct timeline *tl, int64_t oldest_second, int64_t oldest_bp)
{
  json_object *o = json_object_new_object ();

  jf_add (o, "version", json_object_new_int (CDP_JSON_VERSION));
  jf_add (o, "task", json_object_new_string (tl->v->task->name));
  jf_add (o, "disk", json_object_new_string (tl->d->name));
  jf_add (o, "from", time_string (tl->from));
  jf_add (o, "to", time_string (tl->to));
  jf_add (o, "bucket_s", duration_s (tl->bucket));
  jf_add (o, "bucket_ns", json_object_new_int64 (tl->bucket));
  jf_add (o, "buckets", json_object_new_int64 ((int64_t) tl->n));
  jf_add (o, "now", time_string (tl->now));
  jf_add (o, "counts", counts_json (tl));
  jf_add (o, "points", points_json (tl));
  jf_add (o, "locks", locks_json (tl));
  jf_add (o, "gaps", gaps_json (tl));
  jf_add (o, "archive", archive_json (tl));
  jf_add (o, "retention", retention_json (tl, oldest_second, oldest_bp));
  return o;
}

/* ---- the command ------------------------------------------------------- */

int64_t
points_floor (int64_t t, int64_t bucket)
{
  int64_t q = t / bucket;

  if (t % bucket != 0 && t < 0)
    q--;
  return q * bucket;
}

size_t
points_bucket_count (int64_t from, int64_t to, int64_t bucket)
{
  uint64_t span = (uint64_t) to - (uint64_t) from;  /* from <= to */
  uint64_t n = span / (uint64_t) bucket + 1;

  return n > POINTS_MAX_BUCKETS ? 0 : (size_t) n;
}

int
points_timeline (struct task_view *v, const struct task_disk *d,
                 const int64_t *from, const int64_t *to, int64_t bucket,
                 int64_t now)
{
  struct timeline tl = { .v = v, .d = d, .locks = view_locks (v),
                         .bucket = bucket, .now = now,
                         .points = empty_vector };
  int64_t second, base, mark, oldest;
  json_object *doc = NULL;
  const char *why;
  int r;

  if (v->locks_err < 0)
    return fail ("task '%s': cannot read %s/locks.json: %s", v->task->name,
                 v->task->dir, jf_strerror (v->locks_err));
  if ((r = oldest_points (v, d, now, &second, &base, &mark)) < 0)
    return fail ("task '%s': cannot read the index: %s", v->task->name,
                 strerror (-r));
  r = view_archive_points (v, &tl.archived, &why);
  if (r == -ENOENT)
    tl.archived = NULL;             /* the task keeps no archive */
  else if (r < 0)
    return fail ("task '%s': %s", v->task->name, why);
  tl.to = to ? *to : now;
  oldest = second < base ? second : base;
  oldest = mark < oldest ? mark : oldest;
  tl.from = from ? *from : oldest == INT64_MAX || oldest > tl.to
    ? tl.to : points_floor (oldest, bucket);
  if ((tl.n = points_bucket_count (tl.from, tl.to, bucket)) == 0)
    return usage_error ("--bucket: the range holds more than %d buckets; "
                        "use a wider bucket or a shorter range",
                        POINTS_MAX_BUCKETS);
  if ((tl.counts = calloc (tl.n, sizeof *tl.counts)) == NULL)
    return fail ("task '%s': %s", v->task->name, strerror (ENOMEM));
  r = collect (&tl);
  if (r == 0) {
    doc = document (&tl, second, base);
    r = tl.err;
  }
  free (tl.counts);
  tl_point_vector_reset (&tl.points);
  if (r < 0) {
    json_object_put (doc);
    return fail ("task '%s': cannot make the timeline: %s", v->task->name,
                 strerror (-r));
  }
  return cli_print_json (doc);
}
