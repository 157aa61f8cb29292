/* cdp serve: one serve per store, and what it tells `task create`.
 *
 * STORE/serve.lock is flocked by the cdp serve of the store for as long
 * as it runs, its pid written in it: a second serve does not start, and
 * `task create` knows whether a serve will take its task up.
 * STORE/serve.json says what that serve does with each task it knows:
 * served, or refused and why (written when that changes, without syncs:
 * it describes a running process).  A task's own heartbeat
 * (TASK/run/state.json) says it is served.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/daemon/daemon.h"
#include "common/fileio.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"

/* How long a starting serve tries for the lock: `task create` holds it
 * shared for an instant when it looks for a serve. */
#define LOCK_TRIES 20
#define LOCK_PAUSE_US 100000

/* The pid written in the lock file, or 0. */
static long long
lock_pid (int fd)
{
  char buf[32];
  ssize_t n = fio_pread_all (fd, buf, sizeof buf - 1, 0);
  long long pid;

  if (n <= 0)
    return 0;
  buf[n] = '\0';
  return sscanf (buf, "%lld", &pid) == 1 && pid > 0 ? pid : 0;
}

int
serve_store_lock (const char *store, int *fdp, long long *holder)
{
  char *path = path_join (store, "serve.lock"), pid[32];
  int fd, e, n;

  *holder = 0;
  if (path == NULL)
    return -ENOMEM;
  e = mkdir_p (store, 0755);
  fd = e == 0 ? open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644) : -1;
  if (e == 0 && fd < 0)
    e = -errno;
  free (path);
  if (e < 0)
    return e;
  for (int i = 0; flock (fd, LOCK_EX | LOCK_NB) < 0; i++) {
    if (errno != EWOULDBLOCK || i + 1 == LOCK_TRIES) {
      e = errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;
      *holder = lock_pid (fd);
      close (fd);
      return e;
    }
    usleep (LOCK_PAUSE_US);
  }
  n = snprintf (pid, sizeof pid, "%d\n", (int) getpid ());
  if (ftruncate (fd, 0) < 0 || (e = fio_pwrite_all (fd, pid, (size_t) n, 0)) < 0) {
    e = e < 0 ? e : -errno;
    close (fd);
    return e;
  }
  *fdp = fd;
  return 0;
}

int
serve_store_save (const char *store, json_object *o)
{
  char *path = path_join (store, "serve.json");
  int e = jf_save_volatile (path, o, SERVE_VERSION, 0644);

  free (path);
  return e;
}

/* 1 with *pid when a serve holds the store's lock, 0 when none does. */
static int
store_served (const char *store, long long *pid)
{
  char *path = path_join (store, "serve.lock");
  int fd, e = 0;

  *pid = 0;
  if (path == NULL)
    return -ENOMEM;
  fd = open (path, O_RDONLY | O_CLOEXEC);
  free (path);
  if (fd < 0)
    return errno == ENOENT ? 0 : -errno;
  if (flock (fd, LOCK_SH | LOCK_NB) == 0)
    flock (fd, LOCK_UN);
  else if (errno == EWOULDBLOCK) {
    *pid = lock_pid (fd);
    e = 1;
  }
  else
    e = -errno;
  close (fd);
  return e;
}

static int64_t
member_int (json_object *o, const char *key)
{
  json_object *v;

  if (!json_object_object_get_ex (o, key, &v) ||
      !json_object_is_type (v, json_type_int))
    return 0;
  return json_object_get_int64 (v);
}

/* Does t's heartbeat say serve pid holds it? */
static bool
heartbeat_of (const struct task *t, long long pid)
{
  json_object *o = NULL, *v;
  bool yes;

  if (served_load (t, &o) < 0)
    return false;
  yes = member_int (o, "pid") == pid &&
        !json_object_object_get_ex (o, "stopped_ns", &v);
  json_object_put (o);
  return yes;
}

/* Is v the string name?  (A file edited by hand may hold anything.) */
static bool
is_name (json_object *v, const char *name)
{
  return json_object_is_type (v, json_type_string) &&
         strcmp (json_object_get_string (v), name) == 0;
}

/* What serve.json of serve pid says of the task name: SERVE_TAKE_REFUSED
 * (why filled, *next_try_ns the time of its next try, 0 when not said),
 * SERVE_TAKE_NOT_NAMED, or -1 (nothing yet). */
static int
store_says (const char *store, const char *name, long long pid, char *why,
            size_t len, int64_t *next_try_ns)
{
  char *path = path_join (store, "serve.json");
  json_object *o = NULL, *tasks, *named;
  int r = -1;

  if (jf_load (path, SERVE_VERSION, &o, NULL) < 0 || member_int (o, "pid") != pid) {
    free (path);
    json_object_put (o);
    return -1;
  }
  free (path);
  if (json_object_object_get_ex (o, "tasks_named", &named) &&
      json_object_is_type (named, json_type_array)) {
    r = SERVE_TAKE_NOT_NAMED;
    for (size_t i = 0; i < json_object_array_length (named); i++)
      if (is_name (json_object_array_get_idx (named, i), name))
        r = -1;
  }
  if (r == -1 && json_object_object_get_ex (o, "tasks", &tasks) &&
      json_object_is_type (tasks, json_type_array))
    for (size_t i = 0; i < json_object_array_length (tasks); i++) {
      json_object *e = json_object_array_get_idx (tasks, i), *v;
      if (json_object_object_get_ex (e, "name", &v) && is_name (v, name) &&
          json_object_object_get_ex (e, "reason", &v) &&
          json_object_is_type (v, json_type_string)) {
        snprintf (why, len, "%s", json_object_get_string (v));
        *next_try_ns = member_int (e, "next_try_ns");
        r = SERVE_TAKE_REFUSED;
      }
    }
  json_object_put (o);
  return r;
}

int
serve_await_task (const char *store, const struct task *t, unsigned ms,
                  long long *pid, char *why, size_t len)
{
  int64_t deadline = time_mono_ns () + (int64_t) ms * 1000000, next_try;
  bool seen = false;

  *pid = 0;
  *why = '\0';
  for (;;) {
    long long now_pid;
    int e = store_served (store, &now_pid);
    if (e < 0)
      return e;
    if (e == 0)
      return seen ? SERVE_TAKE_STOPPED : SERVE_TAKE_NONE;
    if (now_pid > 0) {              /* 0: it is writing its pid */
      if (seen && now_pid != *pid)
        return SERVE_TAKE_STOPPED;  /* and another one started */
      *pid = now_pid;
      seen = true;
      if (heartbeat_of (t, now_pid))
        return SERVE_TAKE_TAKEN;
      if ((e = store_says (store, t->name, now_pid, why, len, &next_try)) >= 0)
        return e;
    }
    if (time_mono_ns () >= deadline)
      return -ETIMEDOUT;
    usleep (100000);
  }
}

int
serve_store_refusal (const char *store, const char *name, long long *pid,
                     char *why, size_t len, int64_t *next_try_ns)
{
  int e = store_served (store, pid);

  *why = '\0';
  *next_try_ns = 0;
  if (e <= 0 || *pid == 0)
    return e < 0 ? e : 0;
  return store_says (store, name, *pid, why, len, next_try_ns)
         == SERVE_TAKE_REFUSED;
}
