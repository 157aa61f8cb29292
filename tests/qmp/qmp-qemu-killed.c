/* When QEMU dies the connection loss is reported (-ECONNRESET or
 * -EPIPE), sticks, and leaves the mirror BROKEN with a reason. */
#include <errno.h>
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
  int r;

  h_init (&h);
  h_start_nbdkit (&h, DISK_SIZE_STR);
  q = h_start_qemu (&h);
  m = h_mirror_ready (&h, q);

  h_kill (&h.qemu);
  r = qmp_mirror_poll (m, 5000);
  while (r > 0)
    r = qmp_mirror_poll (m, 5000);
  CHECK (r == -ECONNRESET || r == -EPIPE, "poll returned %d", r);
  CHECK (qmp_mirror_state (m, &reason, NULL) == QMP_MIRROR_BROKEN, "state");
  CHECK (strstr (reason, "lost the QMP connection"), "reason: %s", reason);

  r = qmp_execute (q, "query-status", NULL, NULL);
  CHECK (r == -ECONNRESET || r == -EPIPE, "execute returned %d", r);
  qmp_mirror_free (m);
  qmp_close (q);
  return 0;
}
