/* What the reader does not support is refused with -ENOTSUP and a
 * message, never misread: compressed clusters (when a read meets one),
 * encryption, external data files, extended L2 entries, unknown
 * incompatible features, backing files that are not local files.  An
 * image marked corrupt is refused (-EUCLEAN); a dirty one reads. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tests/qcow2/qcow2-test.h"

static struct qt t;

static void
setup (void)
{
  qt_init (&t);
}

static void
teardown (void)
{
  qt_cleanup (&t);
}

TestSuite (qcow2_unsupported, .init = setup, .fini = teardown);

Test (qcow2_unsupported, compressed)
{
  const char *img = qt_path (&t, "c.qcow2"), *src = qt_path (&t, "s.qcow2");
  struct qcow2_chain *c;
  uint8_t buf[4096];

  qt_sh ("qemu-img create -q -f qcow2 %s 1M && qemu-io "
         "-c 'write -P 1 0 64k' %s > /dev/null && "
         "qemu-img convert -c -O qcow2 %s %s", src, src, src, img);
  cr_assert_eq (qcow2_open (img, &c), 0, "%s", cdp_get_error ());
  cr_assert_eq (qcow2_pread (c, buf, 0, sizeof buf), -ENOTSUP);
  cr_assert_not_null (strstr (cdp_get_error (), "compressed"));
  cr_assert_eq (qcow2_pread (c, buf, 64 << 10, sizeof buf), 0);
  qcow2_close (c);
}

Test (qcow2_unsupported, encrypted)
{
  const char *img = qt_path (&t, "e.qcow2");

  /* crypt_method 1 (AES) and 2 (LUKS); qemu-img create of a LUKS image
   * times its key derivation, too slow and flaky on a loaded machine */
  qt_sh ("qemu-img create -q -f qcow2 %s 1M", img);
  qt_poke_be32 (img, 32, 1);
  qt_open_fails (img, -ENOTSUP);
  qt_poke_be32 (img, 32, 2);
  qt_open_fails (img, -ENOTSUP);
}

Test (qcow2_unsupported, data_file)
{
  const char *img = qt_path (&t, "d.qcow2");

  qt_sh ("qemu-img create -q -f qcow2 -o data_file=%s %s 1M",
         qt_path (&t, "d.raw"), img);
  qt_open_fails (img, -ENOTSUP);
}

Test (qcow2_unsupported, extended_l2)
{
  const char *img = qt_path (&t, "x.qcow2");

  qt_sh ("qemu-img create -q -f qcow2 -o extended_l2=on %s 1M", img);
  qt_open_fails (img, -ENOTSUP);
}

Test (qcow2_unsupported, feature_bits)
{
  const char *img = qt_path (&t, "f.qcow2");
  struct qcow2_chain *c;

  qt_sh ("qemu-img create -q -f qcow2 %s 1M", img);
  qt_poke_be64 (img, 72, 1ull << 10);     /* unknown */
  qt_open_fails (img, -ENOTSUP);
  qt_poke_be64 (img, 72, 1ull << 63);
  qt_open_fails (img, -ENOTSUP);
  qt_poke_be64 (img, 72, 2);              /* corrupt */
  qt_open_fails (img, -EUCLEAN);
  qt_poke_be64 (img, 72, 1);              /* dirty: fine to read */
  cr_assert_eq (qcow2_open (img, &c), 0, "%s", cdp_get_error ());
  qcow2_close (c);
}

Test (qcow2_unsupported, protocol_backing)
{
  const char *img = qt_path (&t, "p.qcow2");

  qt_sh ("qemu-img create -q -f qcow2 -u -b 'nbd+unix:///x?socket=/s' "
         "-F raw %s 1M", img);
  qt_open_fails (img, -ENOTSUP);
  qt_sh ("qemu-img rebase -q -u -b 'json:{\"file.filename\":\"/x\"}' "
         "-F raw %s", img);
  qt_open_fails (img, -ENOTSUP);
}

Test (qcow2_unsupported, backing_format)
{
  const char *img = qt_path (&t, "v.qcow2");

  qt_sh ("cd %s && qemu-img create -q -f vmdk b.vmdk 1M && "
         "qemu-img create -q -f qcow2 -b b.vmdk -F vmdk %s", t.dir, img);
  qt_open_fails (img, -ENOTSUP);
}
