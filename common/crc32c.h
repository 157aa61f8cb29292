/* cdp: CRC32C (Castagnoli), hardware accelerated where the CPU has SSE4.2.
 *
 * crc32c_extend (crc, buf, len) continues a running CRC; start with 0.
 * crc32c (buf, len) == crc32c_extend (0, buf, len).
 * crc32c_extend_portable is the table-driven path the others fall back
 * to on CPUs without SSE4.2, callable anywhere (for tests).
 * All are thread-safe.
 */
#ifndef CDP_CRC32C_H
#define CDP_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c_extend (uint32_t crc, const void *buf, size_t len);
uint32_t crc32c_extend_portable (uint32_t crc, const void *buf, size_t len);

static inline uint32_t
crc32c (const void *buf, size_t len)
{
  return crc32c_extend (0, buf, len);
}

#endif
