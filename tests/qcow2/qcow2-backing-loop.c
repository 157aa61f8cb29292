/* A backing chain that loops (an image its own backing file, or two
 * images each other's) or is deeper than QCOW2_MAX_CHAIN is refused with
 * -ELOOP; a chain exactly QCOW2_MAX_CHAIN deep opens. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "common/error.h"
#include "tests/qcow2/qcow2-test.h"

Test (qcow2, backing_loop)
{
  struct qt t;

  qt_init (&t);
  qt_sh ("cd %s && qemu-img create -q -f qcow2 a.qcow2 1M && "
         "qemu-img create -q -f qcow2 -b a.qcow2 -F qcow2 b.qcow2 && "
         "qemu-img create -q -f qcow2 -b b.qcow2 -F qcow2 c.qcow2 && "
         "qemu-img rebase -q -u -b c.qcow2 -F qcow2 a.qcow2 && "
         "qemu-img create -q -f qcow2 s.qcow2 1M && "
         "qemu-img rebase -q -u -b s.qcow2 -F qcow2 s.qcow2 && "
         "ln -s a.qcow2 link.qcow2 && "
         "qemu-img create -q -f qcow2 d.qcow2 1M && "
         "qemu-img create -q -f qcow2 -b d.qcow2 -F qcow2 e.qcow2 && "
         "qemu-img rebase -q -u -b link.qcow2 -F qcow2 d.qcow2", t.dir);
  qt_open_fails (qt_path (&t, "c.qcow2"), -ELOOP);
  qt_open_fails (qt_path (&t, "s.qcow2"), -ELOOP);
  qt_open_fails (qt_path (&t, "link.qcow2"), -ELOOP);
  qt_open_fails (qt_path (&t, "e.qcow2"), -ELOOP);
  qt_cleanup (&t);
}

Test (qcow2, chain_depth_limit)
{
  struct qt t;
  struct qcow2_chain *c;

  qt_init (&t);
  qt_sh ("cd %s && qemu-img create -q -f qcow2 i1.qcow2 1M && "
         "qemu-io -c 'write -P 1 0 4k' i1.qcow2 > /dev/null && "
         "for i in $(seq 2 %d); do qemu-img create -q -f qcow2 "
         "-b i$((i - 1)).qcow2 -F qcow2 i$i.qcow2 || exit 1; done",
         t.dir, QCOW2_MAX_CHAIN + 1);
  cr_assert_eq (qcow2_open (qt_path (&t, "i64.qcow2"), &c), 0, "%s",
                cdp_get_error ());
  cr_assert_eq (qcow2_depth (c), QCOW2_MAX_CHAIN);
  cr_assert (!qcow2_is_hole (c, 0, 4096));      /* i1's first cluster */
  cr_assert (qcow2_is_hole (c, 64 << 10, 4096));
  qcow2_close (c);
  qt_open_fails (qt_path (&t, "i65.qcow2"), -ELOOP);
  qt_cleanup (&t);
}
