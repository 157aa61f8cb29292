/* cdp: is a task served?  TASK/run/state.json, the heartbeat of the
 * `cdp serve` that holds the task.
 *
 * The serve holding the task rewrites the file about once a second with
 * its pid and the time ("updated_ns"); a clean stop writes it a last time
 * with "stopped_ns".  A task is served only while that pid is a live
 * process and the heartbeat is fresh: a killed serve leaves a file whose
 * pid is gone (or a zombie), a hung one a file that ages.
 */
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/task/task.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"

#define STATE_VERSION 1

int
served_load (const struct task *t, struct json_object **state)
{
  char *path = task_path (t, "run/state.json");
  int e = jf_load (path, STATE_VERSION, state, NULL);

  free (path);
  return e;
}

int
served_save (const struct task *t, struct json_object *state, bool durable)
{
  char *path = task_path (t, "run/state.json");
  int e = durable ? jf_save (path, state, STATE_VERSION, 0644)
                  : jf_save_volatile (path, state, STATE_VERSION, 0644);

  free (path);
  return e;
}

/* Is pid a process that runs (not gone, not a zombie)? */
static bool
pid_alive (int64_t pid)
{
  char path[64], buf[512], *p;
  FILE *f;
  bool alive;

  if (pid <= 0 || pid > INT32_MAX ||
      (kill ((pid_t) pid, 0) < 0 && errno != EPERM))
    return false;
  snprintf (path, sizeof path, "/proc/%lld/stat", (long long) pid);
  f = fopen (path, "re");
  if (f == NULL)
    return false;
  alive = fgets (buf, sizeof buf, f) != NULL;
  fclose (f);
  /* "pid (comm) S ...": the state follows the last ')'. */
  p = alive ? strrchr (buf, ')') : NULL;
  return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static int64_t
member_int (struct json_object *o, const char *key)
{
  struct json_object *v;

  if (o == NULL || !json_object_object_get_ex (o, key, &v) ||
      !json_object_is_type (v, json_type_int))
    return 0;
  return json_object_get_int64 (v);
}

bool
served_alive (struct json_object *state, int64_t *last_ns)
{
  int64_t updated = member_int (state, "updated_ns");
  int64_t now = time_now_ns ();

  *last_ns = updated;
  return updated > 0 && member_int (state, "stopped_ns") == 0 &&
         now - updated < SERVED_STALE_NS &&
         pid_alive (member_int (state, "pid"));
}
