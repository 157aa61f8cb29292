/* cdp/hv/qmp: QMP mode.  cdp talks to a QEMU of its own monitor socket
 * (--qmp) and mirrors each block node named (--node) to the receiver
 * (qmp-protect.c).  The receiver's socket is in TASK/run/: QEMU runs as
 * root or as cdp's user.  No guest agent to freeze through; rapid
 * recovery serves the point and prints how to boot and stream it. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "cdp/hv/hv.h"
#include "cdp/hv/qmp/qmp.h"

static const struct option options[] = {
  { "qmp", required_argument, 0, 0 },
  { "node", required_argument, 0, 0 },
  { 0 } };

static int
qmp_opt (struct hv_create *c, const char *name, const char *arg)
{
  if (strcmp (name, "qmp") == 0) {
    free (c->t->qmp);
    c->t->qmp = strdup (arg);
  }
  return 0;
}

/* No node named twice. */
static int
qmp_check (const char *store, const struct hv_create *c)
{
  string_vector nodes = empty_vector;
  int r = 0;

  (void) store;
  if (hv_create_args (c, "node", &nodes) < 0) {
    string_vector_reset (&nodes);
    return fail ("task create: %s", strerror (ENOMEM));
  }
  for (size_t i = 0; r == 0 && i < nodes.len; i++)
    for (size_t k = 0; r == 0 && k < i; k++)
      if (strcmp (nodes.ptr[i], nodes.ptr[k]) == 0)
        r = usage_error ("--node %s is given twice", nodes.ptr[i]);
  string_vector_reset (&nodes);
  return r;
}

static bool
qmp_wanted (const struct hv_create *c)
{
  return c->t->qmp != NULL;
}

/* Sizes of the QMP-mode nodes, from the running QEMU. */
static int
qmp_disks (struct task *t, string_vector *nodes)
{
  struct qmp *q;
  int e = qmp_connect (t->qmp, &q);

  if (e < 0)
    return fail ("cannot reach QEMU's QMP socket %s: %s", t->qmp,
                 *cdp_get_error () ? cdp_get_error () : strerror (-e));
  for (size_t i = 0; e == 0 && i < nodes->len; i++) {
    struct json_object *node, *image;
    int64_t size = -1;
    e = qmp_find_node (q, nodes->ptr[i], &node);
    if (e < 0) {
      fail ("QEMU at %s has no block node '%s'", t->qmp, nodes->ptr[i]);
      break;
    }
    if (json_object_object_get_ex (node, "image", &image))
      size = qmp_json_int (image, "virtual-size", -1);
    json_object_put (node);
    if (size <= 0) {
      e = fail ("cannot tell the size of node '%s'", nodes->ptr[i]);
      break;
    }
    if ((e = hv_add_disk (t, nodes->ptr[i], (uint64_t) size)) != 0)
      break;
  }
  qmp_close (q);
  return e < 0 ? EXIT_FAIL : e;
}

static int
qmp_create_disks (struct hv_create *c)
{
  string_vector nodes = empty_vector;
  int r;

  if (hv_create_args (c, "node", &nodes) < 0)
    r = fail ("task create: %s", strerror (ENOMEM));
  else
    r = nodes.len == 0 ? usage_error ("--qmp needs at least one --node")
                       : qmp_disks (c->t, &nodes);
  string_vector_reset (&nodes);
  return r;
}

const struct hv_driver hv_qmp = {
  .name = "qmp",
  .create_usage = "--qmp SOCKET --node NODE [--node NODE]... [POLICY]",
  .create_options = options,
  .create_opt = qmp_opt,
  .create_check = qmp_check,
  .create_wanted = qmp_wanted,
  .create_needs = "--qmp and --node",
  .create_disks = qmp_create_disks,
  .initial_state = "starting",
  .protector = qmp_protector,
  .initial_copy = true,
  .socket_dir = "run",
};
