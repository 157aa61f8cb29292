/* A QMP error becomes an errno with QEMU's desc kept, and the handle
 * stays usable afterwards. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/error.h"
#include "harness.h"

int
main (void)
{
  struct harness h;
  struct qmp *q;
  json_object *args, *ret = NULL;
  int r;

  h_init (&h);
  q = h_start_qemu (&h);

  r = qmp_execute (q, "no-such-command", NULL, &ret);
  CHECK (r == -ENOSYS, "got %d", r);
  CHECK (ret == NULL, "ret set on error");
  CHECK (strstr (cdp_get_error (), "no-such-command: The command "
                 "no-such-command has not been found"),
         "error: %s", cdp_get_error ());

  args = json_tokener_parse ("{\"node-name\": \"nothing-here\"}");
  r = qmp_execute (q, "blockdev-del", args, NULL);
  json_object_put (args);
  CHECK (r == -EIO, "got %d", r);
  CHECK (strstr (cdp_get_error (), "nothing-here"), "error: %s",
         cdp_get_error ());

  r = qmp_execute (q, "query-status", NULL, &ret);
  CHECK_OK (r, "query-status after errors");
  json_object_put (ret);
  qmp_close (q);
  return 0;
}
