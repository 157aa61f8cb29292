/* cdp serve's archiver (archiver.c): which points of a task are due to
 * be archived, read as serve's other threads read them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/task/task.h"
#include "cdp/daemon/daemon.h"
#include "cdp/daemon/archiver-internal.h"
#include "common/error.h"
#include "common/jsonfile.h"
#include "recovery/history/fold.h"

#define SEC 1000000000LL
#define DAY_NS (86400 * SEC)

int
archiver_view_begin (struct task *t, struct receiver *rx,
                     struct journal_reader *jr, struct task_view *v)
{
  char *dir = task_path (t, "base");
  int e;

  memset (v, 0, sizeof *v);
  if (dir == NULL)
    return -ENOMEM;
  e = catalog_load (dir, false, &v->cat);
  free (dir);
  if (e < 0)
    return e;
  journal_reader_refresh (jr);
  v->task = t;
  v->ix = receiver_index (rx);
  v->jr = jr;
  return 0;
}

void
archiver_view_end (struct task_view *v)
{
  for (size_t i = 0; i < v->nopened; i++)
    point_close (&v->opened[i]);
  catalog_free (&v->cat);
  lock_vector_reset (&v->locks);
  view_archive_close (v);
  memset (v, 0, sizeof *v);
}

static bool
all_disks_at (struct task_view *v, int64_t t)
{
  uint64_t seq;

  for (size_t i = 0; i < v->task->disks.len; i++)
    if (view_resolve (v, &v->task->disks.ptr[i], t, &seq) != VIEW_POINT)
      return false;
  return true;
}

/* The newest base point at which every disk has a point, or 0. */
static int64_t
newest_base (struct task_view *v)
{
  int64_t best = 0, bound = INT64_MAX;

  /* Newest first, at most a few tries (a disk's newest may be younger
   * than another's). */
  for (int tries = 0; tries < 8; tries++) {
    int64_t t = 0;
    for (size_t i = 0; i < v->cat.v.len; i++)
      if (v->cat.v.ptr[i].time_ns > t && v->cat.v.ptr[i].time_ns < bound)
        t = v->cat.v.ptr[i].time_ns;
    if (t == 0)
      break;
    if (all_disks_at (v, t)) {
      best = t;
      break;
    }
    bound = t;
  }
  return best;
}

static bool
has_time (const time_vector *v, int64_t t)
{
  for (size_t i = 0; i < v->len; i++)
    if (v->ptr[i] == t)
      return true;
  return false;
}

static int
add_due (due_vector *due, int64_t t, const char *kind, const char *label)
{
  struct due_point d = { .time_ns = t, .kind = kind };

  for (size_t i = 0; i < due->len; i++)
    if (due->ptr[i].time_ns == t)
      return 0;                     /* a locked bookmark: once */
  snprintf (d.label, sizeof d.label, "%s", label ? label : "");
  return due_vector_append (due, d);
}

struct pinned_find {
  struct task_view *v;
  time_vector *pinned;
  due_vector *due;
  const time_vector *archived;
  int err;
};

static int
bookmark_cb (void *opaque, const struct index_event *e)
{
  struct pinned_find *f = opaque;

  if (e->type != JOURNAL_BOOKMARK || has_time (f->pinned, e->time_ns))
    return 0;
  if (time_vector_append (f->pinned, e->time_ns) < 0)
    return f->err = -ENOMEM;
  if (!has_time (f->archived, e->time_ns) && all_disks_at (f->v, e->time_ns) &&
      add_due (f->due, e->time_ns, "bookmark", e->label) < 0)
    return f->err = -ENOMEM;
  return 0;
}

static int
cmp_time (const void *a, const void *b)
{
  int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

  return x < y ? -1 : x > y;
}

static int
cmp_due (const void *a, const void *b)
{
  const struct due_point *x = a, *y = b;

  return x->time_ns < y->time_ns ? -1 : x->time_ns > y->time_ns;
}

int
archiver_due (struct task_view *v, const time_vector *archived,
              due_vector *due, time_vector *pinned)
{
  struct pinned_find f = { v, pinned, due, archived, 0 };
  const lock_vector *locks = view_locks (v);
  int64_t base = newest_base (v), newest = 0;
  int e;

  if (v->locks_err < 0)
    return cdp_set_error (v->locks_err, "cannot read %s/locks.json: %s",
                          v->task->dir, jf_strerror (v->locks_err));
  for (size_t i = 0; i < archived->len; i++)
    if (archived->ptr[i] > newest)
      newest = archived->ptr[i];
  if (base && !has_time (archived, base) &&
      (newest == 0 || newest / DAY_NS < base / DAY_NS) &&
      add_due (due, base, "base", NULL) < 0)
    return -ENOMEM;
  if ((e = index_events (v->ix, 0, UINT64_MAX, bookmark_cb, &f)) < 0)
    return cdp_set_error (e, "cannot read the task's bookmarks: %s",
                          strerror (-e));
  if (f.err < 0)
    return f.err;
  for (size_t i = 0; i < locks->len; i++) {
    int64_t t = locks->ptr[i].time_ns;
    if (!has_time (pinned, t) && time_vector_append (pinned, t) < 0)
      return -ENOMEM;
    if (!has_time (archived, t) && all_disks_at (v, t) &&
        add_due (due, t, "lock", NULL) < 0)
      return -ENOMEM;
  }
  if (due->len > 1)
    qsort (due->ptr, due->len, sizeof due->ptr[0], cmp_due);
  if (pinned->len > 1)
    qsort (pinned->ptr, pinned->len, sizeof pinned->ptr[0], cmp_time);
  return 0;
}
