/* cdp recovery: folding the journal into base points, and opening points
 * that read through them.
 *
 * fold_disk makes a base point of one disk at one seq: an overlay on the
 * newest base point before it holding every 64 KiB cluster that records
 * after that base point changed (written or zeroed), or a full image when
 * there is no base yet or the chain would grow past max_chain.  It reads
 * the point through cdp's own resolver and writes with QEMU's tools
 * (recovery/history/imgwrite.h), so `qemu-img check` holds for every
 * base point.
 * It may run while the receiver appends: it reads only records <= seq.
 */
#ifndef CDP_FOLD_H
#define CDP_FOLD_H

#include <stdint.h>

#include "recovery/history/basepoint.h"
#include "recovery/history/index.h"
#include "recovery/history/point.h"

struct fold_source {
  struct cdp_index *ix;
  struct journal_reader *jr;
  struct base_catalog *cat;         /* updated and saved by fold_disk */
};

struct fold_stats {
  uint64_t bytes_written;           /* data written into the image */
  uint64_t bytes_zeroed;
  uint64_t ranges;
};

/* Make the base point (disk, seq); t is the time of record seq.  Returns
 * 0 (also when it exists already), or -errno with the thread's error set
 * (common/error.h). */
int fold_disk (const struct fold_source *s, uint32_t disk, uint64_t size,
               uint64_t seq, int64_t t, unsigned max_chain,
               struct fold_stats *st);

/* Open the point (disk, seq) on the newest base point at or before seq
 * (the zero disk if none).  0, or -errno with the thread's error set.
 * point_close releases the base. */
int point_open (struct cdp_index *ix, struct journal_reader *jr,
                const struct base_catalog *cat, uint32_t disk, uint64_t size,
                uint64_t seq, struct point *p);
void point_close (struct point *p);

#endif
