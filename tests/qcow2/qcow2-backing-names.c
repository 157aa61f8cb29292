/* Backing file names resolve as QEMU resolves them: relative to the
 * directory of the image that names them (whatever the working
 * directory), absolute as they are, "file:" prefixed; a backing file
 * without a format is probed (qcow2 by its magic, raw otherwise). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/error.h"
#include "tests/qcow2/qcow2-test.h"

static void
check_same (struct qt *t, const char *img, unsigned depth)
{
  struct qcow2_chain *c;
  uint64_t size;
  uint8_t *ref = qt_qemu_read (t, img, &size);

  cr_assert_eq (qcow2_open (img, &c), 0, "%s: %s", img, cdp_get_error ());
  cr_assert_eq (qcow2_depth (c), depth);
  qt_check_reads (c, ref, size, 50, 1);
  qcow2_close (c);
  free (ref);
}

Test (qcow2, relative_names)
{
  struct qt t;
  char cwd[4096];

  qt_init (&t);
  qt_sh ("mkdir -p %s/a/b/c %s/other", t.dir, t.dir);
  /* a/b/c/base.qcow2 <- a/b/mid.qcow2 ("c/base.qcow2") <- a/top.qcow2
   * ("b/mid.qcow2") <- other/o.qcow2 ("../a/top.qcow2") */
  qt_sh ("cd %s/a/b/c && qemu-img create -q -f qcow2 base.qcow2 4M && "
         "qemu-io -c 'write -P 1 0 4M' base.qcow2 >/dev/null", t.dir);
  qt_sh ("cd %s/a/b && qemu-img create -q -f qcow2 -b c/base.qcow2 "
         "-F qcow2 mid.qcow2 && qemu-io -c 'write -P 2 1M 1M' mid.qcow2 "
         ">/dev/null", t.dir);
  qt_sh ("cd %s/a && qemu-img create -q -f qcow2 -b b/mid.qcow2 -F qcow2 "
         "top.qcow2 && qemu-io -c 'write -P 3 2M 1k' top.qcow2 >/dev/null",
         t.dir);
  qt_sh ("cd %s/other && qemu-img create -q -f qcow2 -b ../a/top.qcow2 "
         "-F qcow2 o.qcow2", t.dir);
  check_same (&t, qt_path (&t, "other/o.qcow2"), 4);
  /* and from another working directory, by a relative path */
  cr_assert_not_null (getcwd (cwd, sizeof cwd));
  cr_assert_eq (chdir (t.dir), 0);
  check_same (&t, "a/top.qcow2", 3);
  check_same (&t, "./other/../other/o.qcow2", 4);
  cr_assert_eq (chdir (cwd), 0);
  qt_cleanup (&t);
}

Test (qcow2, absolute_and_file_prefix)
{
  struct qt t;
  const char *base, *mid, *top;

  qt_init (&t);
  base = qt_path (&t, "base.qcow2");
  mid = qt_path (&t, "mid.qcow2");
  top = qt_path (&t, "top.qcow2");
  qt_sh ("qemu-img create -q -f qcow2 %s 1M && "
         "qemu-io -c 'write -P 9 0 1M' %s >/dev/null", base, base);
  qt_sh ("qemu-img create -q -f qcow2 -b %s -F qcow2 %s", base, mid);
  qt_sh ("qemu-img create -q -f qcow2 -b file:%s -F qcow2 %s && "
         "qemu-io -c 'write -P 8 4k 4k' %s > /dev/null", mid, top, top);
  check_same (&t, top, 3);
  qt_cleanup (&t);
}

/* Turn the backing format extension of img into one nobody knows. */
static void
drop_backing_format (const char *img)
{
  uint64_t at = 112;                      /* qemu-img's header_length */

  for (;;) {
    uint64_t ext = qt_peek_be64 (img, at);
    uint32_t type = ext >> 32, len = (uint32_t) ext;

    cr_assert_neq (type, 0, "no backing format extension");
    if (type == 0xe2792aca) {
      qt_poke_be32 (img, at, 0x7e570000);
      return;
    }
    at += 8 + ((len + 7) & ~7u);
  }
}

Test (qcow2, probed_format)
{
  struct qt t;
  const char *raw, *q, *top;

  qt_init (&t);
  raw = qt_path (&t, "base.img");
  q = qt_path (&t, "mid.qcow2");
  top = qt_path (&t, "top.qcow2");
  qt_sh ("qemu-img create -q -f raw %s 1M && qemu-io -f raw "
         "-c 'write -P 5 0 64k' %s > /dev/null", raw, raw);
  qt_sh ("cd %s && qemu-img create -q -f qcow2 -b base.img -F raw %s && "
         "qemu-io -c 'write -P 6 64k 64k' %s > /dev/null", t.dir, q, q);
  qt_sh ("cd %s && qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 %s",
         t.dir, top);
  drop_backing_format (q);
  drop_backing_format (top);
  qt_sh ("qemu-img info --backing-chain %s | grep -q 'backing file format' "
         "&& exit 1 || exit 0", top);
  check_same (&t, top, 3);
  qt_cleanup (&t);
}
