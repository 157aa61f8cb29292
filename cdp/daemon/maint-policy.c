/* cdp: the maintenance thread's decisions (maint-policy.h), apart from
 * the I/O of maint.c that carries them out. */
#include "cdp/daemon/maint-policy.h"

bool
maint_is_kept (const kept_vector *k, uint64_t seq)
{
  for (size_t i = 0; i < k->len; i++)
    if (k->ptr[i].seq == seq)
      return true;
  return false;
}

/* ---- base points --------------------------------------------------------- */

bool
maint_fold_due (const struct base_point *bp, uint64_t seq, int64_t now,
                bool force, int64_t bp_interval)
{
  if (bp && bp->seq >= seq)
    return false;
  if (!force && bp && now - bp->time_ns < bp_interval)
    return false;
  return true;
}

bool
maint_retention_drops (const struct base_catalog *cat, size_t i,
                       int64_t before, const kept_vector *k, uint64_t first)
{
  const struct base_point *p = &cat->v.ptr[i];
  const struct base_point *newest = catalog_find (cat, p->disk, UINT64_MAX);

  return p->time_ns < before &&
         newest != p && !maint_is_kept (k, p->seq) && first > p->seq + 1 &&
         catalog_find (cat, p->disk, first - 1) != p;
}

bool
maint_leaf_deletable (const struct base_catalog *cat, size_t i,
                      const kept_vector *k)
{
  struct base_point p = cat->v.ptr[i];

  return !(catalog_find (cat, p.disk, UINT64_MAX) == &cat->v.ptr[i] ||
           maint_is_kept (k, p.seq) || catalog_children (cat, p.file) > 0);
}

/* ---- journal reclaim -------------------------------------------------------- */

uint64_t
maint_covered_until (const struct base_catalog *cat,
                     const task_disk_vector *disks, uint64_t limit,
                     int64_t limit_t, maint_changed_fn changed, void *opaque)
{
  uint64_t keep = limit;

  for (size_t i = 0; i < disks->len; i++) {
    const struct task_disk *d = &disks->ptr[i];
    const struct base_point *bp = catalog_find_time (cat, d->id, limit_t);
    if (d->added_seq > limit)       /* added later: no history before */
      continue;
    if (bp == NULL)
      return 0;
    if (changed (opaque, d, bp, limit) && bp->seq < keep)
      keep = bp->seq;
  }
  return keep;
}

/* The oldest record the index must keep once the journal before keep
 * + 1 is reclaimed.  A point of a disk at seq S >= keep stands on that
 * disk's base point at or before keep (or a newer one), and reads the
 * records after it; the base point's own record stays too, since a time
 * between it and the next record resolves to it.  A point older than
 * keep would need records the reclaimed segments took, or is a base
 * point or kept point of its own.  The segment holding keep + 1 also
 * holds older records, which no point reads: the index forgets them
 * with the segments reclaimed, so that it offers no second the journal
 * cannot serve. */
uint64_t
maint_first_needed (const struct base_catalog *cat,
                    const task_disk_vector *disks, uint64_t keep,
                    uint64_t first)
{
  uint64_t need = keep;

  for (size_t i = 0; i < disks->len; i++) {
    const struct base_point *bp = catalog_find (cat, disks->ptr[i].id, keep);
    if (disks->ptr[i].added_seq > keep)   /* added later: needs none */
      continue;
    if (bp == NULL)
      return first;
    if (bp->seq < need)
      need = bp->seq;
  }
  return need > first ? need : first;
}

bool
maint_kept_needs_fold (const struct base_catalog *cat, const struct kept *kp,
                       uint32_t disk, uint64_t first, uint64_t upto)
{
  const struct base_point *bp;

  if (kp->seq < first || kp->seq > upto)
    return false;
  bp = catalog_find (cat, disk, kp->seq);
  return (kp->disk == UINT32_MAX || kp->disk == disk) &&
         (bp == NULL || bp->seq != kp->seq);
}

/* ---- space ------------------------------------------------------------------- */

bool
maint_space_low (uint64_t avail, uint64_t size, uint64_t disks)
{
  uint64_t reserve;

  reserve = size / 10;
  if (reserve > (8ull << 30))
    reserve = 8ull << 30;
  if (reserve < (16ull << 20) + disks / 2)
    reserve = (16ull << 20) + disks / 2;
  return avail < reserve;
}

bool
maint_fold_for_space (uint64_t journal_bytes, uint64_t avail)
{
  return journal_bytes > avail / 2;
}

bool
maint_fail_held (bool full, bool freed)
{
  return full && !freed;
}
