/* cdp detach: detach a protected disk from a libvirt domain, its history
 * kept.  libvirt refuses to detach a disk while a block copy runs on it,
 * and cdp's copy runs for as long as the disk is protected: the serve
 * that holds the task ends the copy (a gap) and detaches the disk, live
 * and from the persistent definition.  The disk stays in the task, its
 * points readable; attached again, it is protected again. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/cli/cli-internal.h"
#include "common/jsonfile.h"

#define USAGE "usage: cdp detach NAME [--disk D] [--json]"

int
cmd_detach (const char *store, int argc, char **argv)
{
  static const struct option opts[] = {
    { "disk", required_argument, 0, 'd' }, { "json", no_argument, 0, 'j' },
    { "help", no_argument, 0, 'h' }, { 0 } };
  const char *disk = NULL;
  const struct task_disk *d;
  struct task *t;
  uint64_t old, seq;
  bool json = false;
  int c, r;

  optind = 1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, ":", opts, NULL)) != -1)
    switch (c) {
    case 'd': disk = optarg; break;
    case 'j': json = true; break;
    case 'h':
      puts (USAGE "\n"
            "  Detach a disk from a libvirt-mode task's domain while cdp\n"
            "  serve protects it (libvirt refuses virsh detach-disk while\n"
            "  cdp's copy runs).  The copy ends, the disk is detached from\n"
            "  the running domain (the guest must release it) and from its\n"
            "  persistent definition.  Its history stays in the task.");
      return 0;
    default: return cli_option_error (c, argv);
    }
  if (optind + 1 != argc)
    return usage_error (USAGE);
  if ((r = cli_disk_task (store, argv[optind], disk, "detaches", &t, &d)) != 0)
    return r;
  r = cli_disk_request (t, d, "detach", 0, &old, &seq);
  if (r == 0 && json) {
    json_object *o = json_object_new_object ();
    jf_add (o, "task", json_object_new_string (t->name));
    jf_add (o, "disk", json_object_new_string (d->name));
    r = cli_print_json (o);
  }
  else if (r == 0)
    printf ("%s/%s: its copy ended and libvirt was asked to detach it; its "
            "history stays\n", t->name, d->name);
  task_free (t);
  return r;
}
