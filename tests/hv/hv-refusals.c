/* What the modes that cannot freeze a guest or start a VM refuse: `cdp
 * mark --freeze` of a manual or QMP task (exit 1, nothing recorded),
 * `cdp recover --as` or `--in-place` of one (exit 2: the operator boots
 * the point); and a libvirt task's recovery needs one of them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "cdp/cli/cli.h"

static int
run (int (*cmd) (const char *, int, char **), const char *store,
     const char *const *argv, char **said)
{
  char *v[16];
  int argc = 0, r;

  for (; argv[argc]; argc++)
    v[argc] = (char *) argv[argc];
  v[argc] = NULL;
  h_stderr_begin ();
  r = cmd (store, argc, v);
  *said = h_stderr_end ();
  return r;
}

Test (hv_refusals, freeze)
{
  static const struct { const char *name; const char *mode; } tasks[] = {
    { "m", "manual" }, { "q", "qmp" } };
  char *store = h_store ();

  for (size_t i = 0; i < 2; i++) {
    const char *argv[] = { "mark", tasks[i].name, "--freeze", NULL };
    char want[256], *said, *journal;
    struct stat st;
    h_save_task (store, tasks[i].name, tasks[i].mode);
    cr_assert_null (hv_by_name (tasks[i].mode)->freeze);
    cr_assert_eq (run (cmd_mark, store, argv, &said), EXIT_FAIL, "%s", said);
    snprintf (want, sizeof want, "cdp: --freeze needs the guest agent of a "
              "libvirt task; task %s is a %s task\n", tasks[i].name,
              tasks[i].mode);
    cr_assert_str_eq (said, want);
    free (said);
    /* Nothing journaled: the task has no journal yet, and still none. */
    cr_assert_geq (asprintf (&journal, "%s/tasks/%s/journal", store,
                             tasks[i].name), 0);
    cr_assert_neq (stat (journal, &st), 0, "%s", journal);
    free (journal);
  }
  h_store_remove (store);
}

Test (hv_refusals, recover_as_or_in_place)
{
  static const struct { const char *name; const char *mode; } tasks[] = {
    { "m", "manual" }, { "q", "qmp" } };
  char *store = h_store ();

  for (size_t i = 0; i < 2; i++) {
    const char *as[] = { "recover", tasks[i].name, "--at", "now", "--to",
                         "/nonexistent/x.qcow2", "--as", "y", NULL };
    const char *in_place[] = { "recover", tasks[i].name, "--at", "now", "--to",
                               "/nonexistent/x.qcow2", "--in-place", NULL };
    char want[256], *said;
    h_save_task (store, tasks[i].name, tasks[i].mode);
    cr_assert_null (hv_by_name (tasks[i].mode)->recover);
    snprintf (want, sizeof want, "cdp: task %s has no libvirt domain: leave "
              "out --as and --in-place; cdp prints how to boot the point\n",
              tasks[i].name);
    cr_assert_eq (run (cmd_recover, store, as, &said), EXIT_USAGE, "%s", said);
    cr_assert_str_eq (said, want);
    free (said);
    cr_assert_eq (run (cmd_recover, store, in_place, &said), EXIT_USAGE, "%s", said);
    cr_assert_str_eq (said, want);
    free (said);
  }
  h_store_remove (store);
}

Test (hv_refusals, libvirt_recover_needs_one)
{
  static const char *const neither[] = { "recover", "l", "--at", "now", "--to",
                                         "/nonexistent/x.qcow2", NULL };
  static const char *const both[] = { "recover", "l", "--at", "now", "--to",
    "/nonexistent/x.qcow2", "--as", "y", "--in-place", NULL };
  char *store = h_store (), *said;

  h_save_task (store, "l", "libvirt");
  cr_assert_eq (run (cmd_recover, store, neither, &said), EXIT_USAGE, "%s", said);
  cr_assert_str_eq (said, "cdp: give one of --as NEWDOMAIN and --in-place\n");
  free (said);
  cr_assert_eq (run (cmd_recover, store, both, &said), EXIT_USAGE, "%s", said);
  cr_assert_str_eq (said, "cdp: give one of --as NEWDOMAIN and --in-place\n");
  free (said);
  h_store_remove (store);
}
