/* The manual driver: task create takes --size (whole 512-byte sectors)
 * and --listen and makes one disk, disk0; nothing watches the writer,
 * so every write is history from the start (no initial copy, the disk
 * shows "listening"), there is no guest to freeze and the operator
 * boots a recovered VM. */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"

static void
expect_refused (int code, const char *line, const char *const *args)
{
  char *store = h_store (), *said;
  struct task *t;
  int r;

  h_stderr_begin ();
  r = h_create (store, args, &t);
  said = h_stderr_end ();
  cr_assert_eq (r, code, "%s", said);
  cr_assert_str_eq (said, line);
  cr_assert_eq (t->disks.len, 0);
  free (said);
  h_task_free (t);
  h_store_remove (store);
}

Test (hv_manual, create)
{
  static const char *const args[] = { "--size", "8M", "--listen",
                                      "unix:/run/m.sock", NULL };
  char *store = h_store ();
  struct task *t;

  cr_assert_eq (h_create (store, args, &t), 0);
  cr_assert_eq (t->hv, hv_by_name ("manual"));
  cr_assert_eq (t->disks.len, 1);
  cr_assert_str_eq (t->disks.ptr[0].name, "disk0");
  cr_assert_eq (t->disks.ptr[0].id, 0);
  cr_assert_eq (t->disks.ptr[0].size, 8 << 20);
  h_task_free (t);
  h_store_remove (store);
}

Test (hv_manual, size_not_sectors)
{
  static const char *const sizes[] = { "1000", "0", "lots", "-512", NULL };

  for (const char *const *s = sizes; *s; s++) {
    const char *args[] = { "--size", *s, "--listen", "unix:/run/m.sock", NULL };
    char line[128];
    snprintf (line, sizeof line,
              "cdp: --size: '%s' is not a size of whole 512-byte sectors\n", *s);
    expect_refused (EXIT_USAGE, line, args);
  }
}

/* --size alone, --listen alone, nothing: no mode is asked for. */
Test (hv_manual, needs_size_and_listen)
{
  static const char line[] = "cdp: task create needs --size and --listen, "
    "--qmp and --node, or --domain\n";
  static const char *const size_only[] = { "--size", "8M", NULL };
  static const char *const listen_only[] = { "--listen", "unix:/run/m.sock", NULL };
  static const char *const none[] = { NULL };

  expect_refused (EXIT_USAGE, line, size_only);
  expect_refused (EXIT_USAGE, line, listen_only);
  expect_refused (EXIT_USAGE, line, none);
}

Test (hv_manual, unknown_option)
{
  static const char *const args[] = { "--size", "8M", "--frobnicate", NULL };
  char *store = h_store (), *said;
  struct task *t;
  int r;

  h_stderr_begin ();
  r = h_create (store, args, &t);
  said = h_stderr_end ();
  cr_assert_eq (r, EXIT_USAGE);
  /* getopt_long's own line, then ours. */
  cr_assert (strstr (said, "cdp: task create: see 'cdp task create --help'\n"),
             "%s", said);
  free (said);
  h_task_free (t);
  h_store_remove (store);
}

Test (hv_manual, nothing_watches)
{
  const struct hv_driver *d = hv_by_name ("manual");
  char *store = h_store ();
  struct task *t;

  cr_assert_null (d->protector);
  cr_assert_str_eq (d->initial_state, "listening");
  cr_assert_not (d->initial_copy);
  cr_assert_null (d->freeze);
  cr_assert_null (d->thaw);
  cr_assert_null (d->recover);
  cr_assert_not_null (d->show_note);
  h_save_task (store, "m", "manual");
  cr_assert_eq (task_load (store, "m", &t), 0);
  cr_assert_eq (hv_of (t), d);
  task_free (t);
  h_store_remove (store);
}
