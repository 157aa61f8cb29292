/* cdp lock | unlock: keep a point past every retention, or let it go.
 * --json: the point's time and whether it is locked now. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/cli/cli-internal.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"

static int
print_json (const struct task *t, const char *time, bool locked)
{
  json_object *o = json_object_new_object ();

  jf_add (o, "task", json_object_new_string (t->name));
  jf_add (o, "time", json_object_new_string (time));
  jf_add (o, "locked", json_object_new_boolean (locked));
  return cli_print_json (o);
}

/* cdp lock|unlock NAME --at T [--json] */
int
cmd_lock (const char *store, int argc, char **argv)
{
  bool add = strcmp (argv[0], "lock") == 0;
  const char *at = NULL;
  struct task_view v;
  struct point p;
  int64_t t;
  uint64_t seq = 0;
  char tb[64];
  bool json = false;
  int r;

  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--help") == 0) {
      printf ("usage: cdp %s NAME --at T [--json]\n", argv[0]);
      return 0;
    }
    if (strcmp (argv[i], "--at") == 0 && i + 1 < argc)
      at = argv[++i];
    else if (strcmp (argv[i], "--json") == 0)
      json = true;
  }
  if (at == NULL || argc < 2 || argv[1][0] == '-')
    return usage_error ("usage: cdp %s NAME --at T [--json]", argv[0]);
  if (view_open (store, argv[1], &v) != 0)
    return EXIT_FAIL;
  if ((r = view_time (&v, at, &t)) != 0) {
    view_close (&v);
    return r;
  }
  for (size_t i = 0; i < v.task->disks.len && r == 0; i++) {
    r = add ? view_point_at (&v, &v.task->disks.ptr[i], t, &p) : 0;
    if (r == 0 && add)
      seq = p.seq > seq ? p.seq : seq;
  }
  if (!add && index_seq_at (v.ix, t, &seq, NULL) < 0)
    seq = 0;
  format_time (t, tb, sizeof tb);
  if (r == 0) {
    r = locks_change (v.task, seq, t, add);
    if (r == -EEXIST)
      r = fail ("the point at %s is locked already", tb);
    else if (r == -ENOENT)
      r = fail ("no lock at %s", tb);
    else if (r == -EUCLEAN || r == -EPROTONOSUPPORT)
      r = fail ("cannot %s the point at %s: %s/locks.json: %s", argv[0], tb,
                v.task->dir, jf_strerror (r));
    else if (r < 0)
      r = fail ("cannot %s the point at %s: %s", argv[0], tb, strerror (-r));
    else if (json)
      r = print_json (v.task, tb, add);
    else
      printf ("%s %s\n", add ? "locked" : "unlocked", tb);
  }
  view_close (&v);
  return r;
}
