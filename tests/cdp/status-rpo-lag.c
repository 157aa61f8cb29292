/* cdp status's RPO fields from a serve's heartbeat: the durability lag of
 * each disk as a number while served, null with the reason when not (or
 * when the heartbeat does not carry it), never 0; a lag over the RPO
 * (over 1 s with RPO 0) is a warning, one at or under it is not; the RPO
 * shown is the one serve runs by, and one that is not task.json's is a
 * warning. */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <string.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"

#define NS 1000000000LL

static struct task_disk disk0 = { .name = "disk0", .id = 0, .size = 1 << 20 };

/* A status object of a task with rpo (task.json) after rpo_status with a
 * heartbeat running rpo_served with that lag (lag < 0: no lag in it). */
static json_object *
status_of (int64_t rpo, bool served, int64_t rpo_served, int64_t lag)
{
  struct task t = { .name = "m", .policy = { .rpo = rpo } };
  json_object *status = json_object_new_object (), *disks = json_object_new_array ();
  json_object *d = json_object_new_object (), *state = json_object_new_object ();
  json_object *sdisks = json_object_new_array (), *sd = json_object_new_object ();

  t.disks.ptr = &disk0;
  t.disks.len = 1;
  json_object_object_add (d, "name", json_object_new_string ("disk0"));
  json_object_array_add (disks, d);
  json_object_object_add (status, "disks", disks);
  json_object_object_add (state, "rpo_ns", json_object_new_int64 (rpo_served));
  json_object_object_add (sd, "name", json_object_new_string ("disk0"));
  if (lag >= 0)
    json_object_object_add (sd, "durability_lag_ns", json_object_new_int64 (lag));
  json_object_array_add (sdisks, sd);
  json_object_object_add (state, "disks", sdisks);
  rpo_status (&t, status, state, served);
  json_object_put (state);
  return status;
}

static json_object *
disk (json_object *status)
{
  return json_object_array_get_idx (json_object_object_get (status, "disks"), 0);
}

static size_t
warnings (json_object *status)
{
  json_object *w = json_object_object_get (status, "warnings");

  return w ? json_object_array_length (w) : 0;
}

static const char *
warning (json_object *status)
{
  return json_object_get_string (json_object_array_get_idx (
      json_object_object_get (status, "warnings"), 0));
}

Test (status_rpo_lag, under_the_rpo_is_no_warning)
{
  json_object *s = status_of (NS, true, NS, NS / 2);
  json_object *lag = json_object_object_get (disk (s), "durability_lag_s");

  cr_assert (lag && json_object_get_double (lag) == 0.5);
  cr_assert_eq (json_object_get_double (json_object_object_get (s, "rpo_s")), 1.0);
  cr_assert_eq (warnings (s), 0);
  json_object_put (s);
  s = status_of (NS, true, NS, NS);           /* at it: still none */
  cr_assert_eq (warnings (s), 0);
  json_object_put (s);
}

Test (status_rpo_lag, over_the_rpo_is_a_warning)
{
  json_object *s = status_of (NS, true, NS, 3 * NS);

  cr_assert_eq (warnings (s), 1);
  cr_assert (strstr (warning (s), "disk disk0") &&
             strstr (warning (s), "the RPO of 1s") &&
             strstr (warning (s), "does not keep up"), "%s", warning (s));
  json_object_put (s);
}

Test (status_rpo_lag, rpo_zero_warns_past_a_second)
{
  json_object *s = status_of (0, true, 0, NS / 2);

  cr_assert_eq (warnings (s), 0);
  json_object_put (s);
  s = status_of (0, true, 0, 2 * NS);
  cr_assert_eq (warnings (s), 1);
  cr_assert (strstr (warning (s), "1 s with RPO 0"), "%s", warning (s));
  json_object_put (s);
}

Test (status_rpo_lag, not_served_has_no_lag)
{
  json_object *s = status_of (NS, false, NS, 5 * NS);
  json_object *d = disk (s), *lag;

  cr_assert (json_object_object_get_ex (d, "durability_lag_s", &lag));
  cr_assert_null (lag);
  cr_assert (strstr (json_object_get_string (json_object_object_get (
      d, "durability_lag_reason")), "not served"));
  cr_assert_eq (warnings (s), 0);             /* a stale lag warns of nothing */
  json_object_put (s);
}

Test (status_rpo_lag, heartbeat_without_lag)
{
  json_object *s = status_of (NS, true, NS, -1);
  json_object *lag;

  cr_assert (json_object_object_get_ex (disk (s), "durability_lag_s", &lag));
  cr_assert_null (lag);
  cr_assert_not_null (json_object_object_get (disk (s), "durability_lag_reason"));
  json_object_put (s);
}

Test (status_rpo_lag, serve_runs_another_rpo)
{
  json_object *s = status_of (2 * NS, true, NS / 4, 0);

  cr_assert_eq (json_object_get_double (json_object_object_get (s, "rpo_s")), 0.25);
  cr_assert_eq (warnings (s), 1);
  cr_assert (strstr (warning (s), "task.json sets RPO 2s, but cdp serve runs "
                     "the task with RPO 250ms"), "%s", warning (s));
  json_object_put (s);
}
