/* point_block_status reports exactly the holes point_pread reports, for
 * random writes, write-zeroes and trims (aligned and not, crossing index
 * chunks), at many points, over the zero base and over a base point
 * chain (raw with holes, under a 64 KiB-cluster and a 4 KiB-cluster
 * qcow2 overlay with zero clusters and discards), on many ranges, some
 * not aligned to 512 or 4096 and some crossing 64 KiB index chunks; and
 * it reads neither the journal nor the base's data to do so. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "recovery/history/index.h"
#include "recovery/history/point.h"
#include "recovery/history/qcow2.h"
#include "tests/recovery/recovery-test.h"

#define DISK_SIZE (2u << 20)         /* make_base makes images of 2M */
#define NOPS 1500
#define EVERY 150
#define NCHECK (NOPS / EVERY)
#define NRANGES 400

static uint64_t snap_seq[NCHECK];

static uint64_t
rnd (uint64_t n)
{
  return (uint64_t) random () % n;
}

/* Run cmd in dir; it must exit 0. */
static void
run_in (const char *dir, const char *cmd)
{
  char *line;

  cr_assert_gt (asprintf (&line, "cd %s && %s", dir, cmd), 0);
  cr_assert_eq (system (line), 0, "%s", line);
  free (line);
}

static void
one_op (struct journal *j, int i, uint8_t *buf)
{
  uint64_t off, len;
  int kind;

  rt_random_extent (DISK_SIZE, &off, &len);
  kind = rnd (10);
  struct journal_record e = { .disk = 0, .offset = off, .length = len };

  if (kind < 6) {
    for (uint64_t k = 0; k < len; k++)
      buf[k] = (uint8_t) (i * 31 + k * 7 + 1) | 1;
    e.type = JOURNAL_WRITE;
    e.payload_len = len;
  }
  else
    e.type = kind < 8 ? JOURNAL_WRITE_ZEROES : JOURNAL_TRIM;
  cr_assert_eq (journal_append (j, &e, e.payload_len ? buf : NULL, NULL,
                                NULL), 0);
}

/* A journal of NOPS random records of disk 0, with its index. */
static void
make_history (const char *dir, struct cdp_index **ix,
              struct journal_reader **jr)
{
  char jdir[300], idir[300];
  struct journal_options o = { .segment_size = 8 << 20, .create = true };
  struct journal *j;
  uint8_t *buf = malloc (DISK_SIZE);

  snprintf (jdir, sizeof jdir, "%s/journal", dir);
  snprintf (idir, sizeof idir, "%s/index", dir);
  cr_assert_eq (journal_open (jdir, &o, &j), 0);
  for (int k = 0; k < NCHECK; k++) {
    for (int i = 0; i < EVERY; i++)
      one_op (j, k * EVERY + i, buf);
    journal_wait (j);
    snap_seq[k] = journal_last_seq (j);
  }
  journal_close (j);
  free (buf);
  cr_assert_eq (journal_reader_open (jdir, jr), 0);
  cr_assert_eq (index_open (idir, ix), 0);
  cr_assert_eq (index_catch_up (*ix, *jr), NOPS);
}

/* raw (sparse) <- q1 (64 KiB clusters) <- q2 (4 KiB clusters), with data,
 * zero clusters and discards at unaligned and cluster-crossing places. */
static const char *
make_base (const char *dir)
{
  static char top[300];

  run_in (dir, "truncate -s 2M b.raw && head -c 70000 /dev/urandom |"
          " dd of=b.raw bs=4096 seek=10000 oflag=seek_bytes conv=notrunc"
          " status=none && dd if=/dev/urandom of=b.raw bs=4096 seek=300"
          " count=40 conv=notrunc status=none");
  run_in (dir, "qemu-img create -q -f qcow2 -o cluster_size=65536"
          " -b b.raw -F raw q1.qcow2 2M && qemu-io -f qcow2"
          " -c 'write -P 7 600k 130k' -c 'write -z 1216k 128k'"
          " -c 'write -P 9 1400k 5k' -c 'discard 0 64k' q1.qcow2 >/dev/null");
  run_in (dir, "qemu-img create -q -f qcow2 -o cluster_size=4096"
          " -b q1.qcow2 -F qcow2 q2.qcow2 2M && qemu-io -f qcow2"
          " -c 'write -P 3 8k 12k' -c 'write -z 620k 20k'"
          " -c 'write -P 5 1230k 4k' -c 'discard 1300k 16k'"
          " -c 'write -z -u 1500k 36k' -c 'write -P 1 2040k 8k'"
          " q2.qcow2 >/dev/null");
  snprintf (top, sizeof top, "%s/q2.qcow2", dir);
  return top;
}

/* A random range: anywhere, 512- or 4096-aligned, or across a chunk. */
static void
random_range (uint64_t *off, uint64_t *len)
{
  int kind = rnd (4);

  if (kind == 0) {
    *off = rnd (DISK_SIZE);
    *len = 1 + rnd (300000);
  }
  else if (kind < 3) {
    uint64_t unit = kind == 1 ? 512 : 4096;
    *off = unit * rnd (DISK_SIZE / unit);
    *len = unit * (1 + rnd (100));
  }
  else {
    uint64_t edge = INDEX_CHUNK * (1 + rnd (DISK_SIZE / INDEX_CHUNK - 1));
    *off = edge - 1 - rnd (9000);
    *len = edge - *off + 1 + rnd (INDEX_CHUNK * 3);
  }
  if (*off + *len > DISK_SIZE)
    *len = DISK_SIZE - *off;
}

static int
no_pread (void *h, void *buf, uint64_t off, uint64_t len)
{
  cr_assert_fail ("block status read the base's data");
  return -EIO;
}

/* Both calls on [off, off+len) of p agree, and the holes read as zero;
 * block status runs without the journal and without the base's reads. */
static void
check_range (const struct point *p, uint8_t *buf, uint64_t off, uint64_t len)
{
  point_extent_vector want = empty_vector, got = empty_vector;
  struct point_base_ops no_data = *p->base;
  struct point q = *p;

  no_data.pread = no_pread;
  q.base = &no_data;
  q.jr = NULL;
  cr_assert_eq (point_pread (p, buf, off, len, &want), 0);
  cr_assert_eq (point_block_status (&q, off, len, &got), 0);
  cr_assert_eq (got.len, want.len, "range %#lx+%#lx: %zu holes, want %zu",
                (unsigned long) off, (unsigned long) len, got.len, want.len);
  for (size_t i = 0; i < want.len; i++) {
    cr_assert_eq (got.ptr[i].off, want.ptr[i].off);
    cr_assert_eq (got.ptr[i].len, want.ptr[i].len);
    cr_assert_geq (want.ptr[i].off, off);
    cr_assert_leq (want.ptr[i].off + want.ptr[i].len, off + len);
    for (uint64_t k = 0; k < want.ptr[i].len; k++)
      cr_assert_eq (buf[want.ptr[i].off - off + k], 0);
  }
  point_extent_vector_reset (&want);
  point_extent_vector_reset (&got);
}

static void
check_point (const struct point *p)
{
  uint8_t *buf = malloc (DISK_SIZE);
  point_extent_vector v = empty_vector;

  check_range (p, buf, 0, DISK_SIZE);
  for (int t = 0; t < NRANGES; t++) {
    uint64_t off, len;
    random_range (&off, &len);
    check_range (p, buf, off, len);
  }
  cr_assert_eq (point_block_status (p, DISK_SIZE - 10, 11, &v), -EINVAL);
  cr_assert_eq (point_block_status (p, UINT64_MAX, 2, &v), -EINVAL);
  cr_assert_eq (point_block_status (p, 100, 0, &v), 0);
  cr_assert_eq (v.len, 0);
  free (buf);
}

Test (recovery, block_status_matches_pread, .timeout = 240)
{
  char dir[] = "/var/tmp/cdp-bstest-XXXXXX";
  struct cdp_index *ix;
  struct journal_reader *jr;
  struct qcow2_chain *c;
  point_extent_vector v = empty_vector;

  srandom (7);
  cr_assert_not_null (mkdtemp (dir));
  make_history (dir, &ix, &jr);
  cr_assert_eq (qcow2_open (make_base (dir), &c), 0, "%s",
                cdp_get_error ());
  for (int k = 0; k < NCHECK; k++) {
    struct point p = { .ix = ix, .jr = jr, .disk = 0, .size = DISK_SIZE,
                       .seq = snap_seq[k], .base = &point_zero_base };
    check_point (&p);
    /* over the base point, with the records up to an earlier point in it */
    p.base = &qcow2_base_ops;
    p.base_h = c;
    p.base_seq = k > 0 ? snap_seq[k / 2] : 0;
    check_point (&p);
  }
  /* The base point with nothing over it: its own holes. */
  struct point b = { .ix = ix, .jr = jr, .disk = 0, .size = DISK_SIZE,
                     .seq = snap_seq[0], .base_seq = snap_seq[0],
                     .base = &qcow2_base_ops, .base_h = c };
  cr_assert_eq (point_block_status (&b, 0, DISK_SIZE, &v), 0);
  cr_assert_gt (v.len, 4);
  check_point (&b);
  point_extent_vector_reset (&v);
  qcow2_close (c);
  index_close (ix);
  journal_reader_close (jr);
  run_in (dir, "rm -rf -- \"$PWD\"");
}
