/* Random damage to the metadata of a chain's images (header, extension
 * area, L1 and L2 tables) never crashes the reader or makes it read
 * outside a buffer (run under ASan/UBSan): open, read and map either
 * work or fail with an error. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "tests/qcow2/qcow2-test.h"

#ifndef ROUNDS
#define ROUNDS 400
#endif

static int
ignore (void *opaque, const struct qcow2_extent *e)
{
  return 0;
}

static bool
known_error (int r)
{
  return r == -EUCLEAN || r == -EINVAL || r == -ENOTSUP || r == -ENOENT ||
         r == -ELOOP || r == -ENOMEM;
}

/* Flip a few bytes of copy in its first 192 KiB (4 KiB clusters: header,
 * refcount table, L1 and L2 tables). */
static void
damage (const char *orig, const char *copy, unsigned *seed)
{
  int n = 1 + rand_r (seed) % 8;

  qt_sh ("cp %s %s", orig, copy);
  for (int i = 0; i < n; i++) {
    uint8_t b = rand_r (seed);
    uint64_t off = rand_r (seed) % (rand_r (seed) % 3 ? 512 : 192 << 10);

    qt_poke (copy, off, &b, 1);
  }
}

static void
exercise (const char *img)
{
  struct qcow2_chain *c;
  uint8_t *buf;
  uint64_t size;
  int r = qcow2_open (img, &c);

  if (r < 0) {
    cr_assert (known_error (r), "open: %d %s", r, cdp_get_error ());
    return;
  }
  size = qcow2_size (c) < (64 << 20) ? qcow2_size (c) : 64 << 20;
  buf = malloc (size + 1);
  cr_assert_not_null (buf);
  r = qcow2_pread (c, buf, 0, size);
  cr_assert (r == 0 || known_error (r), "pread: %d", r);
  r = qcow2_map (c, 0, size, ignore, NULL);
  cr_assert (r == 0 || known_error (r), "map: %d", r);
  qcow2_is_hole (c, 0, size);
  free (buf);
  qcow2_close (c);
}

Test (qcow2, corrupt_random)
{
  struct qt t;
  const char *base, *top, *copy;
  unsigned seed = 12345;

  qt_init (&t);
  base = qt_path (&t, "base.qcow2");
  top = qt_path (&t, "top.qcow2");
  copy = qt_path (&t, "copy.qcow2");
  qt_sh ("qemu-img create -q -f qcow2 -o cluster_size=4k %s 16M", base);
  qt_random_ops (&t, base, "qcow2", 16 << 20, 40, 7);
  qt_sh ("cd %s && qemu-img create -q -f qcow2 -o cluster_size=4k "
         "-b base.qcow2 -F qcow2 %s", t.dir, top);
  qt_random_ops (&t, top, "qcow2", 16 << 20, 40, 8);
  qt_sh ("cd %s && cp top.qcow2 top.orig && cp base.qcow2 base.orig",
         t.dir);
  for (int i = 0; i < ROUNDS; i++) {
    bool hit_base = rand_r (&seed) % 3 == 0;

    damage (qt_path (&t, hit_base ? "base.orig" : "top.orig"),
            hit_base ? base : copy, &seed);
    if (hit_base)
      qt_sh ("cp %s %s", qt_path (&t, "top.orig"), copy);
    exercise (copy);
    qt_sh ("cp %s %s", qt_path (&t, "base.orig"), base);
  }
  qt_cleanup (&t);
}
