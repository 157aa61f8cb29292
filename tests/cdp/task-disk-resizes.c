/* A disk's size over time in task.json: task_disk_resized records a
 * resize (the file becomes version 2, which an older cdp refuses),
 * task_disk_size_at gives each seq the size it had, task_disk_add
 * appends a disk, and a "resizes" list that does not add up is refused
 * rather than read. */
#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "common/jsonfile.h"

static char store[] = "/tmp/cdp-resizes-XXXXXX";

static void
write_task (const char *disks, int version)
{
  char path[256];
  FILE *f;

  snprintf (path, sizeof path, "%s/tasks", store);
  mkdir (path, 0755);
  snprintf (path, sizeof path, "%s/tasks/t", store);
  mkdir (path, 0755);
  snprintf (path, sizeof path, "%s/tasks/t/task.json", store);
  f = fopen (path, "w");
  cr_assert_not_null (f);
  fprintf (f, "{\"version\": %d, \"name\": \"t\", \"mode\": \"libvirt\", "
           "\"domain\": \"d\", \"all_disks\": true, \"disks\": [%s], "
           "\"policy\": {\"bp_interval_ns\": 1, \"journal_retention_ns\": 1, "
           "\"bp_retention_ns\": 1, \"max_chain\": 16}}", version, disks);
  fclose (f);
}

static int
file_version (void)
{
  char path[256];
  json_object *o;
  int v = 0;

  snprintf (path, sizeof path, "%s/tasks/t/task.json", store);
  cr_assert_eq (jf_load (path, 99, &o, &v), 0);
  json_object_put (o);
  return v;
}

static void
setup (void)
{
  cr_assert_not_null (mkdtemp (store));
}

static void
teardown (void)
{
  char cmd[300];

  snprintf (cmd, sizeof cmd, "rm -rf %s", store);
  cr_assert_eq (system (cmd), 0);
}

TestSuite (task_disk_resizes, .init = setup, .fini = teardown);

Test (task_disk_resizes, sizes_over_time)
{
  struct task *t;

  write_task ("{\"name\": \"vda\", \"id\": 0, \"size\": 1048576}", 1);
  cr_assert_eq (task_load (store, "t", &t), 0);
  cr_assert (t->all_disks);
  cr_assert_eq (task_disk_size_at (&t->disks.ptr[0], 1000), 1048576);
  cr_assert_eq (task_disk_resized (t, 0, 10, 5, 4194304), 0);
  cr_assert_eq (task_disk_resized (t, 0, 20, 6, 524288), 0);
  cr_assert_eq (file_version (), 2);
  task_free (t);

  cr_assert_eq (task_load (store, "t", &t), 0);
  const struct task_disk *d = &t->disks.ptr[0];
  cr_assert_eq (d->size, 524288);
  cr_assert_eq (d->resizes.len, 2);
  cr_assert_eq (d->resizes.ptr[0].old_size, 1048576);
  cr_assert_eq (d->resizes.ptr[1].old_size, 4194304);
  cr_assert_eq (task_disk_size_at (d, 1), 1048576);
  cr_assert_eq (task_disk_size_at (d, 9), 1048576);
  cr_assert_eq (task_disk_size_at (d, 10), 4194304);
  cr_assert_eq (task_disk_size_at (d, 19), 4194304);
  cr_assert_eq (task_disk_size_at (d, 20), 524288);
  cr_assert_eq (task_disk_size_at (d, UINT64_MAX), 524288);
  /* task set rewrites the policy: the version stays. */
  cr_assert_eq (task_policy_save (t, &t->policy), 0);
  cr_assert_eq (file_version (), 2);
  cr_assert_eq (task_disk_resized (t, 7, 30, 7, 512), -ENOENT);
  task_free (t);
}

Test (task_disk_resizes, add_disk)
{
  struct task *t;
  struct task_disk d = { .name = (char *) "vdb", .id = 1, .size = 8192,
                         .added_seq = 42, .added_ns = 1000 };

  write_task ("{\"name\": \"vda\", \"id\": 0, \"size\": 1048576}", 1);
  cr_assert_eq (task_load (store, "t", &t), 0);
  cr_assert_eq (task_disk_add (t, &d), 0);
  cr_assert_eq (task_disk_add (t, &d), -EEXIST);
  cr_assert_eq (file_version (), 1);
  task_free (t);
  cr_assert_eq (task_load (store, "t", &t), 0);
  cr_assert_eq (t->disks.len, 2);
  cr_assert_str_eq (t->disks.ptr[1].name, "vdb");
  cr_assert_eq (t->disks.ptr[1].id, 1);
  cr_assert_eq (t->disks.ptr[1].added_seq, 42);
  cr_assert_eq (task_disk_size_at (&t->disks.ptr[1], 50), 8192);
  task_free (t);
}

Test (task_disk_resizes, refused)
{
  struct task *t;

  /* The last resize is not the disk's size. */
  write_task ("{\"name\": \"vda\", \"id\": 0, \"size\": 1048576, \"resizes\": "
              "[{\"seq\": 5, \"time_ns\": 1, \"old_size\": 512, "
              "\"size\": 2048}]}", 2);
  cr_assert_eq (task_load (store, "t", &t), -EUCLEAN);
  /* One resize's old size is not the size the one before left. */
  write_task ("{\"name\": \"vda\", \"id\": 0, \"size\": 4096, \"resizes\": "
              "[{\"seq\": 5, \"time_ns\": 1, \"old_size\": 512, \"size\": 2048},"
              " {\"seq\": 9, \"time_ns\": 2, \"old_size\": 1024, "
              "\"size\": 4096}]}", 2);
  cr_assert_eq (task_load (store, "t", &t), -EUCLEAN);
  /* Out of seq order. */
  write_task ("{\"name\": \"vda\", \"id\": 0, \"size\": 4096, \"resizes\": "
              "[{\"seq\": 9, \"time_ns\": 1, \"old_size\": 512, \"size\": 2048},"
              " {\"seq\": 5, \"time_ns\": 2, \"old_size\": 2048, "
              "\"size\": 4096}]}", 2);
  cr_assert_eq (task_load (store, "t", &t), -EUCLEAN);
  /* A newer format than this cdp knows. */
  write_task ("{\"name\": \"vda\", \"id\": 0, \"size\": 4096}", 3);
  cr_assert_eq (task_load (store, "t", &t), -EPROTONOSUPPORT);
}
