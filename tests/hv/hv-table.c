/* The table of hypervisor drivers: each driver is found by its name
 * (the task's mode), the names are task.json's "mode" and come back from
 * it, and a task.json naming no driver is refused as damaged. */
#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "common/jsonfile.h"

static const struct { const char *name; } modes[] = {
  { "manual" }, { "qmp" }, { "libvirt" },
};

Test (hv_table, by_name)
{
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    const struct hv_driver *d = hv_by_name (modes[i].name);
    cr_assert_not_null (d, "%s", modes[i].name);
    cr_assert_str_eq (d->name, modes[i].name);
    struct task t = { .hv = d };
    cr_assert_eq (hv_of (&t), d);
    cr_assert_str_eq (task_mode_name (&t), modes[i].name);
  }
  cr_assert_null (hv_by_name ("xen"));
  cr_assert_null (hv_by_name (""));
  cr_assert_null (hv_by_name ("QMP"));
}

/* hv_nth lists each driver once, and each has what every mode must. */
Test (hv_table, every_driver_whole)
{
  size_t n = 0;

  for (const struct hv_driver *d; (d = hv_nth (n)) != NULL; n++) {
    cr_assert_eq (hv_by_name (d->name), d, "%s", d->name);
    cr_assert_not_null (d->create_usage, "%s", d->name);
    cr_assert_not_null (d->create_options, "%s", d->name);
    cr_assert_not_null (d->create_wanted, "%s", d->name);
    cr_assert_not_null (d->create_needs, "%s", d->name);
    cr_assert_not_null (d->create_disks, "%s", d->name);
    cr_assert_not_null (d->initial_state, "%s", d->name);
    cr_assert_not_null (d->socket_dir, "%s", d->name);
    cr_assert_eq (d->freeze == NULL, d->thaw == NULL, "%s", d->name);
    for (size_t k = 0; k < n; k++)
      cr_assert_str_neq (hv_nth (k)->name, d->name);
  }
  cr_assert_eq (n, sizeof modes / sizeof modes[0]);
}

Test (hv_table, names_round_trip_through_task_json)
{
  char *store = h_store ();

  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    struct task *t;
    json_object *o;
    char *path;
    h_save_task (store, modes[i].name, modes[i].name);
    cr_assert_eq (task_load (store, modes[i].name, &t), 0, "%s", modes[i].name);
    cr_assert_eq (hv_of (t), hv_by_name (modes[i].name));
    path = task_path (t, "task.json");
    cr_assert_eq (jf_load (path, 1, &o, NULL), 0);
    cr_assert_str_eq (json_object_get_string (json_object_object_get (o, "mode")),
                      modes[i].name);
    json_object_put (o);
    free (path);
    task_free (t);
  }
  h_store_remove (store);
}

/* A mode no driver has: task_load says -EUCLEAN (task.json is damaged),
 * whatever else the file holds. */
Test (hv_table, unknown_mode_refused)
{
  static const char *const bad[] = { "xen", "Manual", "", NULL };
  char *store = h_store ();

  for (const char *const *b = bad; *b; b++) {
    struct task *t = NULL;
    json_object *o;
    char *path, *tasks = path_join (store, "tasks"), *dir;
    h_save_task (store, "t", "qmp");
    dir = path_join (tasks, "t");
    path = path_join (dir, "task.json");
    cr_assert_eq (jf_load (path, 1, &o, NULL), 0);
    json_object_object_add (o, "mode", json_object_new_string (*b));
    cr_assert_eq (jf_save (path, o, 1, 0644), 0);
    json_object_put (o);
    cr_assert_eq (task_load (store, "t", &t), -EUCLEAN, "mode '%s'", *b);
    free (path);
    free (dir);
    free (tasks);
  }
  h_store_remove (store);
}
