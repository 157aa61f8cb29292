/* qmp_hmp returns a human monitor command's text, and turns HMP's own
 * "Error: ..." into -EIO with the message. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "harness.h"

int
main (void)
{
  struct harness h;
  struct qmp *q;
  unsigned char *data;
  char *out = NULL;
  int r;

  h_init (&h);
  q = h_start_qemu (&h);

  r = qmp_hmp (q, "info status", &out);
  CHECK_OK (r, "info status");
  CHECK (strstr (out, "paused"), "output: %s", out);
  free (out);

  /* QEMU 7.2 prints qemu-io's report on its own stdout, not in the
   * reply: check the data instead. */
  r = qmp_hmp (q, "qemu-io -d vd0/virtio-backend \"write -P 0x41 0 4k\"",
               &out);
  CHECK_OK (r, "qemu-io write");
  free (out);
  data = h_read_source (&h, q, 8192);
  for (size_t i = 0; i < 8192; i++)
    CHECK (data[i] == (i < 4096 ? 0x41 : 0), "byte %zu is 0x%x", i, data[i]);
  free (data);

  r = qmp_hmp (q, "qemu-io -d nodev \"read 0 512\"", &out);
  CHECK (r == -EIO, "got %d", r);
  CHECK (strstr (cdp_get_error (), "nodev"), "error: %s", cdp_get_error ());
  CHECK (strncmp (out, "Error: ", 7) == 0, "output: %s", out);
  free (out);
  qmp_close (q);
  return 0;
}
