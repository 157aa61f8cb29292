/* maint_fold_now, in-process on a manual-mode task with its receiver:
 * a base point of the disk at its newest write appears in the catalog,
 * holding the disk as written; asked again with nothing written since,
 * none is added; later ones stand on the one before until the chain
 * reaches --max-chain, and the next is full again. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/daemon/daemon.h"
#include "recovery/history/qcow2.h"
#include "tests/daemon/daemon-test.h"

#define SIZE (1u << 20)
#define LEN (64u << 10)

static void
catalog (struct dt *d, struct base_catalog *c)
{
  char *dir = task_path (d->t, "base");

  cr_assert_eq (catalog_load (dir, false, c), 0);
  free (dir);
}

/* The newest base point of disk 0 is at seq, depth deep, and reads as
 * want. */
static const struct base_point *
check_newest (struct dt *d, struct base_catalog *c, size_t n, uint64_t seq,
              unsigned depth, const void *want)
{
  const struct base_point *bp;
  struct qcow2_chain *q;
  char *path;
  void *got = malloc (SIZE);

  catalog (d, c);
  cr_assert_eq (c->v.len, n, "%zu base points, not %zu", c->v.len, n);
  bp = catalog_find (c, 0, UINT64_MAX);
  cr_assert_not_null (bp);
  cr_assert_eq (bp->seq, seq);
  cr_assert_eq (bp->depth, depth);
  path = catalog_path (c, bp->file);
  cr_assert_eq (qcow2_open (path, &q), 0, "%s", cdp_get_error ());
  cr_assert_eq (qcow2_depth (q), depth);
  cr_assert_eq (qcow2_size (q), SIZE);
  cr_assert_eq (qcow2_pread (q, got, 0, SIZE), 0);
  cr_assert_eq (memcmp (got, want, SIZE), 0, "base point %s reads otherwise",
                bp->file);
  qcow2_close (q);
  free (path);
  free (got);
  return bp;
}

static void
write_at (struct dt *d, struct nbd_handle *h, unsigned char *disk,
          uint64_t off, unsigned seed)
{
  void *buf = dt_pattern (LEN, seed);

  cr_assert_eq (nbd_pwrite (h, buf, LEN, off, 0), 0, "%s", nbd_get_error ());
  memcpy (disk + off, buf, LEN);
  free (buf);
}

Test (maint_fold_now, base_points_in_the_catalog, .timeout = 120)
{
  struct dt d;
  struct maint *m;
  struct nbd_handle *h;
  struct base_catalog c1, c2, c3;
  const struct base_point *bp1, *bp2, *bp3;
  unsigned char *disk = calloc (1, SIZE);

  dt_task (&d, SIZE, 1u << 20);
  d.t->policy.max_chain = 2;
  dt_start (&d);
  h = dt_connect (&d);
  write_at (&d, h, disk, 0, 1);
  cr_assert_eq (maint_start (d.t, d.r, &m), 0);

  maint_fold_now (m);
  bp1 = check_newest (&d, &c1, 1, 1, 1, disk);
  cr_assert_str_eq (bp1->parent, "");
  maint_fold_now (m);                       /* nothing new: none added */
  catalog_free (&c1);
  bp1 = check_newest (&d, &c1, 1, 1, 1, disk);

  write_at (&d, h, disk, 256 << 10, 2);
  maint_fold_now (m);
  bp2 = check_newest (&d, &c2, 2, 2, 2, disk);
  cr_assert_str_eq (bp2->parent, bp1->file);

  write_at (&d, h, disk, 0, 3);             /* max chain 2: full again */
  maint_fold_now (m);
  bp3 = check_newest (&d, &c3, 3, 3, 1, disk);
  cr_assert_str_eq (bp3->parent, "");

  maint_stop (m);
  dt_disconnect (h);
  catalog_free (&c1);
  catalog_free (&c2);
  catalog_free (&c3);
  dt_teardown (&d);
  free (disk);
}
