/* qmp_mirror_stop removes the job and the target node and ignores the
 * job's last events; the disk can be mirrored again afterwards. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "harness.h"

static size_t
count (struct qmp *q, const char *command, bool flat)
{
  json_object *args = json_object_new_object (), *ret = NULL;
  size_t n;

  if (flat)
    json_object_object_add (args, "flat", json_object_new_boolean (true));
  CHECK_OK (qmp_execute (q, command, args, &ret), command);
  n = json_object_array_length (ret);
  json_object_put (args);
  json_object_put (ret);
  return n;
}

int
main (void)
{
  struct harness h;
  struct qmp *q;
  struct qmp_mirror *m;
  size_t nodes;

  h_init (&h);
  h_start_nbdkit (&h, DISK_SIZE_STR);
  q = h_start_qemu (&h);
  nodes = count (q, "query-named-block-nodes", true);
  m = h_mirror_ready (&h, q);

  CHECK_OK (qmp_mirror_stop (m), "stop");
  CHECK (qmp_mirror_state (m, NULL, NULL) == QMP_MIRROR_STOPPED, "state");
  CHECK (count (q, "query-jobs", false) == 0, "job left behind");
  CHECK (count (q, "query-named-block-nodes", true) == nodes,
         "node left behind");
  /* The cancel's events are queued: they must not break a stopped mirror. */
  while (qmp_mirror_poll (m, 200) > 0)
    ;
  CHECK (qmp_mirror_state (m, NULL, NULL) == QMP_MIRROR_STOPPED, "state");
  qmp_mirror_free (m);

  m = h_mirror_ready (&h, q);
  CHECK (qmp_mirror_origin (m, NULL) == QMP_MIRROR_NEW, "origin");
  h_guest_io (q, "write -P 0x12 0 4096");
  CHECK_OK (qmp_mirror_stop (m), "second stop");
  qmp_mirror_free (m);
  qmp_close (q);
  return 0;
}
