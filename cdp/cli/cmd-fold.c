/* cdp fold: base points of every disk now, made by the serve that holds
 * the task. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/cli/cli-internal.h"
#include "cdp/daemon/daemon.h"

/* cdp fold NAME: make base points of every disk now. */
int
cmd_fold (const char *store, int argc, char **argv)
{
  struct task *t;
  char *reply = NULL;
  int r;

  if (want_help (argc, argv) || argc != 2) {
    puts ("usage: cdp fold NAME\nMakes a base point of every disk of the task now.");
    return argc == 2 ? 0 : EXIT_USAGE;
  }
  if (cli_task_load (store, argv[1], &t) != 0)
    return EXIT_FAIL;
  r = control_call (t, "{\"op\":\"fold\"}", &reply);
  task_free (t);
  if (r == -ENOENT || r == -ECONNREFUSED)
    return fail ("task %s is not served: start 'cdp serve' first", argv[1]);
  if (r < 0 || !cli_reply_ok (reply)) {
    r = fail ("fold failed: %s", reply ? reply : strerror (-r));
    free (reply);
    return r;
  }
  free (reply);
  printf ("base points made\n");
  return 0;
}
