/* cdp serve: its arguments; the daemon itself is cdp/daemon (serve.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/daemon/daemon.h"

int
cmd_serve (const char *store, int argc, char **argv)
{
  string_vector names = empty_vector;
  int e;

  if (want_help (argc, argv)) {
    puts ("usage: cdp serve [NAME]...\n"
          "Runs the receivers of every task in the store (or of the tasks\n"
          "named) in the foreground until SIGINT or SIGTERM.  Tasks created\n"
          "while it runs are taken up, deleted ones let go; one cdp serve\n"
          "per store.");
    return 0;
  }
  for (int i = 1; i < argc; i++) {
    char *name = strdup (argv[i]);
    if (name == NULL || string_vector_append (&names, name) < 0) {
      free (name);
      e = fail ("serve: %s", strerror (ENOMEM));
      goto out;
    }
  }
  e = serve_run (store, &names);
 out:
  for (size_t i = 0; i < names.len; i++)
    free (names.ptr[i]);
  string_vector_reset (&names);
  return e;
}
