/* cdp recovery: a disk as it was at one point of its history.
 *
 * A point is (disk, seq): every record of the disk with a sequence
 * number <= seq, on top of a base (the all-zero disk, or a base point
 * image) that holds everything up to base_seq.  Reads resolve through
 * the index and read payloads from the journal directly.  Thread-safe
 * once opened.
 */
#ifndef CDP_POINT_H
#define CDP_POINT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/vector.h"
#include "journal/journal.h"
#include "recovery/history/index.h"

/* Called with a range that reads as zero and holds no data.  Return 0
 * to go on, anything else to stop with that value. */
typedef int (*point_hole_fn) (void *opaque, uint64_t off, uint64_t len);

/* What lies under the journal: reads of the base and its allocation. */
struct point_base_ops {
  /* Fill buf with [off, off+len) of the base.  0 or -errno. */
  int (*pread) (void *h, void *buf, uint64_t off, uint64_t len);
  /* Is [off, off+len) of the base unallocated (reads as zero)? */
  bool (*is_hole) (void *h, uint64_t off, uint64_t len);
  /* Optional: call fn, in order, for the unallocated ranges of [off,
   * off+len) of the base, from its allocation metadata only (no data is
   * read).  0, fn's non-zero return, or -errno.  Without it a range is
   * a hole only if is_hole says all of it is. */
  int (*holes) (void *h, uint64_t off, uint64_t len, point_hole_fn fn,
                void *opaque);
};

/* The all-zero base of a disk that has no base point yet. */
extern const struct point_base_ops point_zero_base;

struct point {
  struct cdp_index *ix;
  struct journal_reader *jr;
  uint32_t disk;
  uint64_t size;
  uint64_t seq;
  uint64_t base_seq;
  uint64_t base_size;           /* the base's own size, when the disk grew
                                   since its base point: the base reads as
                                   zero past it; 0: size */
  const struct point_base_ops *base;
  void *base_h;
};

/* A byte range that reads as zeroes and holds no data (for NBD holes). */
struct point_extent {
  uint64_t off;
  uint64_t len;
};
DEFINE_VECTOR_TYPE (point_extent_vector, struct point_extent)

/* Read [off, off+len) of the point into buf.  If holes is not NULL, the
 * ranges that are zero because nothing was written there (or they were
 * trimmed or zeroed) are appended to it, in order.  Errors: -EINVAL
 * (range past the end), -EIO, -ESTALE (the journal was reclaimed under
 * the point), -EUCLEAN.  The thread's error (common/error.h) is cleared
 * first, then set by the journal, index or base read that failed, where
 * that one sets it. */
int point_pread (const struct point *p, void *buf, uint64_t off,
                 uint64_t len, point_extent_vector *holes);

/* After point_pread or point_block_status failed, on the same thread:
 * the read that failed, the journal's (journal_last_damage says more
 * about -EUCLEAN) or the base's (basesum_last_damage). */
enum point_source { POINT_SRC_NONE, POINT_SRC_JOURNAL, POINT_SRC_BASE };
enum point_source point_last_failure (void);

/* The holes of [off, off+len) of the point, as point_pread would report
 * them, without reading any data: from the index's pieces and the base's
 * allocation only.  Appends to holes in order.  Errors as point_pread,
 * except that the journal is not touched: a point whose journal was
 * reclaimed under it (-ESTALE) is noticed by its reads, not here; a
 * damaged base (-EUCLEAN) only where its allocation metadata is. */
int point_block_status (const struct point *p, uint64_t off, uint64_t len,
                        point_extent_vector *holes);

#endif
