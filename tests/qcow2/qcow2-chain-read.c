/* Every image of a mixed chain (raw bottom; 512 B, 4 KiB, 64 KiB and
 * 2 MiB clusters; a version 2 image; backing files shorter than their
 * overlays; random writes, write-zeroes and discards at every level)
 * reads exactly as QEMU reads it: whole, and in random unaligned
 * ranges. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "common/error.h"
#include "tests/qcow2/qcow2-test.h"

Test (qcow2, chain_read)
{
  struct qt t;
  const char *paths[QT_CHAIN];

  qt_init (&t);
  qt_mixed_chain (&t, paths, 1);
  for (int top = 1; top < QT_CHAIN; top++) {
    struct qcow2_chain *c;
    uint64_t size;
    uint8_t *ref = qt_qemu_read (&t, paths[top], &size);

    cr_assert_eq (qcow2_open (paths[top], &c), 0, "%s", cdp_get_error ());
    cr_assert_eq (qcow2_depth (c), (unsigned) top + 1);
    qt_check_reads (c, ref, size, 1500, top);
    qcow2_close (c);
    free (ref);
  }
  qt_cleanup (&t);
}
