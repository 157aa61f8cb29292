/* cdp/daemon: the decisions of the maintenance thread (maint.c) apart
 * from the I/O that carries them out: when a base point is due, which
 * base points retention and a store low on space may remove, up to
 * where the journal may be reclaimed, when space is low.  Pure
 * functions of the catalog, the points kept, the journal's bounds and
 * the file system's figures; any thread. */
#ifndef CDP_MAINT_POLICY_H
#define CDP_MAINT_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "cdp/task/task.h"

/* A point kept past every retention: a locked point, or a bookmark. */
struct kept {
  uint64_t seq;
  int64_t time;
  uint32_t disk;                    /* UINT32_MAX: every disk */
};
DEFINE_VECTOR_TYPE (kept_vector, struct kept)

bool maint_is_kept (const kept_vector *k, uint64_t seq);

/* ---- base points --------------------------------------------------------- */

/* Is a new base point of a disk due at the point seq (time now), bp
 * being its newest (NULL: none)?  Not when bp holds seq already; when
 * bp is younger than bp_interval, only if forced.  (Whether the disk
 * changed since bp is the caller's to ask: that reads the index.) */
bool maint_fold_due (const struct base_point *bp, uint64_t seq, int64_t now,
                     bool force, int64_t bp_interval);

/* May retention remove base point i of cat, made before `before`?  Not
 * the newest of its disk, not kept, and not the base the journal's
 * oldest records (from first on) stand on. */
bool maint_retention_drops (const struct base_catalog *cat, size_t i,
                            int64_t before, const kept_vector *k,
                            uint64_t first);

/* May a store low on space delete base point i without a rebase?  One
 * nothing stands on, neither kept nor the newest of its disk. */
bool maint_leaf_deletable (const struct base_catalog *cat, size_t i,
                           const kept_vector *k);

/* ---- journal reclaim -------------------------------------------------------- */

/* Did disk d change in (bp->seq, seq]?  (maint.c asks the index.) */
typedef bool (*maint_changed_fn) (void *opaque, const struct task_disk *d,
                                  const struct base_point *bp, uint64_t seq);

/* The newest seq <= limit (the point of time limit_t) up to which base
 * points of every disk cover the history: nothing of the disk changed
 * after its base point.  0: a disk has no base point by then.  The
 * journal up to it may be reclaimed. */
uint64_t maint_covered_until (const struct base_catalog *cat,
                              const task_disk_vector *disks, uint64_t limit,
                              int64_t limit_t, maint_changed_fn changed,
                              void *opaque);

/* The oldest record the index must keep once the journal before
 * keep + 1 is reclaimed, first being the journal's oldest (why: see
 * maint-policy.c). */
uint64_t maint_first_needed (const struct base_catalog *cat,
                             const task_disk_vector *disks, uint64_t keep,
                             uint64_t first);

/* Before the journal in [first, upto] is reclaimed, must kept point kp
 * get a base point of disk?  When it lies in that range, names that
 * disk (or every disk), and has none at its very seq. */
bool maint_kept_needs_fold (const struct base_catalog *cat,
                            const struct kept *kp, uint32_t disk,
                            uint64_t first, uint64_t upto);

/* ---- space ------------------------------------------------------------------- */

/* Is the store low on space: avail bytes left of a file system of
 * fs_size bytes, for disks of disks_bytes in all?  It keeps room for a
 * fold (up to half the disks' size) and a tenth of the file system (at
 * most 8 GiB). */
bool maint_space_low (uint64_t avail, uint64_t fs_size, uint64_t disks_bytes);

/* Fold early: the journal (journal_bytes) outgrows the free space. */
bool maint_fold_for_space (uint64_t journal_bytes, uint64_t avail);

/* Writes held for a full journal: failed (true) when the store was
 * full and nothing could be freed, else appended again. */
bool maint_fail_held (bool full, bool freed);

#endif
