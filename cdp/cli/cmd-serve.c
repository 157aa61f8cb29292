/* cdp serve: its arguments; the daemon itself is cdp/daemon (serve.c). */
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
          "named) in the foreground until SIGINT or SIGTERM.");
    return 0;
  }
  if (argc > 1)
    for (int i = 1; i < argc; i++)
      string_vector_append (&names, strdup (argv[i]));
  else if ((e = task_list (store, &names)) < 0)
    return fail ("cannot read store %s: %s", store, strerror (-e));
  e = serve_run (store, &names);
  for (size_t i = 0; i < names.len; i++)
    free (names.ptr[i]);
  string_vector_reset (&names);
  return e;
}
