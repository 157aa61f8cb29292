/* Helpers for the qcow2 reader's tests (see qcow2-test.h). */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/vector.h"
#include "tests/qcow2/qcow2-test.h"

DEFINE_VECTOR_TYPE (ext_vector, struct qcow2_extent)

static string_vector owned = empty_vector;

void
qt_init (struct qt *t)
{
  const char *tmp = getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp";

  snprintf (t->dir, sizeof t->dir, "%s/cdp-qcow2-XXXXXX", tmp);
  cr_assert_not_null (mkdtemp (t->dir), "mkdtemp %s", t->dir);
}

void
qt_cleanup (struct qt *t)
{
  qt_sh ("rm -rf '%s'", t->dir);
  for (size_t i = 0; i < owned.len; i++)
    free (owned.ptr[i]);
  string_vector_reset (&owned);
}

const char *
qt_path (struct qt *t, const char *name)
{
  char *p;

  cr_assert_geq (asprintf (&p, "%s/%s", t->dir, name), 0);
  cr_assert_eq (string_vector_append (&owned, p), 0);
  return p;
}

void
qt_sh (const char *fmt, ...)
{
  char *cmd;
  va_list ap;
  int r;

  va_start (ap, fmt);
  cr_assert_geq (vasprintf (&cmd, fmt, ap), 0);
  va_end (ap);
  r = system (cmd);
  if (r != 0) {
    char msg[1024];

    snprintf (msg, sizeof msg, "%s", cmd);
    free (cmd);
    cr_assert_fail ("command failed (%d): %s", r, msg);
  }
  free (cmd);
}

static uint64_t
rnd (uint64_t n)
{
  return ((uint64_t) random () << 31 ^ (uint64_t) random ()) % n;
}

/* One random qemu-io command on an image of size bytes. */
static void
one_op (FILE *f, uint64_t size, int i)
{
  bool aligned = rnd (4) != 0;
  uint64_t len = rnd (8) == 0 ? 1 + rnd (3u << 20) : 1 + rnd (96 << 10);
  uint64_t off;
  int kind = rnd (20);

  if (aligned)
    len = (len + 511) & ~511ull;
  if (len > size)
    len = size;
  off = rnd (size - len + 1);
  if (aligned)
    off &= ~511ull;
  if (kind < 12)
    fprintf (f, "write -P %d %" PRIu64 " %" PRIu64 "\n", 1 + i % 254, off, len);
  else if (kind < 15)
    fprintf (f, "write -z %" PRIu64 " %" PRIu64 "\n", off, len);
  else if (kind < 16)
    fprintf (f, "write -z -u %" PRIu64 " %" PRIu64 "\n", off, len);
  else
    fprintf (f, "discard %" PRIu64 " %" PRIu64 "\n", off, len);
}

void
qt_random_ops (struct qt *t, const char *img, const char *fmt, uint64_t size,
               int nops, unsigned seed)
{
  const char *cmds = qt_path (t, "qemu-io.cmds");
  FILE *f = fopen (cmds, "w");

  cr_assert_not_null (f);
  srandom (seed);
  for (int i = 0; i < nops; i++)
    one_op (f, size, i);
  fclose (f);
  qt_sh ("qemu-io -f %s '%s' < '%s' > /dev/null", fmt, img, cmds);
}

void
qt_mixed_chain (struct qt *t, const char *paths[QT_CHAIN], unsigned seed)
{
  static const struct {
    const char *name, *opts;
    unsigned mib;
  } lv[QT_CHAIN] = {
    { "base.raw", NULL, 8 },
    { "l1.qcow2", "cluster_size=64k", 8 },
    { "l2.qcow2", "cluster_size=2M", 12 },
    { "l3.qcow2", "cluster_size=4k,compat=0.10", 12 },
    { "l4.qcow2", "cluster_size=512", 12 },
    { "l5.qcow2", "cluster_size=64k", 16 },
  };

  for (int i = 0; i < QT_CHAIN; i++) {
    uint64_t size = (uint64_t) lv[i].mib << 20;

    paths[i] = qt_path (t, lv[i].name);
    if (i == 0)
      qt_sh ("qemu-img create -q -f raw '%s' %" PRIu64, paths[0], size);
    else
      qt_sh ("cd '%s' && qemu-img create -q -f qcow2 -o %s -b %s -F %s "
             "%s %" PRIu64, t->dir, lv[i].opts, lv[i - 1].name,
             i == 1 ? "raw" : "qcow2", lv[i].name, size);
    qt_random_ops (t, paths[i], i == 0 ? "raw" : "qcow2", size, 60,
                   seed + i);
  }
}

uint8_t *
qt_qemu_read (struct qt *t, const char *img, uint64_t *size)
{
  const char *raw = qt_path (t, "qemu-read.raw");
  struct stat st;
  uint8_t *buf;
  int fd;

  qt_sh ("qemu-img convert -O raw '%s' '%s'", img, raw);
  fd = open (raw, O_RDONLY);
  cr_assert_geq (fd, 0);
  cr_assert_eq (fstat (fd, &st), 0);
  buf = malloc (st.st_size + 1);
  cr_assert_not_null (buf);
  cr_assert_eq (pread (fd, buf, st.st_size, 0), st.st_size);
  close (fd);
  unlink (raw);
  *size = st.st_size;
  return buf;
}

static void
check_range (struct qcow2_chain *c, const uint8_t *ref, uint64_t off,
             uint64_t len, uint8_t *buf)
{
  int r = qcow2_pread (c, buf, off, len);

  cr_assert_eq (r, 0, "qcow2_pread %" PRIu64 "+%" PRIu64 ": %s", off, len,
                cdp_get_error ());
  for (uint64_t i = 0; i < len; i++)
    if (buf[i] != ref[off + i])
      cr_assert_fail ("byte %#" PRIx64 " (read %" PRIu64 "+%" PRIu64
                      "): %#x, qemu reads %#x", off + i, off, len, buf[i],
                      ref[off + i]);
}

void
qt_check_reads (struct qcow2_chain *c, const uint8_t *ref, uint64_t size,
                int nranges, unsigned seed)
{
  uint8_t *buf = malloc (size + 1);

  cr_assert_not_null (buf);
  cr_assert_eq (qcow2_size (c), size);
  check_range (c, ref, 0, size, buf);
  srandom (seed);
  for (int i = 0; i < nranges; i++) {
    uint64_t len = rnd (4) == 0 ? rnd (1 << 20) : rnd (10000);
    uint64_t off = len >= size ? 0 : rnd (size - len + 1);

    check_range (c, ref, off, len > size ? size : len, buf);
  }
  cr_assert_eq (qcow2_pread (c, buf, size - 1, 2), -EINVAL);
  cr_assert_eq (qcow2_pread (c, buf, UINT64_MAX, 2), -EINVAL);
  free (buf);
}

/* Append e to v, merging it with the last extent if they agree. */
static void
ext_add (ext_vector *v, struct qcow2_extent e)
{
  struct qcow2_extent *l = v->len ? &v->ptr[v->len - 1] : NULL;

  cr_assert (v->len == 0 || l->off + l->len == e.off, "gap in the map");
  if (l && l->flags == e.flags && l->depth == e.depth)
    l->len += e.len;
  else
    cr_assert_eq (ext_vector_append (v, e), 0);
}

static int
collect (void *opaque, const struct qcow2_extent *e)
{
  ext_add (opaque, *e);
  return 0;
}

static int64_t
jint (struct json_object *o, const char *key)
{
  struct json_object *v;

  cr_assert (json_object_object_get_ex (o, key, &v), "no %s", key);
  return json_object_get_int64 (v);
}

static bool
jbool (struct json_object *o, const char *key)
{
  struct json_object *v;

  cr_assert (json_object_object_get_ex (o, key, &v), "no %s", key);
  return json_object_get_boolean (v);
}

/* qemu-img map of img as extents: ZERO where "data" is false (a range
 * qemu finds zero in the host file is still data to this reader). */
static void
qemu_map (struct qt *t, const char *img, ext_vector *v)
{
  const char *out = qt_path (t, "map.json");
  struct json_object *a;

  qt_sh ("qemu-img map --output=json '%s' > '%s'", img, out);
  a = json_object_from_file (out);
  cr_assert_not_null (a);
  for (size_t i = 0; i < json_object_array_length (a); i++) {
    struct json_object *o = json_object_array_get_idx (a, i);
    struct qcow2_extent e = {
      .off = jint (o, "start"), .len = jint (o, "length"),
      .depth = jint (o, "depth"),
      .flags = (jbool (o, "data") ? 0 : QCOW2_EXTENT_ZERO) |
               (jbool (o, "present") ? QCOW2_EXTENT_PRESENT : 0),
    };
    ext_add (v, e);
  }
  json_object_put (a);
}

static bool
zero_in (const ext_vector *v, uint64_t off, uint64_t len)
{
  for (size_t i = 0; i < v->len; i++) {
    const struct qcow2_extent *e = &v->ptr[i];
    if (e->off < off + len && off < e->off + e->len &&
        !(e->flags & QCOW2_EXTENT_ZERO))
      return false;
  }
  return true;
}

void
qt_check_map (struct qt *t, struct qcow2_chain *c, const char *img,
              int nranges, unsigned seed)
{
  ext_vector mine = empty_vector, qemu = empty_vector;
  uint64_t size = qcow2_size (c);

  qemu_map (t, img, &qemu);
  cr_assert_eq (qcow2_map (c, 0, size, collect, &mine), 0, "%s",
                cdp_get_error ());
  for (size_t i = 0; i < mine.len && i < qemu.len; i++) {
    struct qcow2_extent *a = &mine.ptr[i], *b = &qemu.ptr[i];
    cr_assert (a->off == b->off && a->len == b->len && a->flags == b->flags &&
               a->depth == b->depth,
               "extent %zu: %#" PRIx64 "+%#" PRIx64 " flags %u depth %u, "
               "qemu %#" PRIx64 "+%#" PRIx64 " flags %u depth %u", i,
               a->off, a->len, a->flags, a->depth, b->off, b->len, b->flags,
               b->depth);
  }
  cr_assert_eq (mine.len, qemu.len);
  srandom (seed);
  for (int i = 0; i < nranges; i++) {
    uint64_t len = 1 + rnd (rnd (2) ? 4096 : 1 << 20);
    uint64_t off = len >= size ? 0 : rnd (size - len + 1);

    len = len > size ? size : len;
    cr_assert_eq (qcow2_is_hole (c, off, len), zero_in (&qemu, off, len),
                  "is_hole %#" PRIx64 "+%#" PRIx64, off, len);
  }
  ext_vector_reset (&mine);
  ext_vector_reset (&qemu);
}

const char *
qt_open_fails (const char *path, int err)
{
  struct qcow2_chain *c = NULL;
  int r = qcow2_open (path, &c);

  cr_assert_eq (r, err, "qcow2_open %s: %d (%s), expected %d", path, r,
                cdp_get_error (), err);
  cr_assert_neq (cdp_get_error ()[0], '\0', "no error message");
  return cdp_get_error ();
}

void
qt_poke (const char *path, uint64_t off, const void *data, size_t len)
{
  int fd = open (path, O_WRONLY);

  cr_assert_geq (fd, 0);
  cr_assert_eq (pwrite (fd, data, len, off), (ssize_t) len);
  close (fd);
}

void
qt_poke_be32 (const char *path, uint64_t off, uint32_t v)
{
  v = htobe32 (v);
  qt_poke (path, off, &v, sizeof v);
}

void
qt_poke_be64 (const char *path, uint64_t off, uint64_t v)
{
  v = htobe64 (v);
  qt_poke (path, off, &v, sizeof v);
}

uint64_t
qt_peek_be64 (const char *path, uint64_t off)
{
  uint64_t v;
  int fd = open (path, O_RDONLY);

  cr_assert_geq (fd, 0);
  cr_assert_eq (pread (fd, &v, sizeof v, off), (ssize_t) sizeof v);
  close (fd);
  return be64toh (v);
}
