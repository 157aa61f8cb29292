/* QEMU quitting ends protection with SHUTDOWN's reason, delivered before
 * the connection loss that follows. */
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

  CHECK_OK (qmp_execute (q, "quit", NULL, NULL), "quit");
  do
    r = qmp_mirror_poll (m, 5000);
  while (r > 0);
  CHECK (r == -ECONNRESET || r == -EPIPE, "poll returned %d", r);
  CHECK (qmp_mirror_state (m, &reason, NULL) == QMP_MIRROR_BROKEN, "state");
  CHECK (strcmp (reason, "QEMU shut down (host-qmp-quit)") == 0,
         "reason: %s", reason);
  qmp_mirror_free (m);
  qmp_close (q);
  return 0;
}
