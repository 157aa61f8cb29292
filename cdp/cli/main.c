/* cdp: continuous data protection for QEMU/KVM virtual machines. */
#include <stdlib.h>
#include <string.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"

static const char help[] =
  "usage: cdp [--store DIR] COMMAND ...\n"
  "\n"
  "Tasks:      task create|list|show|set|delete, serve, status, verify\n"
  "Points:     points, mark, lock, unlock, fold\n"
  "Data back:  export, restore, recover\n"
  "Files:      ls, cat, get\n"
  "\n"
  "The store (all tasks) is --store, else $CDP_STORE, else /var/lib/cdp.\n"
  "'cdp COMMAND --help' describes each command.\n";

int
main (int argc, char **argv)
{
  const char *store = NULL;
  int i = 1;

  if (i + 1 < argc && strcmp (argv[i], "--store") == 0) {
    store = argv[i + 1];
    i += 2;
  }
  else if (i < argc && strncmp (argv[i], "--store=", 8) == 0)
    store = argv[i++] + 8;
  if (i >= argc)
    return usage_error ("no command; see 'cdp --help'");
  if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "help") == 0) {
    fputs (help, stdout);
    return 0;
  }
  store = store_path (store);
  argc -= i;
  argv += i;
  if (strcmp (argv[0], "task") == 0) return cmd_task (store, argc, argv);
  if (strcmp (argv[0], "serve") == 0) return cmd_serve (store, argc, argv);
  if (strcmp (argv[0], "status") == 0) return cmd_status (store, argc, argv);
  if (strcmp (argv[0], "points") == 0) return cmd_points (store, argc, argv);
  if (strcmp (argv[0], "export") == 0) return cmd_export (store, argc, argv);
  if (strcmp (argv[0], "restore") == 0) return cmd_restore (store, argc, argv);
  if (strcmp (argv[0], "recover") == 0) return cmd_recover (store, argc, argv);
  if (strcmp (argv[0], "mark") == 0) return cmd_mark (store, argc, argv);
  if (strcmp (argv[0], "lock") == 0 || strcmp (argv[0], "unlock") == 0)
    return cmd_lock (store, argc, argv);
  if (strcmp (argv[0], "fold") == 0) return cmd_fold (store, argc, argv);
  if (strcmp (argv[0], "ls") == 0) return cmd_ls (store, argc, argv);
  if (strcmp (argv[0], "cat") == 0) return cmd_cat (store, argc, argv);
  if (strcmp (argv[0], "get") == 0) return cmd_get (store, argc, argv);
  if (strcmp (argv[0], "verify") == 0) return cmd_verify (store, argc, argv);
  return usage_error ("unknown command '%s'; see 'cdp --help'", argv[0]);
}
