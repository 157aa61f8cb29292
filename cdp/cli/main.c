/* cdp: continuous data protection for QEMU/KVM virtual machines. */
#include <stdlib.h>
#include <string.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"

/* --store DIR, then the command, through the table (cdp/cli/commands.c). */
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
  return cli_run (store, argc - i, argv + i);
}
