/* cdp/hv/manual: manual mode.  The receiver listens where --listen says
 * and whatever connects writes one disk of --size bytes: an NBD writer
 * cdp does not see (a QEMU mirror started by hand, a test client).
 * Nothing watches it, so every write is history from the start and no
 * point is checked against a job's READY; no guest to freeze; rapid
 * recovery serves the point and leaves booting it to the operator. */
#include <stdlib.h>
#include <string.h>

#include "cdp/hv/hv.h"
#include "common/timeutil.h"

static const struct option options[] = {
  { "size", required_argument, 0, 0 },
  { 0 } };

static int
manual_opt (struct hv_create *c, const char *name, const char *arg)
{
  uint64_t size;

  (void) c;
  (void) name;
  if (parse_size (arg, &size) < 0 || size == 0 || size % 512)
    return usage_error ("--size: '%s' is not a size of whole 512-byte sectors", arg);
  return 0;
}

static bool
manual_wanted (const struct hv_create *c)
{
  return hv_create_arg (c, "size") && c->t->listen;
}

static int
manual_disks (struct hv_create *c)
{
  uint64_t size = 0;

  parse_size (hv_create_arg (c, "size"), &size);   /* manual_opt checked it */
  return hv_add_disk (c->t, "disk0", size);
}

const struct hv_driver hv_manual = {
  .name = "manual",
  .create_usage = "--size SIZE --listen unix:PATH|tcp:HOST:PORT [POLICY]",
  .create_options = options,
  .create_opt = manual_opt,
  .create_wanted = manual_wanted,
  .create_needs = "--size and --listen",
  .create_disks = manual_disks,
  .initial_state = "listening",
  .protector = NULL,
  .initial_copy = false,
  .socket_dir = "run",
  .show_note = "manual mode: cdp cannot see the writer's mirror job, so "
               "points are not checked against its READY; every point is offered",
};
