/* A restarted daemon finds its job still READY and keeps it: no new
 * full copy, protected at once, and writes still reach the target. */
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
  unsigned char *dst;
  int r;

  h_init (&h);
  h_start_nbdkit (&h, DISK_SIZE_STR);
  q = h_start_qemu (&h);
  m = h_mirror_ready (&h, q);
  qmp_mirror_free (m);          /* the daemon goes away; QEMU stays */
  qmp_close (q);

  CHECK_OK (qmp_connect (h.qmp_sock, &q), "reconnect");
  r = qmp_mirror_start (q, "disk0", h.nbd_sock, "cdp", NULL, NULL, &m);
  CHECK_OK (r, "qmp_mirror_start");
  CHECK (qmp_mirror_origin (m, &note) == QMP_MIRROR_ADOPTED, "origin: %s",
         note);
  CHECK (qmp_mirror_state (m, NULL, NULL) == QMP_MIRROR_PROTECTED, "state");

  h_guest_io (q, "write -P 0x5a 0 4096");
  while (qmp_mirror_poll (m, 100) > 0)
    ;
  CHECK (qmp_mirror_state (m, NULL, NULL) == QMP_MIRROR_PROTECTED,
         "state after write");
  dst = h_read_export (&h, 4096);
  for (size_t i = 0; i < 4096; i++)
    CHECK (dst[i] == 0x5a, "byte %zu is 0x%x", i, dst[i]);
  free (dst);

  CHECK_OK (qmp_mirror_stop (m), "stop");
  qmp_mirror_free (m);
  qmp_close (q);
  return 0;
}
