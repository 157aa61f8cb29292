/* cdp: the points of a task at one time, served read-only over NBD
 * (cdp recover).
 *
 * One export per disk, named after it.  A point reads journal segments
 * directly; when a fold has made a base point of them and retention
 * reclaimed them under the export (-ESTALE), the task is opened again,
 * the points resolved again at the same time (the recovery locks it, so
 * it is kept), and the read retried.  Reads hold the view's read lock;
 * reopening takes it for writing.
 */
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/task/task.h"
#include "cdp/rapid/rapid.h"
#include "cdp/rapid/pointexp.h"
#include "common/error.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"

#define MAX_DISKS 4


struct pexp_x {
  struct pexp *e;
  size_t i;
  char desc[160];
};

struct pexp {
  char *store, *task;
  int64_t t;
  struct task_view v;
  struct point p[MAX_DISKS];
  const struct task_disk *d[MAX_DISKS];
  struct pexp_x x[MAX_DISKS];
  size_t n;
  unsigned gen;
  pthread_rwlock_t rw;
  pthread_mutex_t damage_lock;
  string_vector damaged;            /* places already reported */
};

/* Resolve the points of the disks at e->t in the open view v. */
static int
resolve_points (struct pexp *e, const string_vector *disks, struct task_view *v,
                struct point *p, const struct task_disk **d)
{
  for (size_t i = 0; i < disks->len; i++) {
    d[i] = task_find_disk (v->task, disks->ptr[i]);
    if (d[i] == NULL)
      return fail ("task %s has no disk %s any more", e->task, disks->ptr[i]);
    if (view_point_at (v, d[i], e->t, &p[i]) != 0)
      return -1;
  }
  return 0;
}

/* Open the task and the points of the disks at e->t into v and p. */
static int
open_points (struct pexp *e, const string_vector *disks, struct task_view *v,
             struct point *p, const struct task_disk **d)
{
  if (view_open (e->store, e->task, v) != 0)
    return -1;
  if (resolve_points (e, disks, v, p, d) != 0) {
    view_close (v);
    return -1;
  }
  return 0;
}

int
pexp_open (const char *store, const char *task, int64_t t,
           const string_vector *disks, struct task_view *v, struct pexp **ep)
{
  struct pexp *e;
  char tbuf[64];

  if (disks->len == 0 || disks->len > MAX_DISKS)
    return fail ("cannot serve %zu disks at once (1 to %d)", disks->len,
                 MAX_DISKS);
  e = calloc (1, sizeof *e);
  if (e == NULL)
    return fail ("out of memory");
  e->store = strdup (store);
  e->task = strdup (task);
  e->t = t;
  e->n = disks->len;
  pthread_rwlock_init (&e->rw, NULL);
  pthread_mutex_init (&e->damage_lock, NULL);
  if (v) {
    e->v = *v;
    memset (v, 0, sizeof *v);
  }
  if ((v ? resolve_points (e, disks, &e->v, e->p, e->d)
         : open_points (e, disks, &e->v, e->p, e->d)) != 0) {
    pexp_close (e);
    return -1;
  }
  format_time (t, tbuf, sizeof tbuf);
  for (size_t i = 0; i < e->n; i++) {
    e->x[i].e = e;
    e->x[i].i = i;
    snprintf (e->x[i].desc, sizeof e->x[i].desc, "%s/%s at %s", task,
              e->d[i]->name, tbuf);
  }
  *ep = e;
  return 0;
}

void
pexp_close (struct pexp *e)
{
  if (e == NULL)
    return;
  if (e->v.task)
    view_close (&e->v);
  pthread_rwlock_destroy (&e->rw);
  pthread_mutex_destroy (&e->damage_lock);
  for (size_t k = 0; k < e->damaged.len; k++)
    free (e->damaged.ptr[k]);
  string_vector_reset (&e->damaged);
  free (e->store);
  free (e->task);
  free (e);
}

uint64_t
pexp_size (const struct pexp *e, size_t i)
{
  return e->p[i].size;
}

bool
pexp_archived (const struct pexp *e, size_t i)
{
  return view_point_archived (&e->p[i]);
}

/* The journal went from under the points read at generation gen: open
 * them again (once per generation, whichever reader comes first). */
static int
reopen (struct pexp *e, unsigned gen)
{
  string_vector names = empty_vector;
  struct task_view v;
  struct point p[MAX_DISKS];
  const struct task_disk *d[MAX_DISKS];
  int r = 0;

  pthread_rwlock_wrlock (&e->rw);
  /* Only a journal goes from under a point: an archive-only view has
   * none, and nothing to open again. */
  if (e->gen == gen && view_archive_only (&e->v))
    r = -1;
  else if (e->gen == gen) {
    for (size_t i = 0; i < e->n; i++)
      string_vector_append (&names, strdup (e->d[i]->name));
    r = open_points (e, &names, &v, p, d);
    if (r == 0) {
      view_close (&e->v);
      e->v = v;
      memcpy (e->p, p, sizeof p);
      memcpy (e->d, d, sizeof d);
      e->gen++;
      log_msg ("task %s: the journal under the served point was folded; "
               "reading it from the base point now", e->task);
    }
    for (size_t i = 0; i < names.len; i++)
      free (names.ptr[i]);
    string_vector_reset (&names);
  }
  pthread_rwlock_unlock (&e->rw);
  return r == 0 ? 0 : -EIO;
}

/* Whether the damaged place where was reported already; now it is. */
static bool
seen_before (struct pexp *e, const char *where)
{
  bool seen = false;

  pthread_mutex_lock (&e->damage_lock);
  for (size_t k = 0; k < e->damaged.len && !seen; k++)
    seen = strcmp (e->damaged.ptr[k], where) == 0;
  if (!seen)
    string_vector_append (&e->damaged, strdup (where));
  pthread_mutex_unlock (&e->damage_lock);
  return seen;
}

/* A read found damaged history (the client gets EIO): log it and
 * record it, once per damaged place; a damaged archived chunk is the
 * archive's (cdp verify --archive), not the store's: logged only.  Read
 * lock held. */
static void
report_damage (struct pexp *e, size_t i)
{
  char msg[512];
  json_object *o, *arr;
  const char *where;
  bool seen;

  if (view_point_archived (&e->p[i])) {
    snprintf (msg, sizeof msg, "%s", cdp_get_error ());
    if (!seen_before (e, msg))
      log_msg ("task %s: %s; reads of it fail with EIO", e->task, msg);
    return;
  }
  o = integrity_read_entry (e->v.task, &e->v.cat, "export", msg, sizeof msg);
  if (o == NULL)
    return;
  where = json_object_get_string (json_object_object_get (o, "where"));
  seen = seen_before (e, where);
  if (seen) {
    json_object_put (o);
    return;
  }
  arr = json_object_new_array ();
  jf_append (arr, o);
  integrity_change (e->v.task, arr, false, NULL);
  json_object_put (arr);
  log_msg ("task %s: %s; reads of it fail with EIO", e->task, msg);
}

int
pexp_read (struct pexp *e, size_t i, void *buf, uint32_t count,
           uint64_t offset, point_extent_vector *holes)
{
  for (int tries = 0; ; tries++) {
    unsigned gen;
    size_t nholes = holes ? holes->len : 0;
    int r;

    pthread_rwlock_rdlock (&e->rw);
    gen = e->gen;
    r = buf ? point_pread (&e->p[i], buf, offset, count, holes)
            : point_block_status (&e->p[i], offset, count, holes);
    if (r == -EUCLEAN)
      report_damage (e, i);
    pthread_rwlock_unlock (&e->rw);
    if (r != -ESTALE || tries == 2)
      return r;
    if (holes)
      holes->len = nholes;
    if (reopen (e, gen) < 0)
      return -EIO;
  }
}

/* ---- the NBD backend ------------------------------------------------------- */

static int
px_open (void *opaque, const char *name, void **handle,
         struct nbd_export_info *info)
{
  struct pexp *e = opaque;
  size_t i;

  for (i = 0; i < e->n; i++)
    if (*name == 0 || strcmp (name, e->d[i]->name) == 0)
      break;
  if (i == e->n)
    return -ENOENT;
  *handle = &e->x[i];
  *info = (struct nbd_export_info) {
    .size = e->p[i].size, .read_only = true, .can_multi_conn = true,
    .min_block = 1, .pref_block = 4096, .max_block = 32 << 20,
    .description = e->x[i].desc,
  };
  return 0;
}

static int
px_list (void *opaque, struct nbd_export_list *l)
{
  struct pexp *e = opaque;
  int r = 0;

  for (size_t i = 0; r == 0 && i < e->n; i++)
    r = nbd_export_list_add (l, e->d[i]->name, e->x[i].desc);
  return r;
}

/* Extents of [off, off+count) from its holes (in order): data between. */
static void
add_extents (struct nbd_extents *extents, const point_extent_vector *holes,
             uint64_t off, uint64_t count)
{
  uint64_t at = off;

  for (size_t k = 0; k < holes->len; k++) {
    if (holes->ptr[k].off > at)
      nbd_extents_add (extents, at, holes->ptr[k].off - at, 0);
    nbd_extents_add (extents, holes->ptr[k].off, holes->ptr[k].len,
                     NBD_STATE_HOLE | NBD_STATE_ZERO);
    at = holes->ptr[k].off + holes->ptr[k].len;
  }
  if (at < off + count)
    nbd_extents_add (extents, at, off + count - at, 0);
}

static int
px_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
          struct nbd_extents *extents)
{
  struct pexp_x *x = handle;
  point_extent_vector holes = empty_vector;
  int r = pexp_read (x->e, x->i, buf, count, offset, extents ? &holes : NULL);

  if (r == 0 && extents)
    add_extents (extents, &holes, offset, count);
  point_extent_vector_reset (&holes);
  return r;
}

/* From the index and the base's allocation: no data is read. */
static int
px_block_status (void *handle, uint32_t count, uint64_t offset,
                 struct nbd_extents *extents)
{
  struct pexp_x *x = handle;
  point_extent_vector holes = empty_vector;
  int r;

  r = pexp_read (x->e, x->i, NULL, count, offset, &holes);
  if (r == 0)
    add_extents (extents, &holes, offset, count);
  point_extent_vector_reset (&holes);
  return r;
}

const struct nbd_backend_ops pexp_ops = {
  .open = px_open, .list = px_list, .pread = px_pread,
  .block_status = px_block_status,
};
