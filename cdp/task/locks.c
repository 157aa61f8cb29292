/* cdp: locked points (TASK/locks.json), kept past every retention.
 *
 * A lock names a point by its journal seq (and the time asked for).  The
 * file is rewritten whole (write, fsync, rename) under an flock on
 * TASK/locks.lock, so `cdp lock` and the daemon never see half a file.
 * A locks.json that cannot be read or parsed is an error, never "no
 * locks": retention would reclaim what the locks keep.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "common/cleanup.h"
#include "common/jsonfile.h"

#define LOCKS_VERSION 1

static int
lock_file (const struct task *t)
{
  CLEANUP_FREE char *path = task_path (t, "locks.lock");
  int fd;

  if (path == NULL) {
    errno = ENOMEM;
    return -1;
  }
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0 && flock (fd, LOCK_EX) < 0) {
    close (fd);
    return -1;
  }
  return fd;
}

/* An entry of locks.json: {"seq": N, "time_ns": N}. */
static int
parse_lock (json_object *e, struct point_lock *l)
{
  json_object *seq, *t;

  if (!json_object_object_get_ex (e, "seq", &seq) ||
      !json_object_object_get_ex (e, "time_ns", &t) ||
      !json_object_is_type (seq, json_type_int) ||
      !json_object_is_type (t, json_type_int) ||
      json_object_get_int64 (seq) < 0)
    return -EUCLEAN;
  l->seq = (uint64_t) json_object_get_int64 (seq);
  l->time_ns = json_object_get_int64 (t);
  return 0;
}

int
locks_load (const struct task *t, lock_vector *out)
{
  char *path = task_path (t, "locks.json");
  json_object *o, *arr;
  int r = jf_load (path, LOCKS_VERSION, &o, NULL);

  free (path);
  out->len = 0;
  if (r == -ENOENT)
    return 0;                         /* nothing was ever locked */
  if (r < 0)
    return r;
  if (!json_object_object_get_ex (o, "locks", &arr) ||
      !json_object_is_type (arr, json_type_array))
    r = -EUCLEAN;
  for (size_t i = 0; r == 0 && i < json_object_array_length (arr); i++) {
    struct point_lock l;
    r = parse_lock (json_object_array_get_idx (arr, i), &l);
    if (r == 0)
      r = lock_vector_append (out, l);
  }
  json_object_put (o);
  if (r < 0)
    out->len = 0;
  return r;
}

static int
locks_save (const struct task *t, const lock_vector *v)
{
  json_object *o = json_object_new_object (), *arr = json_object_new_array ();
  char *path = task_path (t, "locks.json");
  int r;

  for (size_t i = 0; i < v->len; i++) {
    json_object *e = json_object_new_object ();
    jf_add (e, "seq", json_object_new_int64 ((int64_t) v->ptr[i].seq));
    jf_add (e, "time_ns", json_object_new_int64 (v->ptr[i].time_ns));
    jf_append (arr, e);
  }
  jf_add (o, "locks", arr);
  r = jf_save (path, o, LOCKS_VERSION, 0644);
  json_object_put (o);
  free (path);
  return r;
}

/* Add (add == true) the lock of seq, or remove the lock made at time_ns
 * (or of seq, if not 0).  Returns 0, -EEXIST, -ENOENT or -errno. */
int
locks_change (const struct task *t, uint64_t seq, int64_t time_ns, bool add)
{
  lock_vector v = empty_vector;
  int fd = lock_file (t), r;
  size_t i;

  if (fd < 0)
    return -errno;
  r = locks_load (t, &v);
  for (i = 0; r == 0 && i < v.len; i++)
    if ((add && v.ptr[i].seq == seq) ||
        (!add && (v.ptr[i].time_ns == time_ns || (seq && v.ptr[i].seq == seq))))
      break;
  if (r == 0 && add && i < v.len)
    r = -EEXIST;
  else if (r == 0 && !add && i == v.len)
    r = -ENOENT;
  else if (r == 0 && add)
    r = lock_vector_append (&v, (struct point_lock) { seq, time_ns });
  else if (r == 0)
    lock_vector_remove (&v, i);
  if (r == 0)
    r = locks_save (t, &v);
  lock_vector_reset (&v);
  close (fd);
  return r;
}

int
locks_hold (const struct task *t)
{
  int fd = lock_file (t);

  return fd < 0 ? -errno : fd;
}

bool
locks_has (const lock_vector *v, uint64_t seq)
{
  for (size_t i = 0; i < v->len; i++)
    if (v->ptr[i].seq == seq)
      return true;
  return false;
}
