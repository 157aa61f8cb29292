/* A job that failed while no daemon watched stays concluded with its
 * error (auto-dismiss off): the next start reports it, removes it and
 * its target node, and mirrors anew. */
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
  qmp_mirror_free (m);          /* nobody watches from here on */

  h_kill (&h.nbd);
  h_guest_io (q, "write -P 0x66 8192 4096");   /* fails the job */
  h_wait_job_status (q, "cdp-disk0", "concluded");
  qmp_close (q);

  h_start_nbdkit (&h, DISK_SIZE_STR);
  CHECK_OK (qmp_connect (h.qmp_sock, &q), "reconnect");
  r = qmp_mirror_start (q, "disk0", h.nbd_sock, "cdp", NULL, NULL, &m);
  CHECK_OK (r, "qmp_mirror_start");
  CHECK (qmp_mirror_origin (m, &note) == QMP_MIRROR_REPLACED, "origin");
  CHECK (strstr (note, "Input/output error"), "note: %s", note);
  h_wait_state (m, QMP_MIRROR_PROTECTED, 10000);

  /* Another socket means another receiver: never adopted. */
  qmp_mirror_free (m);
  r = qmp_mirror_start (q, "disk0", h.nbd_sock, "other", NULL, NULL, &m);
  CHECK_OK (r, "qmp_mirror_start with another export");
  CHECK (qmp_mirror_origin (m, &note) == QMP_MIRROR_REPLACED, "origin");
  CHECK (strstr (note, "was ready"), "note: %s", note);
  h_wait_state (m, QMP_MIRROR_PROTECTED, 10000);
  qmp_mirror_free (m);
  qmp_close (q);
  return 0;
}
