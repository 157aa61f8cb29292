/* After READY every guest write reaches the target: the target equals
 * the source, data written before the mirror included; write-zeroes
 * travel as NBD WRITE_ZEROES; 512-byte writes pass as they are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static bool
all (const unsigned char *p, size_t len, unsigned char c)
{
  for (size_t i = 0; i < len; i++)
    if (p[i] != c)
      return false;
  return true;
}

static bool
log_has (const char *path, const char *needle)
{
  char line[512];
  FILE *fp = fopen (path, "r");
  bool found = false;

  CHECK (fp, "%s: %m", path);
  while (!found && fgets (line, sizeof line, fp))
    found = strstr (line, needle) != NULL;
  fclose (fp);
  return found;
}

int
main (void)
{
  struct harness h;
  struct qmp *q;
  struct qmp_mirror *m;
  unsigned char *src, *dst;

  h_init (&h);
  /* Data from before the mirror: the initial copy must carry it. */
  h_run ((const char *[]) { "qemu-io", "-f", "qcow2", "-c",
                            "write -P 0x33 0 1M", h.img, NULL });
  h_start_nbdkit (&h, DISK_SIZE_STR);
  q = h_start_qemu (&h);
  m = h_mirror_ready (&h, q);

  h_guest_io (q, "write -P 0x55 4096 4096");
  h_guest_io (q, "write -P 0x11 1536 512");
  h_guest_io (q, "write -z 65536 65536");
  h_guest_io (q, "write -P 0x77 33554432 131072");

  dst = h_read_export (&h, DISK_SIZE);
  src = h_read_source (&h, q, DISK_SIZE);
  CHECK (memcmp (src, dst, DISK_SIZE) == 0, "target differs from source");
  CHECK (all (dst, 1536, 0x33), "bytes 0..1536");
  CHECK (all (dst + 1536, 512, 0x11), "512-byte write");
  CHECK (all (dst + 2048, 2048, 0x33), "bytes 2048..4096");
  CHECK (all (dst + 4096, 4096, 0x55), "4 KiB write");
  CHECK (all (dst + 65536, 65536, 0), "write-zeroes");
  CHECK (all (dst + 131072, (1 << 20) - 131072, 0x33), "rest of 1 MiB");
  CHECK (all (dst + 33554432, 131072, 0x77), "write at 32 MiB");

  /* What reached the NBD server, as it logged it. */
  CHECK (log_has (h.nbd_log, "Write id=")
         && log_has (h.nbd_log, "offset=0x600 count=0x200"),
         "512-byte write not seen as such");
  CHECK (log_has (h.nbd_log, "Zero id=")
         && log_has (h.nbd_log, "offset=0x10000 count=0x10000"),
         "write-zeroes not forwarded as NBD WRITE_ZEROES");

  free (src);
  free (dst);
  qmp_mirror_free (m);
  qmp_close (q);
  return 0;
}
