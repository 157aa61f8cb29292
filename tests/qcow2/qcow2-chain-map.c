/* The allocation map of every image of a mixed chain (see
 * qt_mixed_chain) is what `qemu-img map` reports: which ranges hold
 * data, which are present in some image, and which image decides them;
 * qcow2_is_hole and the point base ops agree with it. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "common/error.h"
#include "tests/qcow2/qcow2-test.h"

Test (qcow2, chain_map)
{
  struct qt t;
  const char *paths[QT_CHAIN];

  qt_init (&t);
  qt_mixed_chain (&t, paths, 100);
  for (int top = 1; top < QT_CHAIN; top++) {
    struct qcow2_chain *c;

    cr_assert_eq (qcow2_open (paths[top], &c), 0, "%s", cdp_get_error ());
    qt_check_map (&t, c, paths[top], 1500, top);
    qcow2_close (c);
  }
  qt_cleanup (&t);
}

/* The ops cdp's points use reach the same reads and holes. */
Test (qcow2, point_base_ops)
{
  struct qt t;
  const char *paths[QT_CHAIN];
  struct qcow2_chain *c;
  uint64_t size;
  uint8_t *ref, *buf;

  qt_init (&t);
  qt_mixed_chain (&t, paths, 200);
  ref = qt_qemu_read (&t, paths[QT_CHAIN - 1], &size);
  cr_assert_eq (qcow2_open (paths[QT_CHAIN - 1], &c), 0);
  buf = malloc (size);
  cr_assert_eq (qcow2_base_ops.pread (c, buf, 0, size), 0);
  cr_assert_arr_eq (buf, ref, size);
  /* 12..16 MiB lies past the end of l4: nothing is there below l5 */
  cr_assert_eq (qcow2_base_ops.is_hole (c, size - 1, 1),
                qcow2_is_hole (c, size - 1, 1));
  cr_assert (!qcow2_base_ops.is_hole (c, size - 1, 2));
  cr_assert (qcow2_base_ops.is_hole (c, 0, 0));
  free (buf);
  free (ref);
  qcow2_close (c);
  qt_cleanup (&t);
}
