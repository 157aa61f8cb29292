/* When maintenance makes a new base point of a disk (maint_fold_due):
 * when the disk has none; when its newest is older than --bp-interval;
 * sooner only when forced (cdp fold, a store low on space); never when
 * the newest holds the point already, forced or not. */
#include <criterion/criterion.h>

#include "cdp/daemon/maint-policy.h"

#define S 1000000000LL
#define INTERVAL (20 * 60 * S)

static const struct base_point bp = { .disk = 0, .seq = 100,
                                      .time_ns = 1000 * S };

Test (maint_fold_due, first_base_point)
{
  cr_assert (maint_fold_due (NULL, 1, 0, false, INTERVAL));
  cr_assert (maint_fold_due (NULL, 1, 0, true, INTERVAL));
}

Test (maint_fold_due, by_interval)
{
  int64_t t = bp.time_ns;

  cr_assert_not (maint_fold_due (&bp, 101, t + 1, false, INTERVAL));
  cr_assert_not (maint_fold_due (&bp, 500, t + INTERVAL - 1, false, INTERVAL));
  cr_assert (maint_fold_due (&bp, 101, t + INTERVAL, false, INTERVAL));
  cr_assert (maint_fold_due (&bp, 101, t + 10 * INTERVAL, false, INTERVAL));
  /* A clock set back: younger than the interval. */
  cr_assert_not (maint_fold_due (&bp, 101, t - S, false, INTERVAL));
  cr_assert (maint_fold_due (&bp, 101, t, false, 0));
}

Test (maint_fold_due, forced)
{
  cr_assert (maint_fold_due (&bp, 101, bp.time_ns + 1, true, INTERVAL));
  cr_assert (maint_fold_due (&bp, 101, bp.time_ns - S, true, INTERVAL));
}

Test (maint_fold_due, never_when_the_point_is_held)
{
  int64_t late = bp.time_ns + 10 * INTERVAL;

  cr_assert_not (maint_fold_due (&bp, 100, late, false, INTERVAL));
  cr_assert_not (maint_fold_due (&bp, 100, late, true, INTERVAL));
  cr_assert_not (maint_fold_due (&bp, 99, late, true, INTERVAL));
}
