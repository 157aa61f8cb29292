/* What maintenance does about space: the store is low when less is
 * free than a tenth of its file system (at most 8 GiB) and never less
 * than room for a fold (16 MiB and half the disks' size); the journal
 * is folded early once it outgrows half the free space; writes held
 * for a full journal fail only when nothing could be freed. */
#include <criterion/criterion.h>

#include "cdp/daemon/maint-policy.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static void
threshold (uint64_t fs, uint64_t disks, uint64_t reserve)
{
  cr_assert (maint_space_low (reserve - 1, fs, disks),
             "fs %llu disks %llu: %llu free is low", (unsigned long long) fs,
             (unsigned long long) disks, (unsigned long long) reserve - 1);
  cr_assert_not (maint_space_low (reserve, fs, disks),
                 "fs %llu disks %llu: %llu free is not low",
                 (unsigned long long) fs, (unsigned long long) disks,
                 (unsigned long long) reserve);
}

Test (maint_space_low, reserve)
{
  threshold (1000 * MiB, 64 * MiB, 100 * MiB);          /* a tenth */
  threshold (100 * GiB, 10 * GiB, 8 * GiB);             /* at most 8 GiB */
  threshold (48 * MiB, 8 * MiB, 20 * MiB);              /* room for a fold */
  threshold (1024 * GiB, 40 * GiB, 16 * MiB + 20 * GiB);
  threshold (0, 0, 16 * MiB);
}

Test (maint_space_low, unknown_is_not_low)
{
  /* statvfs failed: maint.c reads UINT64_MAX free. */
  cr_assert_not (maint_space_low (UINT64_MAX, 0, 1024 * GiB));
  cr_assert_not (maint_fold_for_space (UINT64_MAX / 2, UINT64_MAX));
}

Test (maint_space_low, fold_early)
{
  cr_assert_not (maint_fold_for_space (0, 0));
  cr_assert_not (maint_fold_for_space (50 * MiB, 100 * MiB));
  cr_assert (maint_fold_for_space (50 * MiB + 1, 100 * MiB));
  cr_assert (maint_fold_for_space (1, 0));
}

Test (maint_space_low, held_writes)
{
  cr_assert (maint_fail_held (true, false), "full, nothing freed: fail");
  cr_assert_not (maint_fail_held (true, true), "full, space freed: retry");
  cr_assert_not (maint_fail_held (false, false));
  cr_assert_not (maint_fail_held (false, true));
}
