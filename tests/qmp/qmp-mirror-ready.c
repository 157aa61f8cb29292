/* qmp_mirror_start adds the NBD target node and starts an active mirror
 * that reaches READY: the disk is PROTECTED from then on. */
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
  struct qmp_mirror *m;
  json_object *jobs = NULL, *job, *v;
  const char *reason;
  char *qdev = NULL;
  int64_t since;

  h_init (&h);
  h_start_nbdkit (&h, DISK_SIZE_STR);
  q = h_start_qemu (&h);
  CHECK_OK (qmp_block_qdev (q, "disk0", &qdev), "qmp_block_qdev");
  CHECK (strcmp (qdev, "/machine/peripheral/vd0/virtio-backend") == 0,
         "qdev %s", qdev);
  free (qdev);

  m = h_mirror_ready (&h, q);
  CHECK (qmp_mirror_origin (m, NULL) == QMP_MIRROR_NEW, "origin");
  CHECK (strcmp (qmp_mirror_job_id (m), "cdp-disk0") == 0, "job id %s",
         qmp_mirror_job_id (m));
  CHECK (strcmp (qmp_mirror_target_node (m), "cdp-target-disk0") == 0,
         "target %s", qmp_mirror_target_node (m));
  qmp_mirror_state (m, &reason, &since);
  CHECK (reason[0] == '\0' && since > 0, "reason '%s' since %lld", reason,
         (long long) since);

  /* QEMU agrees: an active (write-blocking) mirror job, ready. */
  CHECK_OK (qmp_execute (q, "query-block-jobs", NULL, &jobs), "query");
  CHECK (json_object_array_length (jobs) == 1, "%zu jobs",
         json_object_array_length (jobs));
  job = json_object_array_get_idx (jobs, 0);
  CHECK (json_object_object_get_ex (job, "ready", &v)
         && json_object_get_boolean (v), "not ready");
  CHECK (json_object_object_get_ex (job, "type", &v)
         && strcmp (json_object_get_string (v), "mirror") == 0, "type");
  json_object_put (jobs);

  /* The guest device above the node, now above the mirror filter. */
  CHECK (strcmp (qmp_mirror_filter_node (m), "cdp-filter-disk0") == 0,
         "filter %s", qmp_mirror_filter_node (m));
  CHECK_OK (qmp_block_qdev (q, qmp_mirror_filter_node (m), &qdev),
            "qmp_block_qdev");
  CHECK (strcmp (qdev, "/machine/peripheral/vd0/virtio-backend") == 0,
         "qdev %s", qdev);
  free (qdev);

  qmp_mirror_free (m);
  qmp_close (q);
  return 0;
}
