/* Up to where the journal may be reclaimed: up to the point where the
 * base points of every disk cover the history (maint_covered_until),
 * not at all while a disk has no base point; the index then keeps what
 * the base points still need (maint_first_needed); and a kept point in
 * the reclaimed range first gets a base point of each disk it names
 * that has none at it (maint_kept_needs_fold).  A disk added to the task
 * after the limit (added_seq) has no history before it and holds
 * nothing back. */
#include <criterion/criterion.h>
#include <string.h>

#include "cdp/daemon/maint-policy.h"
#include "tests/daemon/daemon-test.h"

static struct task_disk two[] = {
  { .name = "vda", .id = 0, .size = 1 << 20 },
  { .name = "vdb", .id = 1, .size = 1 << 20 },
};
static const task_disk_vector disks = { .ptr = two, .len = 2, .cap = 2 };

/* Disk 0: base points at 10 (time 100) and 30 (300); disk 1: at 20 (200). */
static void
catalog (struct base_catalog *c)
{
  memset (c, 0, sizeof *c);
  dt_catalog_add (c, 0, 10, 100, "a", "");
  dt_catalog_add (c, 0, 30, 300, "b", "a");
  dt_catalog_add (c, 1, 20, 200, "x", "");
}

/* Which disks changed after their base point. */
static bool changed_disk[2];

static bool
changed (void *opaque, const struct task_disk *d, const struct base_point *bp,
         uint64_t seq)
{
  cr_assert_eq (bp->disk, d->id);
  cr_assert_eq (opaque, &disks);
  return changed_disk[d->id];
}

static uint64_t
covered (const struct base_catalog *c, uint64_t limit, int64_t limit_t,
         bool c0, bool c1)
{
  changed_disk[0] = c0;
  changed_disk[1] = c1;
  return maint_covered_until (c, &disks, limit, limit_t, changed,
                              (void *) &disks);
}

Test (maint_journal_reclaim, covered_until)
{
  struct base_catalog c;

  catalog (&c);
  cr_assert_eq (covered (&c, 50, 500, false, false), 50);
  cr_assert_eq (covered (&c, 50, 500, true, false), 30);
  cr_assert_eq (covered (&c, 50, 500, false, true), 20);
  cr_assert_eq (covered (&c, 50, 500, true, true), 20);
  /* At time 250 disk 0 stands on a (10), not on b. */
  cr_assert_eq (covered (&c, 25, 250, true, true), 10);
  cr_assert_eq (covered (&c, 25, 250, false, false), 25);
  /* Disk 1 has no base point by time 150: nothing may go. */
  cr_assert_eq (covered (&c, 15, 150, false, false), 0);
  catalog_free (&c);
}

Test (maint_journal_reclaim, first_needed)
{
  struct base_catalog c;

  catalog (&c);
  cr_assert_eq (maint_first_needed (&c, &disks, 25, 5), 10);
  cr_assert_eq (maint_first_needed (&c, &disks, 25, 15), 15);
  cr_assert_eq (maint_first_needed (&c, &disks, 40, 5), 20);
  cr_assert_eq (maint_first_needed (&c, &disks, 12, 5), 5,
                "disk 1 has no base point by 12: the journal's first");
  catalog_free (&c);
}

Test (maint_journal_reclaim, kept_points_folded_first)
{
  struct base_catalog c;
  struct kept lock = { 25, 250, UINT32_MAX }, mark0 = { 30, 300, 0 };
  struct kept mark1 = { 30, 300, 1 };

  catalog (&c);
  cr_assert (maint_kept_needs_fold (&c, &lock, 0, 5, 40));
  cr_assert (maint_kept_needs_fold (&c, &lock, 1, 5, 40));
  cr_assert_not (maint_kept_needs_fold (&c, &lock, 0, 26, 40), "reclaimed");
  cr_assert_not (maint_kept_needs_fold (&c, &lock, 0, 5, 24), "not reclaimed");
  cr_assert (maint_kept_needs_fold (&c, &lock, 0, 25, 25));
  /* A bookmark of disk 0 at b's seq: b is there already; disk 1 is not
   * named. */
  cr_assert_not (maint_kept_needs_fold (&c, &mark0, 0, 5, 40));
  cr_assert_not (maint_kept_needs_fold (&c, &mark0, 1, 5, 40));
  cr_assert (maint_kept_needs_fold (&c, &mark1, 1, 5, 40));
  cr_assert_not (maint_kept_needs_fold (&c, &mark1, 0, 5, 40));
  catalog_free (&c);
}

Test (maint_journal_reclaim, disk_added_later)
{
  struct base_catalog c;
  struct task_disk three[] = {
    two[0], two[1], { .name = "vdc", .id = 2, .size = 1 << 20,
                      .added_seq = 40 } };
  task_disk_vector v = { .ptr = three, .len = 3, .cap = 3 };

  catalog (&c);
  changed_disk[0] = changed_disk[1] = false;
  /* vdc has no base point, but no history before 40 either. */
  cr_assert_eq (maint_covered_until (&c, &v, 35, 350, changed, (void *) &disks), 35);
  cr_assert_eq (maint_first_needed (&c, &v, 25, 5), 10);
  /* Past its addition it needs its base point like any other. */
  cr_assert_eq (maint_covered_until (&c, &v, 50, 500, changed, (void *) &disks), 0);
  cr_assert_eq (maint_first_needed (&c, &v, 45, 5), 5);
  catalog_free (&c);
}
