/* With reconnect-delay the target node survives a receiver restart:
 * the job stays READY and the next write reaches the new server. */
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
  struct qmp_mirror_options opts = { .reconnect_delay = 10 };
  unsigned char *dst;
  int r;

  h_init (&h);
  h_start_nbdkit (&h, DISK_SIZE_STR);
  q = h_start_qemu (&h);
  r = qmp_mirror_start (q, "disk0", h.nbd_sock, "cdp", NULL, &opts, &m);
  CHECK_OK (r, "qmp_mirror_start");
  h_wait_state (m, QMP_MIRROR_PROTECTED, 10000);

  h_kill (&h.nbd);
  h_start_nbdkit (&h, DISK_SIZE_STR);
  h_guest_io (q, "write -P 0x42 0 4096");
  while (qmp_mirror_poll (m, 200) > 0)
    ;
  CHECK (qmp_mirror_state (m, NULL, NULL) == QMP_MIRROR_PROTECTED, "state");
  dst = h_read_export (&h, 4096);
  for (size_t i = 0; i < 4096; i++)
    CHECK (dst[i] == 0x42, "byte %zu is 0x%x", i, dst[i]);
  free (dst);
  qmp_mirror_free (m);
  qmp_close (q);
  return 0;
}
