/* cdp status: a task's RPO setting and each disk's durability lag.
 *
 * The setting is what the serve that holds the task runs by (its
 * heartbeat's "rpo_ns"), else what task.json says.  The durability lag
 * is the age of the oldest write acknowledged to the guest whose record
 * is not durable yet: only a live serve knows it, and only its
 * heartbeat says it; a task not served has none to report (null, with
 * the reason), never 0.  A lag over the setting (with --rpo 0, over
 * 1 s) means the store does not keep up, and is a warning.
 */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "common/jsonfile.h"

#define NS 1000000000LL
/* With --rpo 0 nothing acknowledged should wait for the disk at all:
 * past this, the store is failing to keep up. */
#define RPO_ZERO_LAG_WARN_NS NS

/* An integer member, or false. */
static bool
int_member (json_object *o, const char *key, int64_t *v)
{
  json_object *x;

  if (o == NULL || !json_object_object_get_ex (o, key, &x) ||
      !json_object_is_type (x, json_type_int))
    return false;
  *v = json_object_get_int64 (x);
  return true;
}

/* The heartbeat's entry of the disk named name, or NULL. */
static json_object *
heartbeat_disk (json_object *state, const char *name)
{
  json_object *arr, *n;

  if (state == NULL || !json_object_object_get_ex (state, "disks", &arr) ||
      !json_object_is_type (arr, json_type_array))
    return NULL;
  for (size_t k = 0; k < json_object_array_length (arr); k++) {
    json_object *x = json_object_array_get_idx (arr, k);
    if (json_object_object_get_ex (x, "name", &n) &&
        json_object_is_type (n, json_type_string) &&
        strcmp (json_object_get_string (n), name) == 0)
      return x;
  }
  return NULL;
}

void
status_warning (json_object *status, const char *fmt, ...)
{
  json_object *w;
  char msg[1024];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  if (!json_object_object_get_ex (status, "warnings", &w)) {
    w = json_object_new_array ();
    if (jf_add (status, "warnings", w) < 0)
      return;                   /* status is marked failed */
  }
  jf_append (w, json_object_new_string (msg));
}

/* d: the disk's status object; its lag from its heartbeat entry hd. */
static void
disk_lag (json_object *status, json_object *d, const char *name,
          json_object *hd, int64_t rpo, const char *no_lag)
{
  int64_t lag, limit = rpo ? rpo : RPO_ZERO_LAG_WARN_NS;
  char a[32];

  if (!int_member (hd, "durability_lag_ns", &lag) || lag < 0) {
    jf_add_null (d, "durability_lag_s");
    jf_add (d, "durability_lag_reason",
            json_object_new_string (no_lag));
    return;
  }
  jf_add (d, "durability_lag_s",
          json_object_new_double ((double) lag / NS));
  if (lag <= limit)
    return;
  policy_format_rpo (rpo, a, sizeof a);
  status_warning (status, "disk %s: writes acknowledged %.1f s ago are not "
                  "durable yet, more than %s%s: the store does not keep up "
                  "with the guest's writes", name, (double) lag / NS,
                  rpo ? "the RPO of " : "1 s with RPO ", a);
}

void
rpo_status (const struct task *t, json_object *status, json_object *state,
            bool served)
{
  json_object *disks = json_object_object_get (status, "disks");
  int64_t rpo = t->policy.rpo, running;
  const char *no_lag = "the task is not served: only the cdp serve that "
                       "holds it knows";
  char a[32], b[32];

  if (served && int_member (state, "rpo_ns", &running)) {
    if (running != rpo) {
      policy_format_rpo (rpo, a, sizeof a);
      policy_format_rpo (running, b, sizeof b);
      status_warning (status, "task.json sets RPO %s, but cdp serve runs the "
                      "task with RPO %s: it could not apply task set live; "
                      "the setting takes effect when cdp serve next starts "
                      "the task", a, b);
    }
    rpo = running;
  }
  else if (served)
    no_lag = "the cdp serve that runs the task does not report it";
  jf_add (status, "rpo_s",
          json_object_new_double ((double) rpo / NS));
  for (size_t i = 0; disks && i < json_object_array_length (disks); i++) {
    json_object *d = json_object_array_get_idx (disks, i);
    const char *name = json_object_get_string (json_object_object_get (d, "name"));
    disk_lag (status, d, name, served ? heartbeat_disk (state, name) : NULL,
              rpo, no_lag);
  }
}
