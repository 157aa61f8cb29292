/* cdp: the read side of a task — resolving T to a point of a disk. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/task/task.h"
#include "common/error.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"
#include "recovery/history/fold.h"

/* view_open without messages: for status, where no history is normal. */
int
view_open_quiet (const char *store, const char *name, struct task_view *v)
{
  char *dir;
  int e;

  memset (v, 0, sizeof *v);
  if (task_load (store, name, &v->task) < 0)
    return -1;
  dir = task_path (v->task, "journal");
  e = dir ? journal_reader_open (dir, &v->jr) : -ENOMEM;
  free (dir);
  if (e == 0) {
    dir = task_path (v->task, "index");
    e = dir ? index_open (dir, &v->ix) : -ENOMEM;
    free (dir);
  }
  if (e < 0) {
    view_close (v);
    return -1;
  }
  return 0;
}

int
view_open (const char *store, const char *name, struct task_view *v)
{
  char *dir;
  int e;

  memset (v, 0, sizeof *v);
  e = task_load (store, name, &v->task);
  if (e < 0)
    return task_load_fail (store, name, e);
  dir = task_path (v->task, "journal");
  if (dir == NULL) {
    view_close (v);
    return fail ("task '%s': %s", name, strerror (ENOMEM));
  }
  e = journal_reader_open (dir, &v->jr);
  free (dir);
  if (e == -EPROTONOSUPPORT) {
    view_close (v);
    return fail ("task '%s': journal %s", name, cdp_get_error ());
  }
  if (e < 0) {
    view_close (v);
    return fail ("task '%s' has no history yet (%s): has 'cdp serve' run?",
                 name, strerror (-e));
  }
  dir = task_path (v->task, "index");
  e = dir ? index_open (dir, &v->ix) : -ENOMEM;
  free (dir);
  if (e < 0) {
    view_close (v);
    return fail ("task '%s': cannot open index: %s", name,
                 e == -EPROTONOSUPPORT ? cdp_get_error () : strerror (-e));
  }
  dir = task_path (v->task, "base");
  if (dir == NULL) {
    view_close (v);
    return fail ("task '%s': %s", name, strerror (ENOMEM));
  }
  e = catalog_load (dir, false, &v->cat);
  if (e < 0) {
    fail ("task '%s': cannot read %s/catalog.json: %s", name, dir,
          jf_strerror (e));
    free (dir);
    view_close (v);
    return EXIT_FAIL;
  }
  free (dir);
  return view_catch_up (v);
}

void
view_close (struct task_view *v)
{
  for (size_t i = 0; i < v->nopened; i++)
    point_close (&v->opened[i]);
  view_archive_close (v);
  catalog_free (&v->cat);
  lock_vector_reset (&v->locks);
  index_close (v->ix);
  journal_reader_close (v->jr);
  task_free (v->task);
  memset (v, 0, sizeof *v);
}

int
view_catch_up (struct task_view *v)
{
  int64_t n;

  cdp_clear_error ();
  journal_reader_refresh (v->jr);
  n = index_catch_up (v->ix, v->jr);
  if (n < 0)
    return fail ("task '%s': index catch-up failed: %s %s", v->task->name,
                 strerror ((int) -n), cdp_get_error ());
  return 0;
}

struct label_find {
  const char *label;
  struct index_event found;
  bool have;
};

static int
label_cb (void *opaque, const struct index_event *e)
{
  struct label_find *f = opaque;

  if (e->type == JOURNAL_BOOKMARK && strcmp (e->label, f->label) == 0) {
    f->found = *e;
    f->have = true;
  }
  return 0;
}

/* Open the point (disk, seq) on its base point; view_close closes it. */
static int
open_point (struct task_view *v, const struct task_disk *d, uint64_t seq,
            struct point *p)
{
  int e;

  if (v->nopened == sizeof v->opened / sizeof v->opened[0])
    return fail ("too many points open at once");
  e = point_open (v->ix, v->jr, &v->cat, d->id, task_disk_size_at (d, seq),
                  seq, p);
  if (e < 0)
    return fail ("cannot open the point: %s", cdp_get_error ());
  v->opened[v->nopened++] = *p;
  return 0;
}

int
view_time (struct task_view *v, const char *s, int64_t *tp)
{
  struct label_find lf = { .label = s };
  int64_t now = time_now_ns ();
  char buf[64];

  if (parse_time (s, now, tp) == 0) {
    if (*tp <= now)
      return view_archive_only (v) ? view_archive_select (v, *tp) : 0;
    /* History ends now: a later point would only be "now" in disguise. */
    format_time (*tp, buf, sizeof buf);
    return usage_error ("%s (%s) is in the future: a point can only be "
                        "asked for up to now", s, buf);
  }
  if (v->ix)
    index_events (v->ix, 0, UINT64_MAX, label_cb, &lf);
  if (lf.have) {
    *tp = lf.found.time_ns;
    return 0;
  }
  /* A bookmark the store forgot may still be an archived point's. */
  if (v->arch || v->task->archive.location) {
    const struct archive_point_vector *l;
    const char *why;
    int e = view_archive_label (v, s, tp);
    if (e == 0)
      return view_archive_only (v) ? view_archive_select (v, *tp) : 0;
    if (e != -ENOENT && view_archive_points (v, &l, &why) < 0)
      return fail ("'%s' is no time, nor a bookmark label of the store, and "
                   "the task's archive cannot be read: %s", s, why);
  }
  return usage_error ("'%s' is neither a time nor a bookmark label", s);
}

static bool journal_covers (struct task_view *v, const struct task_disk *d,
                            uint64_t seq);

struct kept_find {
  int64_t t;
  uint64_t seq;
  bool have;
};

static int
kept_bookmark_cb (void *opaque, const struct index_event *e)
{
  struct kept_find *f = opaque;

  if (e->type == JOURNAL_BOOKMARK && e->time_ns == f->t) {
    f->seq = e->seq;
    f->have = true;
  }
  return 0;
}

/* The locked points, read once per view. */
const lock_vector *
view_locks (struct task_view *v)
{
  if (!v->locks_loaded) {
    v->locks_err = locks_load (v->task, &v->locks);
    v->locks_loaded = true;
  }
  return &v->locks;
}

/* Is t the time of a locked point or a bookmark whose base point is
 * kept?  Those stay exact after the journal around them is gone. */
static bool
kept_point (struct task_view *v, const struct task_disk *d, int64_t t,
            uint64_t *seq)
{
  struct kept_find f = { .t = t };
  const lock_vector *locks = view_locks (v);
  const struct base_point *bp;

  for (size_t i = 0; i < locks->len && !f.have; i++)
    if (locks->ptr[i].time_ns == t) {
      f.seq = locks->ptr[i].seq;
      f.have = true;
    }
  if (!f.have)
    index_events (v->ix, 0, UINT64_MAX, kept_bookmark_cb, &f);
  if (!f.have)
    return false;
  bp = catalog_find (&v->cat, d->id, f.seq);
  if (bp == NULL || (bp->seq != f.seq && !journal_covers (v, d, f.seq)))
    return false;
  *seq = f.seq;
  return true;
}

/* Can the point (d, seq) be read: a base point at or before it, and
 * every record from that base point on, in the journal and in the index
 * (which forgets records with their segments, and those no point needs
 * any more: index_resolve refuses a read below its first_seq)? */
static bool
journal_covers (struct task_view *v, const struct task_disk *d, uint64_t seq)
{
  const struct base_point *bp = catalog_find (&v->cat, d->id, seq);
  uint64_t first = journal_reader_first_seq (v->jr);
  uint64_t ifirst = index_first_seq (v->ix);

  if (ifirst > first)
    first = ifirst;
  return (bp ? bp->seq : 0) + 1 >= first;
}

/* T is older than the journal: only base points remain from then. */
static int
base_only_point (struct task_view *v, const struct task_disk *d, int64_t t,
                 uint64_t *seq)
{
  const struct base_point *bp = catalog_find_time (&v->cat, d->id, t);

  if (bp && bp->time_ns == t) {
    *seq = bp->seq;
    return VIEW_POINT;
  }
  if (bp == NULL && v->cat.v.len > 0 && t >= v->task->created_ns)
    return VIEW_RECLAIMED;
  if (bp == NULL)
    return VIEW_NOT_YET;
  return VIEW_UNREACHED;
}

int
view_resolve (struct task_view *v, const struct task_disk *d, int64_t t,
              uint64_t *seq)
{
  bool faithful;
  int e;

  if (view_archive_only (v))        /* no local history to resolve in */
    return -EOPNOTSUPP;
  e = index_seq_at (v->ix, t, seq, NULL);
  if (e < 0)
    return e;
  if (*seq < d->added_seq)          /* before the disk was added */
    return VIEW_NOT_YET;
  view_locks (v);
  if (v->locks_err < 0)
    return v->locks_err;
  if (kept_point (v, d, t, seq))
    return VIEW_POINT;
  if (*seq == 0 || !journal_covers (v, d, *seq))
    return base_only_point (v, d, t, seq);
  e = index_faithful (v->ix, d->id, *seq, t, &faithful);
  if (e < 0)
    return e;
  return faithful ? VIEW_POINT : VIEW_GAP;
}

uint64_t
view_size_at (struct task_view *v, const struct task_disk *d, int64_t t)
{
  uint64_t seq;

  if (view_archive_only (v))
    return d->size;                 /* the archived point's (view_time) */
  return view_resolve (v, d, t, &seq) == VIEW_POINT
         ? task_disk_size_at (d, seq) : d->size;
}

/* Why there is no local point of d at t (r: view_resolve's verdict),
 * in one line into buf. */
static void
no_point_reason (struct task_view *v, const struct task_disk *d, int64_t t,
                 int r, char *buf, size_t len)
{
  const struct base_point *bp;
  char tb[64], b[64];

  format_time (t, tb, sizeof tb);
  switch (r) {
  case VIEW_GAP:
    snprintf (buf, len, "no exact recovery point at %s: disk %s was not "
              "protected then (fidelity gap)", tb, d->name);
    break;
  case VIEW_RECLAIMED:
    snprintf (buf, len, "no recovery point at %s: history that old was "
              "reclaimed (see 'cdp points' for what is kept)", tb);
    break;
  case VIEW_NOT_YET:
    if (d->added_seq)
      snprintf (buf, len, "no recovery point at %s: disk %s was added to "
                "the task later", tb, d->name);
    else
      snprintf (buf, len, "no recovery point at %s: the history of task %s "
                "starts later", tb, v->task->name);
    break;
  case VIEW_UNREACHED:
    bp = catalog_find_time (&v->cat, d->id, t);
    format_time (bp->time_ns, b, sizeof b);
    snprintf (buf, len, "no recovery point at %s: the journal no longer "
              "reaches back that far; the nearest older base point is %s "
              "(see 'cdp points')", tb, b);
    break;
  default:
    snprintf (buf, len, "cannot look up %s: %s", tb, strerror (-r));
  }
}

int
view_point_at (struct task_view *v, const struct task_disk *d, int64_t t,
               struct point *p)
{
  uint64_t seq;
  char why[1024], local[512];
  int r, e;

  if (view_archive_only (v))
    return view_archive_point (v, d, t, p, why, sizeof why) < 0
           ? fail ("%s", why) : 0;
  r = view_resolve (v, d, t, &seq);
  if (r < 0 && r == v->locks_err)
    return fail ("task '%s': cannot read %s/locks.json: %s", v->task->name,
                 v->task->dir, jf_strerror (v->locks_err));
  if (r == VIEW_POINT)
    return open_point (v, d, seq, p);
  no_point_reason (v, d, t, r, local, sizeof local);
  if (r < 0 || v->task->archive.location == NULL)
    return fail ("%s", local);
  /* No local point at t: the task's archive may hold one. */
  e = view_archive_point (v, d, t, p, why, sizeof why);
  if (e == 0)
    return 0;
  return fail ("%s; %s", local, why);
}

int
view_point (struct task_view *v, const struct task_disk *d, const char *s,
            struct point *p, int64_t *time)
{
  int64_t t;
  int r = view_time (v, s, &t);

  if (r == 0)
    r = view_point_at (v, d, t, p);
  if (r == 0 && time)
    *time = t;
  return r;
}
