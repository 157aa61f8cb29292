/* cdp: the read side of a task's archive — points kept as chunks in a
 * directory or S3 (recovery/archive/archive.h), read where the store has
 * no point at T, or with no store at all (view_open_archive).
 *
 * The archive is opened, and the task's points listed, on first use: a
 * task whose every --at is a local point never touches its archive.  A
 * point loaded (its index, with the chunk sums of every disk) and the
 * readers opened on it stay until view_close: the readers keep their
 * point's address. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/task/task.h"
#include "common/error.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"
#include "recovery/archive/archive.h"

#define MAX_LOADED 4
#define MAX_READERS 8

struct view_archive {
  char *location;
  struct archive *a;
  int open_err;                     /* archive_open failed: -errno */
  char why[512];                    /* and why */
  archive_point_vector list;        /* the task's points, oldest first */
  bool listed;
  int list_err;
  struct archive_point *loaded[MAX_LOADED];   /* with disks */
  size_t nloaded;
  struct archive_reader *readers[MAX_READERS];
  size_t nreaders;
  int64_t disks_of;                 /* archive-only: whose disks v->task has */
  bool only;                        /* an archive-only view */
};

static struct view_archive *
va_new (const char *location)
{
  struct view_archive *va = calloc (1, sizeof *va);

  if (va && (va->location = strdup (location)) == NULL) {
    free (va);
    va = NULL;
  }
  return va;
}

/* Open the archive (once): 0, or the error kept in va. */
static int
va_open (struct view_archive *va)
{
  int e;

  if (va->a || va->open_err)
    return va->open_err;
  e = archive_open (va->location, false, &va->a);
  if (e == -ENOENT)
    snprintf (va->why, sizeof va->why, "no archive at %s", va->location);
  else if (e < 0)
    snprintf (va->why, sizeof va->why, "cannot open the archive %s: %s",
              va->location, *cdp_get_error () ? cdp_get_error ()
                                              : strerror (-e));
  va->open_err = e;
  return e;
}

/* The view's archive state: made on first use for a task with one. */
static struct view_archive *
va_of (struct task_view *v)
{
  if (v->arch == NULL && v->task && v->task->archive.location)
    v->arch = va_new (v->task->archive.location);
  return v->arch;
}

bool
view_archive_only (const struct task_view *v)
{
  return v->arch && v->arch->only;
}

bool
view_point_archived (const struct point *p)
{
  return p->ix == NULL;
}

struct archive *
view_archive (struct task_view *v, const char **why)
{
  struct view_archive *va = va_of (v);

  if (va == NULL) {
    if (why)
      *why = "the task keeps no archive";
    return NULL;
  }
  if (va_open (va) < 0) {
    if (why)
      *why = va->why;
    return NULL;
  }
  return va->a;
}

/* How many points serve's archiver last counted in location for task
 * t (TASK/archive.json), 0 when it has not or cannot say. */
static int64_t
archiver_counted (const struct task *t, const char *location)
{
  char *path = task_path (t, "archive.json");
  struct json_object *o = NULL, *l, *n;
  int64_t points = 0;

  if (path && jf_load (path, INT_MAX, &o, NULL) == 0
      && json_object_object_get_ex (o, "location", &l)
      && strcmp (json_object_get_string (l), location) == 0
      && json_object_object_get_ex (o, "points", &n))
    points = json_object_get_int64 (n);
  json_object_put (o);
  free (path);
  return points;
}

int
view_archive_points (struct task_view *v, const archive_point_vector **out,
                     const char **why)
{
  struct view_archive *va = va_of (v);
  int e;

  if (va == NULL)
    return -ENOENT;
  if (!va->listed) {
    e = va_open (va);
    if (e == 0) {
      e = archive_points (va->a, v->task->name, &va->list);
      if (e < 0)
        snprintf (va->why, sizeof va->why, "cannot list the archive %s: %s",
                  va->location, *cdp_get_error () ? cdp_get_error ()
                                                  : strerror (-e));
    }
    /* An archive not made yet holds no point: nothing to list.  One
     * that held points of the task is gone (an unmounted file system, a
     * removed bucket): never shown as empty. */
    if (e == -ENOENT && !va->only) {
      int64_t n = archiver_counted (v->task, va->location);
      if (n > 0) {
        snprintf (va->why, sizeof va->why, "the archive %s is gone (serve "
                  "counted %" PRId64 " points of task %s there): is it "
                  "mounted?", va->location, n, v->task->name);
        e = -ENOMEDIUM;
      }
      else
        e = 0;
    }
    va->list_err = e;
    va->listed = true;
  }
  *out = &va->list;
  if (why)
    *why = va->why;
  return va->list_err;
}

int
view_archive_label (struct task_view *v, const char *label, int64_t *t)
{
  const archive_point_vector *l;
  int e = view_archive_points (v, &l, NULL);
  bool have = false;

  if (e < 0)
    return e;
  for (size_t i = 0; i < l->len; i++)     /* the newest of that label */
    if (l->ptr[i].label && strcmp (l->ptr[i].label, label) == 0) {
      *t = l->ptr[i].time_ns;
      have = true;
    }
  return have ? 0 : -ENOENT;
}

/* "; the nearest archived points are A (older) and B (newer)". */
static void
nearest (const archive_point_vector *l, int64_t t, char *buf, size_t len)
{
  const struct archive_point *older = NULL, *newer = NULL;
  char a[64], b[64];

  for (size_t i = 0; i < l->len; i++) {
    if (l->ptr[i].time_ns < t)
      older = &l->ptr[i];
    else if (l->ptr[i].time_ns > t && newer == NULL)
      newer = &l->ptr[i];
  }
  if (older)
    format_time (older->time_ns, a, sizeof a);
  if (newer)
    format_time (newer->time_ns, b, sizeof b);
  if (older && newer)
    snprintf (buf, len, "the nearest archived points are %s (older) and %s "
              "(newer)", a, b);
  else if (older || newer)
    snprintf (buf, len, "the nearest archived point is %s (%s)",
              older ? a : b, older ? "older" : "newer");
  else
    snprintf (buf, len, "it holds no point of the task");
}

int
view_archive_load (struct task_view *v, int64_t t,
                   const struct archive_point **out, char *why, size_t len)
{
  struct view_archive *va = va_of (v);
  const archive_point_vector *l;
  struct archive_point *pt;
  const char *w;
  char tb[64], near[256];
  int e;

  if (va == NULL) {
    snprintf (why, len, "task %s keeps no archive", v->task->name);
    return -ENOENT;
  }
  for (size_t i = 0; i < va->nloaded; i++)
    if (va->loaded[i]->time_ns == t) {
      *out = va->loaded[i];
      return 0;
    }
  if (va_open (va) == -ENOENT && !va->only) {
    snprintf (why, len, "the archive %s holds no point yet", va->location);
    return -ENOENT;
  }
  if (va->open_err < 0) {
    snprintf (why, len, "%s", va->why);
    return va->open_err == -ENOENT ? -EIO : va->open_err;
  }
  if (va->nloaded == MAX_LOADED) {
    snprintf (why, len, "too many archived points open at once");
    return -EMFILE;
  }
  if ((pt = calloc (1, sizeof *pt)) == NULL) {
    snprintf (why, len, "%s", strerror (ENOMEM));
    return -ENOMEM;
  }
  format_time (t, tb, sizeof tb);
  e = archive_point_load (va->a, v->task->name, t, pt);
  if (e == -ENOENT) {
    free (pt);
    if ((e = view_archive_points (v, &l, &w)) < 0) {
      snprintf (why, len, "%s", w);
      return e;
    }
    nearest (l, t, near, sizeof near);
    snprintf (why, len, "the archive %s holds no point of task %s at %s; %s",
              va->location, v->task->name, tb, near);
    return -ENOENT;
  }
  if (e < 0) {
    snprintf (why, len, "cannot read the archived point of task %s at %s "
              "in %s: %s", v->task->name, tb, va->location,
              *cdp_get_error () ? cdp_get_error () : strerror (-e));
    free (pt);
    return e;
  }
  va->loaded[va->nloaded++] = pt;
  *out = pt;
  return 0;
}

/* An archive-only view's task has the disks of the point at t. */
static int
take_disks (struct task_view *v, const struct archive_point *pt)
{
  struct task *t = v->task;

  if (v->arch->disks_of == pt->time_ns && t->disks.len > 0)
    return 0;
  for (size_t i = 0; i < t->disks.len; i++)
    free (t->disks.ptr[i].name);
  t->disks.len = 0;
  for (size_t i = 0; i < pt->ndisks; i++) {
    struct task_disk d = { .id = (uint32_t) i, .size = pt->disks[i].size };
    if ((d.name = strdup (pt->disks[i].name)) == NULL ||
        task_disk_vector_append (&t->disks, d) < 0) {
      free (d.name);
      return -ENOMEM;
    }
  }
  v->arch->disks_of = pt->time_ns;
  return 0;
}

int
view_archive_point (struct task_view *v, const struct task_disk *d, int64_t t,
                    struct point *p, char *why, size_t len)
{
  struct view_archive *va;
  const struct archive_point *pt;
  struct archive_reader *r;
  char tb[64];
  size_t i;
  int e = view_archive_load (v, t, &pt, why, len);

  if (e < 0)
    return e;
  va = v->arch;
  format_time (t, tb, sizeof tb);
  for (i = 0; i < pt->ndisks; i++)
    if (strcmp (pt->disks[i].name, d->name) == 0)
      break;
  if (i == pt->ndisks) {
    snprintf (why, len, "the archived point of task %s at %s has no disk %s",
              v->task->name, tb, d->name);
    return -ENODEV;
  }
  if (va->nreaders == MAX_READERS) {
    snprintf (why, len, "too many archived disks open at once");
    return -EMFILE;
  }
  e = archive_reader_open (va->a, pt, i, &r);
  if (e < 0) {
    snprintf (why, len, "cannot read disk %s of the archived point of task "
              "%s at %s: %s", d->name, v->task->name, tb,
              *cdp_get_error () ? cdp_get_error () : strerror (-e));
    return e;
  }
  va->readers[va->nreaders++] = r;
  archive_reader_point (r, p);
  return 0;
}

void
view_archive_close (struct task_view *v)
{
  struct view_archive *va = v->arch;

  if (va == NULL)
    return;
  for (size_t i = 0; i < va->nreaders; i++)
    archive_reader_close (va->readers[i]);
  for (size_t i = 0; i < va->nloaded; i++) {
    archive_point_free (va->loaded[i]);
    free (va->loaded[i]);
  }
  archive_points_reset (&va->list);
  archive_close (va->a);
  free (va->location);
  free (va);
  v->arch = NULL;
}

int
view_open_archive (const char *location, const char *name, struct task_view *v)
{
  const archive_point_vector *l;
  const char *why;
  int e;

  memset (v, 0, sizeof *v);
  if (!task_name_valid (name))
    return usage_error ("'%s' is not a task name", name);
  v->task = calloc (1, sizeof *v->task);
  if (v->task == NULL || (v->task->name = strdup (name)) == NULL ||
      (v->arch = va_new (location)) == NULL) {
    view_close (v);
    return fail ("%s", strerror (ENOMEM));
  }
  v->arch->only = true;
  v->arch->disks_of = INT64_MIN;
  policy_defaults (&v->task->policy);
  e = view_archive_points (v, &l, &why);
  /* A damaged index of one point does not hide the others: a point is
   * loaded by its own key, and damage there is refused then. */
  if (e == -EUCLEAN)
    e = 0;
  else if (e == 0 && l->len == 0)
    e = fail ("the archive %s holds no point of task '%s'", location, name);
  else if (e < 0)
    e = fail ("%s", why);
  if (e != 0)
    view_close (v);
  return e;
}

int
view_archive_select (struct task_view *v, int64_t t)
{
  const struct archive_point *pt;
  char why[768];
  int e = view_archive_load (v, t, &pt, why, sizeof why);

  if (e == 0 && (e = take_disks (v, pt)) < 0)
    snprintf (why, sizeof why, "%s", strerror (-e));
  return e < 0 ? fail ("%s", why) : 0;
}
