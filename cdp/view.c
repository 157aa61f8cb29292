/* cdp: the read side of a task — resolving T to a point of a disk. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/cdp.h"
#include "common/timeutil.h"

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
  e = journal_reader_open (dir, &v->jr);
  free (dir);
  if (e == 0) {
    dir = task_path (v->task, "index");
    e = index_open (dir, &v->ix);
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
  if (e == -ENOENT)
    return fail ("no task '%s' in %s", name, store);
  if (e < 0)
    return fail ("task '%s': cannot load: %s", name, strerror (-e));
  dir = task_path (v->task, "journal");
  e = journal_reader_open (dir, &v->jr);
  free (dir);
  if (e < 0) {
    view_close (v);
    return fail ("task '%s' has no history yet (%s): has 'cdp serve' run?",
                 name, strerror (-e));
  }
  dir = task_path (v->task, "index");
  e = index_open (dir, &v->ix);
  free (dir);
  if (e < 0) {
    view_close (v);
    return fail ("task '%s': cannot open index: %s", name, strerror (-e));
  }
  return view_catch_up (v);
}

void
view_close (struct task_view *v)
{
  index_close (v->ix);
  journal_reader_close (v->jr);
  task_free (v->task);
  memset (v, 0, sizeof *v);
}

int
view_catch_up (struct task_view *v)
{
  int64_t n;

  journal_reader_refresh (v->jr);
  n = index_catch_up (v->ix, v->jr);
  if (n < 0)
    return fail ("task '%s': index catch-up failed: %s %s", v->task->name,
                 strerror ((int) -n), *journal_last_error () ?
                 journal_last_error () : index_last_error ());
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

int
view_point (struct task_view *v, const struct task_disk *d, const char *s,
            struct point *p, int64_t *time)
{
  int64_t t;
  uint64_t seq;
  bool faithful;
  struct label_find lf = { .label = s };
  char buf[64];
  int e;

  if (parse_time (s, time_now_ns (), &t) < 0) {
    index_events (v->ix, 0, UINT64_MAX, label_cb, &lf);
    if (!lf.have)
      return usage_error ("'%s' is neither a time nor a bookmark label", s);
    t = lf.found.time_ns;
  }
  e = index_seq_at (v->ix, t, &seq, NULL);
  if (e < 0)
    return fail ("cannot look up %s: %s", s, strerror (-e));
  format_time (t, buf, sizeof buf);
  if (seq == 0 || seq < journal_reader_first_seq (v->jr) - 1)
    return fail ("no recovery point at %s: history of task %s starts later",
                 buf, v->task->name);
  e = index_faithful (v->ix, d->id, seq, t, &faithful);
  if (e == 0 && !faithful)
    return fail ("no exact recovery point at %s: disk %s was not protected "
                 "then (fidelity gap)", buf, d->name);
  *p = (struct point) { .ix = v->ix, .jr = v->jr, .disk = d->id,
                        .size = d->size, .seq = seq,
                        .base = &point_zero_base };
  if (time)
    *time = t;
  return 0;
}
