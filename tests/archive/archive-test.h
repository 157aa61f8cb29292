/* What the archive's unit tests share: a disk in memory as the base of a
 * struct point (no journal above it), a temporary directory archive, and
 * pushing and reading back. */
#ifndef CDP_TESTS_ARCHIVE_TEST_H
#define CDP_TESTS_ARCHIVE_TEST_H

#include <malloc.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fileio.h"
#include "recovery/archive/archive-internal.h"
#include "recovery/archive/store-internal.h"
#include "recovery/history/point.h"

#define CS ARCHIVE_CHUNK_SIZE

/* A disk in memory; chunks whose alloc[] is false are holes of the base
 * (their bytes must be zero). */
struct memdisk {
  uint8_t *data;
  uint64_t size;
  bool *alloc;
};

static __attribute__ ((unused)) int
mem_pread (void *h, void *buf, uint64_t off, uint64_t len)
{
  struct memdisk *m = h;

  memcpy (buf, m->data + off, len);
  return 0;
}

static __attribute__ ((unused)) bool
mem_is_hole (void *h, uint64_t off, uint64_t len)
{
  struct memdisk *m = h;

  for (uint64_t c = off / CS; c <= (off + len - 1) / CS; c++)
    if (m->alloc[c])
      return false;
  return true;
}

static const struct point_base_ops mem_ops __attribute__ ((unused)) = {
  .pread = mem_pread, .is_hole = mem_is_hole,
};

/* size bytes of data that zstd compresses some, chunks all allocated. */
static __attribute__ ((unused)) void
mem_init (struct memdisk *m, uint64_t size, unsigned seed)
{
  uint64_t n = (size + CS - 1) / CS;

  m->size = size;
  m->data = malloc (size);
  m->alloc = malloc (n);
  cr_assert (m->data && m->alloc);
  srandom (seed);
  for (uint64_t i = 0; i < size; i += 8) {
    uint64_t v = (uint64_t) random () % 64;      /* 6 bits of 64: compresses */
    memcpy (m->data + i, &v, size - i < 8 ? size - i : 8);
  }
  memset (m->alloc, 1, n);
}

/* Chunk c becomes a hole of the base. */
static __attribute__ ((unused)) void
mem_hole (struct memdisk *m, uint64_t c)
{
  uint64_t off = c * CS;

  memset (m->data + off, 0, m->size - off < CS ? m->size - off : CS);
  m->alloc[c] = false;
}

/* Change a few bytes of chunk c so that it is new. */
static __attribute__ ((unused)) void
mem_touch_chunk (struct memdisk *m, uint64_t c, unsigned salt)
{
  uint64_t off = c * CS + 4096 * (salt % 100);

  memcpy (m->data + off, &salt, sizeof salt);
  m->alloc[c] = true;
}

static __attribute__ ((unused)) void
mem_free (struct memdisk *m)
{
  free (m->data);
  free (m->alloc);
}

static __attribute__ ((unused)) void
mem_point (struct memdisk *m, struct point *p)
{
  memset (p, 0, sizeof *p);
  p->size = m->size;
  p->base = &mem_ops;
  p->base_h = m;
}

/* A fresh directory under /tmp, removed by rm_tree. */
static __attribute__ ((unused)) char *
tmp_dir (void)
{
  char *d = strdup ("/tmp/cdp-archive-XXXXXX");

  cr_assert (d && mkdtemp (d));
  return d;
}

static __attribute__ ((unused)) void
rm_tree (char *d)
{
  cr_assert_eq (fio_remove_tree (d), 0);
  free (d);
}

/* The archive in directory loc (a directory store: this links no S3). */
static __attribute__ ((unused)) struct archive *
open_dir (const char *loc, bool create)
{
  struct archive_store *s;
  struct archive *a;

  cr_assert_eq (store_dir_open (loc, &s), 0, "%s", cdp_get_error ());
  cr_assert_eq (archive_open_store (s, create, &a), 0, "%s",
                cdp_get_error ());
  return a;
}

/* Push the disks of task at time t from store path "/store". */
static __attribute__ ((unused)) int
push_disks (struct archive *a, const char *task, int64_t t,
            struct memdisk **m, size_t n, struct archive_push_stats *st)
{
  struct point pts[8];
  struct archive_push_disk d[8];
  static const char *names[] = { "vda", "vdb", "vdc", "vdd" };
  struct archive_push o = {
    .task = task, .time_ns = t, .kind = "push", .store = "/store",
    .ndisks = n, .disks = d, .threads = 3,
  };

  for (size_t i = 0; i < n; i++) {
    mem_point (m[i], &pts[i]);
    d[i] = (struct archive_push_disk) { .name = names[i], .p = &pts[i] };
  }
  return archive_push (a, &o, st);
}

static __attribute__ ((unused)) int
push_one (struct archive *a, const char *task, int64_t t, struct memdisk *m,
          struct archive_push_stats *st)
{
  return push_disks (a, task, t, &m, 1, st);
}

/* Read disk i of the point of task at t whole through point_pread;
 * return its first error, or 0 with the bytes in *out. */
static __attribute__ ((unused)) int
read_back (struct archive *a, const char *task, int64_t t, size_t disk,
           uint8_t **out, uint64_t *size)
{
  struct archive_point pt;
  struct archive_reader *r;
  struct point p;
  uint8_t *buf;
  int e = 0;

  if ((e = archive_point_load (a, task, t, &pt)) < 0)
    return e;
  cr_assert_eq (archive_reader_open (a, &pt, disk, &r), 0);
  archive_reader_point (r, &p);
  buf = malloc (p.size + 1);
  cr_assert_not_null (buf);
  /* Reads of odd sizes, crossing chunks, in order (fetch ahead). */
  for (uint64_t off = 0; off < p.size;) {
    uint64_t len = 1536 * 1024 + 4096;
    if (len > p.size - off)
      len = p.size - off;
    if ((e = point_pread (&p, buf + off, off, len, NULL)) < 0)
      break;
    off += len;
  }
  *size = p.size;
  archive_reader_close (r);
  archive_point_free (&pt);
  if (e < 0)
    free (buf);
  else
    *out = buf;
  return e;
}

/* The disk of the point reads back as m. */
static __attribute__ ((unused)) void
assert_reads_as (struct archive *a, const char *task, int64_t t, size_t disk,
                 const struct memdisk *m)
{
  uint8_t *buf = NULL;
  uint64_t size = 0;
  int e = read_back (a, task, t, disk, &buf, &size);

  cr_assert_eq (e, 0, "reading %s at %lld: %s", task, (long long) t,
                cdp_get_error ());
  cr_assert_eq (size, m->size);
  cr_assert_eq (memcmp (buf, m->data, size), 0, "%s at %lld reads wrong",
                task, (long long) t);
  free (buf);
}

static __attribute__ ((unused)) int
count_obj (void *opaque, const struct archive_obj *o)
{
  (*(uint64_t *) opaque)++;
  return 0;
}

/* How many objects are under prefix. */
static __attribute__ ((unused)) uint64_t
count_objects (struct archive *a, const char *prefix)
{
  uint64_t n = 0;

  cr_assert_eq (a->s->ops->list (a->s, prefix, count_obj, &n), 0);
  return n;
}

/* Bytes the program holds: in the heap and in mapped blocks (mallinfo2;
 * ASan's allocator is not seen). */
static __attribute__ ((unused)) size_t
held (void)
{
  struct mallinfo2 mi = mallinfo2 ();

  return mi.uordblks + mi.hblkhd;
}

/* Put an index of task vm1 at t of one disk of nchunks chunks, chunk c
 * named by sum c % distinct + 1 (no chunk is stored). */
static __attribute__ ((unused)) void
put_synthetic_index (struct archive *a, int64_t t, uint32_t nchunks,
                     uint32_t distinct)
{
  struct archive_disk d = { .name = (char *) "vda",
                            .size = (uint64_t) nchunks * CS,
                            .nchunks = nchunks };
  struct archive_point p = {
    .task = (char *) "vm1", .time_ns = t, .kind = (char *) "push",
    .host = (char *) "h", .store = (char *) "/store",
    .store_id = (char *) "0123456789ab", .chunk_size = CS,
    .ndisks = 1, .disks = &d,
  };
  char key[256];
  void *buf;
  size_t len;

  d.sums = calloc (nchunks, 32);
  cr_assert_not_null (d.sums);
  for (uint32_t c = 0; c < nchunks; c++) {
    uint32_t v = c % distinct + 1;
    memcpy (d.sums[c], &v, sizeof v);
  }
  cr_assert_eq (archive_index_key ("vm1", t, "0123456789ab", key, sizeof key),
                0);
  cr_assert_eq (archive_index_encode (&p, &buf, &len), 0);
  cr_assert_eq (a->s->ops->put (a->s, key, buf, len), 0, "%s",
                cdp_get_error ());
  free (buf);
  free (d.sums);
}

#endif
