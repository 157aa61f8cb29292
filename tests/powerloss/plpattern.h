/* The pattern of the power-loss test's writes: a 4 KiB block written by
 * request ID at block BLK holds ID and BLK (u64, little-endian), then
 * 510 times the u64 ID * 0x9e3779b97f4a7c15 ^ BLK.  check.py rebuilds
 * it to tell which request a block of a point holds. */
#ifndef CDP_PLPATTERN_H
#define CDP_PLPATTERN_H

#include <stdint.h>
#include <string.h>

#define PL_BLOCK 4096

static inline void
pl_put64 (char *p, uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (char) (v >> (8 * i));
}

static inline void
pl_block (char *buf, uint64_t id, uint64_t blk)
{
  uint64_t fill = id * 0x9e3779b97f4a7c15ULL ^ blk;

  pl_put64 (buf, id);
  pl_put64 (buf + 8, blk);
  for (int i = 2; i < PL_BLOCK / 8; i++)
    pl_put64 (buf + 8 * i, fill);
}

#endif
