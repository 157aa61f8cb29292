/* cdp resize: resize a protected disk of a libvirt domain, its history
 * kept.  QEMU resizes no disk while a block job runs on it, and cdp's
 * copy job runs for as long as the disk is protected: the serve that
 * holds the task ends the copy, has libvirt resize the disk, records the
 * size from then on (task.json) and copies the disk again, journaling
 * only what differs.  Points before read at the old size, points after
 * at the new one. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/cli/cli-internal.h"
#include "cdp/daemon/daemon.h"
#include "common/cleanup.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"

#define USAGE "usage: cdp resize NAME [--disk D] SIZE [--json]"
int
cmd_resize (const char *store, int argc, char **argv)
{
  static const struct option opts[] = {
    { "disk", required_argument, 0, 'd' }, { "json", no_argument, 0, 'j' },
    { "help", no_argument, 0, 'h' }, { 0 } };
  const char *disk = NULL;
  const struct task_disk *d;
  struct task *t;
  uint64_t size, old = 0, seq = 0;
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
            "  Resize a disk of a libvirt-mode task's domain while cdp serve\n"
            "  protects it (QEMU refuses virsh blockresize while cdp's copy\n"
            "  runs).  The copy ends, the disk is resized, its new size is\n"
            "  recorded and the disk copied again: points before read at the\n"
            "  old size, points from when the copy is READY at the new one.\n"
            "  SIZE: bytes or with suffix K M G T (binary), a multiple of\n"
            "  512.  Shrinking discards the data past SIZE, as QEMU does.");
      return 0;
    default: return cli_option_error (c, argv);
    }
  if (optind + 2 != argc)
    return usage_error (USAGE);
  if (parse_size (argv[optind + 1], &size) < 0 || size == 0 || size % 512 ||
      size > (uint64_t) INT64_MAX)
    return usage_error ("SIZE '%s': give bytes or K M G T, a multiple of 512",
                        argv[optind + 1]);
  if ((r = cli_disk_task (store, argv[optind], disk, "resizes", &t, &d)) != 0)
    return r;
  r = cli_disk_request (t, d, "resize", size, &old, &seq);
  if (r == 0 && json) {
    json_object *o = json_object_new_object ();
    jf_add (o, "task", json_object_new_string (t->name));
    jf_add (o, "disk", json_object_new_string (d->name));
    jf_add (o, "old_size", json_object_new_int64 ((int64_t) old));
    jf_add (o, "size", json_object_new_int64 ((int64_t) size));
    jf_add (o, "seq", json_object_new_int64 ((int64_t) seq));
    r = cli_print_json (o);
  }
  else if (r == 0)
    printf ("%s/%s resized from %" PRIu64 " to %" PRIu64 " bytes (points "
            "before keep %" PRIu64 "); cdp serve copies it again\n", t->name,
            d->name, old, size, old);
  task_free (t);
  return r;
}
