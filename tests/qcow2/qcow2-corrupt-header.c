/* A damaged or hostile header is refused with an error and a message,
 * never a crash or a read outside the file: not qcow2 at all, truncated,
 * absurd versions, cluster sizes, image sizes, L1 sizes, header lengths,
 * backing file name locations and header extensions. */
#include <criterion/criterion.h>
#include <errno.h>

#include "tests/qcow2/qcow2-test.h"

static struct qt t;
static const char *img;

/* A fresh top.qcow2 (64 KiB clusters, 4 MiB, with data) over base.qcow2. */
static void
fresh (void)
{
  qt_sh ("cd %s && rm -f top.qcow2 base.qcow2 && "
         "qemu-img create -q -f qcow2 base.qcow2 4M && "
         "qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2 && "
         "qemu-io -c 'write -P 1 0 1M' top.qcow2 > /dev/null", t.dir);
}

static void
setup (void)
{
  qt_init (&t);
  img = qt_path (&t, "top.qcow2");
  fresh ();
}

static void
teardown (void)
{
  qt_cleanup (&t);
}

TestSuite (qcow2_header, .init = setup, .fini = teardown);

Test (qcow2_header, not_qcow2)
{
  qt_sh ("truncate -s 0 %s", img);
  qt_open_fails (img, -EINVAL);
  qt_sh ("head -c 1M /dev/urandom > %s", img);
  qt_open_fails (img, -EINVAL);
  qt_open_fails (qt_path (&t, "missing.qcow2"), -ENOENT);
}

Test (qcow2_header, truncated)
{
  qt_sh ("truncate -s 80 %s", img);       /* magic and v2 part only */
  qt_open_fails (img, -EUCLEAN);
  fresh ();
  qt_sh ("truncate -s 4k %s", img);       /* header, no L1 table */
  qt_open_fails (img, -EUCLEAN);
}

Test (qcow2_header, versions)
{
  qt_poke_be32 (img, 4, 1);
  qt_open_fails (img, -ENOTSUP);
  qt_poke_be32 (img, 4, 4);
  qt_open_fails (img, -ENOTSUP);
  qt_poke_be32 (img, 4, 0xffffffff);
  qt_open_fails (img, -ENOTSUP);
}

Test (qcow2_header, cluster_bits)
{
  static const uint32_t bad[] = { 0, 8, 22, 31, 32, 63, 64, 200, 0xffffffff };

  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    qt_poke_be32 (img, 20, bad[i]);
    qt_open_fails (img, -EUCLEAN);
  }
}

Test (qcow2_header, absurd_size)
{
  static const uint64_t bad[] = { 1ull << 40, 1ull << 62, 1ull << 63,
                                  UINT64_MAX };

  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    qt_poke_be64 (img, 24, bad[i]);
    qt_open_fails (img, -EUCLEAN);
  }
}

Test (qcow2_header, absurd_l1)
{
  qt_poke_be32 (img, 36, 0xffffffff);     /* L1 of 32 GiB */
  qt_open_fails (img, -EUCLEAN);
  qt_poke_be32 (img, 36, 1 << 20);        /* 8 MiB: past the end */
  qt_open_fails (img, -EUCLEAN);
  qt_poke_be32 (img, 36, 0);              /* does not cover the size */
  qt_open_fails (img, -EUCLEAN);
}

Test (qcow2_header, header_length)
{
  static const uint32_t bad[] = { 0, 72, 103, 65537, 0xffffffff };

  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    qt_poke_be32 (img, 100, bad[i]);
    qt_open_fails (img, -EUCLEAN);
  }
}

Test (qcow2_header, backing_name)
{
  uint64_t off = qt_peek_be64 (img, 8);

  qt_poke_be32 (img, 16, 5000);           /* too long */
  qt_open_fails (img, -EUCLEAN);
  qt_poke_be32 (img, 16, 11);
  qt_poke_be64 (img, 8, 65530);           /* past the header cluster */
  qt_open_fails (img, -EUCLEAN);
  qt_poke_be64 (img, 8, UINT64_MAX - 3);
  qt_open_fails (img, -EUCLEAN);
  qt_poke_be64 (img, 8, off);
  qt_poke_be32 (img, 16, 10);             /* "base.qcow2" again */
  qt_poke (img, off + 2, "", 1);          /* a NUL inside */
  qt_open_fails (img, -EUCLEAN);
  qt_poke (img, off, "nope.qcow2", 10);   /* missing backing file */
  qt_open_fails (img, -ENOENT);
}

Test (qcow2_header, extension)
{
  /* the first extension (backing format) follows the 112-byte header */
  qt_poke_be32 (img, 112 + 4, 0xfffffff0);
  qt_open_fails (img, -EUCLEAN);
  qt_poke_be32 (img, 112 + 4, 5);         /* "qcow2" still, but ... */
  qt_poke (img, 112 + 8, "vmdk\0", 5);    /* a format not read here */
  qt_open_fails (img, -ENOTSUP);
}
