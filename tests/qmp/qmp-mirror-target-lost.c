/* When the NBD target goes away, the next guest write still succeeds
 * but the mirror job fails: the disk is no longer protected, and the
 * reason says that the target failed a write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int
main (void)
{
  struct harness h;
  struct qmp *q;
  struct qmp_mirror *m;
  const char *reason;
  int64_t ready_since, broken_since;

  h_init (&h);
  h_start_nbdkit (&h, DISK_SIZE_STR);
  q = h_start_qemu (&h);
  m = h_mirror_ready (&h, q);
  qmp_mirror_state (m, NULL, &ready_since);

  h_kill (&h.nbd);
  h_guest_io (q, "write -P 0x66 8192 4096");   /* the guest is not failed */

  h_wait_state (m, QMP_MIRROR_BROKEN, 10000);
  /* BLOCK_JOB_COMPLETED, a moment later, adds QEMU's error text. */
  while (qmp_mirror_poll (m, 1000) > 0)
    ;
  qmp_mirror_state (m, &reason, &broken_since);
  CHECK (strstr (reason, "NBD target failed a write"), "reason: %s", reason);
  CHECK (strstr (reason, "Input/output error"), "reason: %s", reason);
  CHECK (broken_since >= ready_since, "time went back");

  qmp_mirror_free (m);
  qmp_close (q);
  return 0;
}
