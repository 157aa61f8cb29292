/* STORE/serve.json edited by hand, with a null where a task's name is:
 * what cdp status and task create read of it (serve_store_refusal)
 * takes the entry as naming no task, and never crashes. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/daemon/daemon.h"

static char store[] = "/tmp/cdp-serve-store-XXXXXX";
static int lockfd = -1;

/* A live serve of store: its lock held, its pid written. */
static void
hold_lock (void)
{
  char path[4096], pid[32];
  int n;

  cr_assert_not_null (mkdtemp (store));
  snprintf (path, sizeof path, "%s/serve.lock", store);
  lockfd = open (path, O_RDWR | O_CREAT, 0644);
  cr_assert_geq (lockfd, 0);
  cr_assert_eq (flock (lockfd, LOCK_EX), 0);
  n = snprintf (pid, sizeof pid, "%d\n", (int) getpid ());
  cr_assert_eq (write (lockfd, pid, (size_t) n), n);
}

static void
save (json_object *tasks, json_object *named)
{
  json_object *o = json_object_new_object ();

  json_object_object_add (o, "pid", json_object_new_int (getpid ()));
  if (named)
    json_object_object_add (o, "tasks_named", named);
  json_object_object_add (o, "tasks", tasks);
  cr_assert_eq (serve_store_save (store, o), 0);
  json_object_put (o);
}

static void
cleanup (void)
{
  char cmd[4200];

  if (lockfd >= 0)
    close (lockfd);
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", store);
  (void) !system (cmd);
}

TestSuite (serve_store, .init = hold_lock, .fini = cleanup);

Test (serve_store, null_task_name)
{
  json_object *tasks = json_object_new_array (), *bad = json_object_new_object (),
    *good = json_object_new_object ();
  char why[256];
  long long pid;
  int64_t next;

  json_object_object_add (bad, "name", NULL);
  json_object_object_add (bad, "reason", json_object_new_string ("bad"));
  json_object_array_add (tasks, bad);
  json_object_object_add (good, "name", json_object_new_string ("t"));
  json_object_object_add (good, "reason", json_object_new_string ("no disk"));
  json_object_array_add (tasks, good);
  save (tasks, NULL);
  cr_assert_eq (serve_store_refusal (store, "t", &pid, why, sizeof why, &next), 1);
  cr_assert_eq (pid, getpid ());
  cr_assert_str_eq (why, "no disk");
}

Test (serve_store, null_named)
{
  json_object *named = json_object_new_array ();

  json_object_array_add (named, NULL);
  json_object_array_add (named, json_object_new_string ("t"));
  save (json_object_new_array (), named);
  char why[256];
  long long pid;
  int64_t next;
  cr_assert_eq (serve_store_refusal (store, "u", &pid, why, sizeof why, &next), 0);
  cr_assert_eq (serve_store_refusal (store, "t", &pid, why, sizeof why, &next), 0);
}
