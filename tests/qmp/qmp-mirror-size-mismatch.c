/* An export whose size differs from the disk's is refused before the job
 * starts, with both sizes in the message, and nothing is left in QEMU. */
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
  struct qmp_mirror *m = NULL;
  json_object *ret = NULL;
  int r;

  h_init (&h);
  h_start_nbdkit (&h, "32M");
  q = h_start_qemu (&h);

  r = qmp_mirror_start (q, "disk0", h.nbd_sock, "cdp", NULL, NULL, &m);
  CHECK (r == -EINVAL, "got %d (%s)", r, cdp_get_error ());
  CHECK (strstr (cdp_get_error (), "33554432")
         && strstr (cdp_get_error (), "67108864"), "error: %s",
         cdp_get_error ());
  CHECK (m == NULL, "mirror set on failure");

  CHECK_OK (qmp_execute (q, "query-jobs", NULL, &ret), "query-jobs");
  CHECK (json_object_array_length (ret) == 0, "job left behind");
  json_object_put (ret);
  ret = json_tokener_parse ("{\"node-name\": \"cdp-target-disk0\"}");
  r = qmp_execute (q, "blockdev-del", ret, NULL);
  json_object_put (ret);
  CHECK (r == -EIO, "target node left behind");

  r = qmp_mirror_start (q, "nosuchnode", h.nbd_sock, "cdp", NULL, NULL, &m);
  CHECK (r == -ENODEV, "got %d (%s)", r, cdp_get_error ());
  qmp_close (q);
  return 0;
}
