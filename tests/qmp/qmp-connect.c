/* qmp_connect reads the greeting and leaves capabilities mode: commands
 * work at once, and QEMU's version comes from the greeting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "harness.h"

int
main (void)
{
  struct harness h;
  struct qmp *q;
  json_object *ret = NULL, *status;
  int major, minor, micro, r;

  h_init (&h);
  q = h_start_qemu (&h);
  CHECK (qmp_fd (q) >= 0, "no fd");
  qmp_qemu_version (q, &major, &minor, &micro);
  CHECK (major >= 3, "QEMU version %d.%d.%d from the greeting", major, minor,
         micro);

  /* Only after qmp_capabilities does QEMU run ordinary commands. */
  r = qmp_execute (q, "query-status", NULL, &ret);
  CHECK_OK (r, "query-status");
  CHECK (json_object_object_get_ex (ret, "status", &status)
         && strcmp (json_object_get_string (status), "prelaunch") == 0,
         "status %s", json_object_to_json_string (ret));
  json_object_put (ret);
  qmp_close (q);
  return 0;
}
