/* Helpers shared by the recovery tests. */
#ifndef CDP_RECOVERY_TEST_H
#define CDP_RECOVERY_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* The range of a random record on a disk of size bytes: 512-byte
 * aligned (three in four) or not, up to 150000 bytes, often crossing
 * 64 KiB index chunks.  Drawn with random(). */
static inline void
rt_random_extent (uint64_t size, uint64_t *off, uint64_t *len)
{
  bool aligned = random () % 4 != 0;

  *len = aligned ? 512 * (1 + (uint64_t) random () % 300)
                 : 1 + (uint64_t) random () % 150000;
  *off = aligned ? 512 * ((uint64_t) random () % (size / 512))
                 : (uint64_t) random () % size;
  if (*off + *len > size)
    *len = size - *off;
  if (*len == 0) {
    *len = 1;
    *off = size - 1;
  }
}

#endif
