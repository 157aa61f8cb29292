/* A job whose target write has just failed is never adopted, even while
 * QEMU still reports it "ready" (it aborts only at its next time slice):
 * start replaces it instead of claiming protection. */
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
  const char *note;
  int r;

  h_init (&h);
  h_start_nbdkit (&h, DISK_SIZE_STR);
  q = h_start_qemu (&h);
  m = h_mirror_ready (&h, q);
  qmp_mirror_free (m);

  h_kill (&h.nbd);
  h_guest_io (q, "write -P 0x66 8192 4096");   /* dooms the job */
  qmp_close (q);

  /* Restart at once, as a daemon would. */
  h_start_nbdkit (&h, DISK_SIZE_STR);
  CHECK_OK (qmp_connect (h.qmp_sock, &q), "reconnect");
  r = qmp_mirror_start (q, "disk0", h.nbd_sock, "cdp", NULL, NULL, &m);
  CHECK_OK (r, "qmp_mirror_start");
  CHECK (qmp_mirror_origin (m, &note) == QMP_MIRROR_REPLACED, "origin: %s",
         note);
  h_wait_state (m, QMP_MIRROR_PROTECTED, 10000);
  qmp_mirror_free (m);
  qmp_close (q);
  return 0;
}
