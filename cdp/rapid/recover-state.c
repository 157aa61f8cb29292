/* cdp: the state of a task's rapid recovery (TASK/recover.json).
 *
 * cdp recover writes it (whole, jf_save: with a format "version") as it
 * goes, and holds an flock on TASK/recover.lock for as long as it runs:
 * a state file that says "starting" or "streaming" while nobody holds the
 * lock is an interrupted recovery, which `cdp recover NAME --resume` picks up.  A
 * finished or failed recovery stays on record until the next one.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/rapid/rapid.h"
#include "common/timeutil.h"
#include "common/cleanup.h"
#include "common/jsonfile.h"

#define RECOVER_VERSION 1

void
rapid_state_clear (struct rapid_state *r)
{
  free (r->state);
  free (r->mode);
  free (r->domain);
  free (r->socket);
  free (r->connect);
  free (r->error);
  for (size_t i = 0; i < r->disks.len; i++) {
    free (r->disks.ptr[i].disk);
    free (r->disks.ptr[i].overlay);
  }
  rapid_disk_vector_reset (&r->disks);
  memset (r, 0, sizeof *r);
}

int
rapid_state_load (const struct task *t, struct rapid_state *r)
{
  char *path = task_path (t, "recover.json");
  json_object *o, *arr;
  int e = jf_load (path, RECOVER_VERSION, &o, NULL);

  free (path);
  memset (r, 0, sizeof *r);
  if (e < 0)
    return e;
  r->state = json_str (o, "state");
  r->mode = json_str (o, "mode");
  r->domain = json_str (o, "domain");
  r->socket = json_str (o, "socket");
  r->connect = json_str (o, "connect");
  r->error = json_str (o, "error");
  r->at_ns = json_int (o, "at_ns", 0);
  r->seq = (uint64_t) json_int (o, "seq", 0);
  r->locked = json_int (o, "locked", 0) != 0;
  r->started_ns = json_int (o, "started_ns", 0);
  r->updated_ns = json_int (o, "updated_ns", 0);
  r->ready_ns = json_int (o, "ready_ns", 0);
  r->done_ns = json_int (o, "done_ns", 0);
  if (json_object_object_get_ex (o, "disks", &arr))
    for (size_t i = 0; i < json_object_array_length (arr); i++) {
      json_object *d = json_object_array_get_idx (arr, i);
      struct rapid_disk rd = {
        .disk = json_str (d, "disk"), .overlay = json_str (d, "overlay"),
        .done = (uint64_t) json_int (d, "done", 0),
        .total = (uint64_t) json_int (d, "total", 0),
      };
      rapid_disk_vector_append (&r->disks, rd);
    }
  json_object_put (o);
  if (r->state == NULL || r->mode == NULL || r->socket == NULL) {
    rapid_state_clear (r);
    return -EUCLEAN;
  }
  return 0;
}

static void
add_str (json_object *o, const char *key, const char *v)
{
  if (v)
    jf_add (o, key, json_object_new_string (v));
}

static void
add_time (json_object *o, const char *key, int64_t ns)
{
  char buf[64];

  if (ns) {
    format_time (ns, buf, sizeof buf);
    jf_add (o, key, json_object_new_string (buf));
  }
}

/* The record as written, plus readable times (public: cdp status). */
static json_object *
to_json (const struct rapid_state *r)
{
  json_object *o = json_object_new_object (), *arr = json_object_new_array ();

  add_str (o, "state", r->state);
  add_str (o, "mode", r->mode);
  add_str (o, "domain", r->domain);
  add_str (o, "socket", r->socket);
  add_str (o, "connect", r->connect);
  add_str (o, "error", r->error);
  add_time (o, "at", r->at_ns);
  jf_add (o, "at_ns", json_object_new_int64 (r->at_ns));
  jf_add (o, "seq", json_object_new_int64 ((int64_t) r->seq));
  jf_add (o, "locked", json_object_new_int (r->locked));
  jf_add (o, "started_ns", json_object_new_int64 (r->started_ns));
  jf_add (o, "updated_ns", json_object_new_int64 (r->updated_ns));
  jf_add (o, "ready_ns", json_object_new_int64 (r->ready_ns));
  jf_add (o, "done_ns", json_object_new_int64 (r->done_ns));
  for (size_t i = 0; i < r->disks.len; i++) {
    json_object *d = json_object_new_object ();
    add_str (d, "disk", r->disks.ptr[i].disk);
    add_str (d, "overlay", r->disks.ptr[i].overlay);
    jf_add (d, "done", json_object_new_int64 ((int64_t) r->disks.ptr[i].done));
    jf_add (d, "total", json_object_new_int64 ((int64_t) r->disks.ptr[i].total));
    jf_append (arr, d);
  }
  jf_add (o, "disks", arr);
  return o;
}

int
rapid_state_save (const struct task *t, struct rapid_state *r)
{
  char *path = task_path (t, "recover.json");
  json_object *o;
  int e;

  r->updated_ns = time_now_ns ();
  o = to_json (r);
  e = jf_save (path, o, RECOVER_VERSION, 0644);
  json_object_put (o);
  free (path);
  return e;
}

int
rapid_lock (const struct task *t)
{
  CLEANUP_FREE char *path = task_path (t, "recover.lock");
  int fd;

  if (path == NULL)
    return -ENOMEM;
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  if (flock (fd, LOCK_EX | LOCK_NB) < 0) {
    close (fd);
    return -EBUSY;
  }
  return fd;
}

/* Does a cdp recover run for the task now? */
static bool
rapid_running (const struct task *t)
{
  CLEANUP_FREE char *path = task_path (t, "recover.lock");
  int fd;
  bool running = false;

  if (path == NULL)
    return true;                /* cannot tell: not called interrupted */
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    running = flock (fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
    close (fd);
  }
  return running;
}

bool
rapid_state_unfinished (const struct rapid_state *r)
{
  return strcmp (r->state, "starting") == 0 || strcmp (r->state, "streaming") == 0;
}

const char *
rapid_state_shown (const struct task *t, const struct rapid_state *r)
{
  if (rapid_state_unfinished (r) && !rapid_running (t))
    return "interrupted";
  return r->state;
}

bool
rapid_holds (const struct task *t, const char *disk)
{
  struct rapid_state r;
  bool holds = false;
  int e = rapid_state_load (t, &r);

  if (e == -ENOENT)
    return false;
  if (e < 0)
    return true;          /* unreadable: it may stream disk in; leave it */
  if (rapid_state_unfinished (&r) && strcmp (r.mode, "in-place") == 0)
    for (size_t i = 0; i < r.disks.len && !holds; i++)
      holds = strcmp (r.disks.ptr[i].disk, disk) == 0;
  rapid_state_clear (&r);
  return holds;
}

void
rapid_status (const struct task *t, struct json_object *status)
{
  struct rapid_state r;
  json_object *o;

  if (rapid_state_load (t, &r) < 0)
    return;
  o = to_json (&r);
  jf_add (o, "state", json_object_new_string (rapid_state_shown (t, &r)));
  jf_add (status, "recovery", o);
  rapid_state_clear (&r);
}
