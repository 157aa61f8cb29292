/* cdp: CRC32C with an SSE4.2 path and a table-driven fallback.
 *
 * The SSE4.2 path runs three independent crc32 streams over three
 * adjacent blocks (the instruction's latency is three times its
 * throughput, so one stream leaves two thirds of it idle) and joins
 * them: for the raw (not inverted) CRC register, running over a block B
 * of n bytes from state s gives  crc(s, B) = Z_n(s) ^ crc(0, B),  where
 * Z_n, the effect of n zero bytes, is linear over GF(2).  So
 *   crc(s, A B C) = Z_n(Z_n(crc(s, A)) ^ crc(0, B)) ^ crc(0, C)
 * with Z_n applied as four table lookups (one per byte of the state).
 * Tables for n = LONG_BLOCK and SHORT_BLOCK are built once, from the
 * images of the 32 single-bit states.
 */
#include "common/crc32c.h"

#include <pthread.h>
#include <string.h>

#define POLY 0x82f63b78u
#define LONG_BLOCK 8192u
#define SHORT_BLOCK 256u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

/* Z_n for n = LONG_BLOCK and SHORT_BLOCK, one table per state byte. */
static uint32_t zeros_long[4][256];
static uint32_t zeros_short[4][256];
static pthread_once_t zeros_once = PTHREAD_ONCE_INIT;

static void
make_tables (void)
{
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
    table[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++)
      table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

/* The raw register after len bytes of p, from crc (no inversion). */
static uint32_t
crc32c_sw (uint32_t crc, const unsigned char *p, size_t len)
{
  pthread_once (&table_once, make_tables);
  while (len >= 8) {
    uint64_t w;
    memcpy (&w, p, 8);
    w ^= crc;
    crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^
      table[5][(w >> 16) & 0xff] ^ table[4][(w >> 24) & 0xff] ^
      table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
      table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
    p += 8;
    len -= 8;
  }
  while (len--)
    crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
  return crc;
}

/* Fill z with Z_n: z[k][v] is the state after n zero bytes from the
 * state v << 8k.  By linearity it is the XOR of the images of v's bits. */
static void
make_zeros (uint32_t z[4][256], size_t n)
{
  static const unsigned char zero[LONG_BLOCK];
  uint32_t img[32];

  for (int b = 0; b < 32; b++)
    img[b] = crc32c_sw (1u << b, zero, n);
  for (int k = 0; k < 4; k++)
    for (uint32_t v = 0; v < 256; v++) {
      uint32_t c = 0;
      for (int b = 0; b < 8; b++)
        if (v & (1u << b))
          c ^= img[8 * k + b];
      z[k][v] = c;
    }
}

static void
make_zeros_tables (void)
{
  make_zeros (zeros_long, LONG_BLOCK);
  make_zeros (zeros_short, SHORT_BLOCK);
}

static inline uint32_t
shift (const uint32_t z[4][256], uint32_t c)
{
  return z[0][c & 0xff] ^ z[1][(c >> 8) & 0xff] ^ z[2][(c >> 16) & 0xff] ^
    z[3][c >> 24];
}

#if defined(__x86_64__)
#include <nmmintrin.h>

static inline uint64_t
load64 (const unsigned char *p)
{
  uint64_t w;

  memcpy (&w, p, 8);
  return w;
}

/* Three streams over the three blocks of n bytes at p; returns the raw
 * register after all 3n bytes, from c. */
__attribute__ ((target ("sse4.2")))
static inline uint32_t
crc32c_3way (uint64_t c0, const unsigned char *p, size_t n,
             const uint32_t z[4][256])
{
  const unsigned char *end = p + n;
  uint64_t c1 = 0, c2 = 0;

  do {
    c0 = _mm_crc32_u64 (c0, load64 (p));
    c1 = _mm_crc32_u64 (c1, load64 (p + n));
    c2 = _mm_crc32_u64 (c2, load64 (p + 2 * n));
    p += 8;
  } while (p < end);
  c0 = shift (z, (uint32_t) c0) ^ (uint32_t) c1;
  return shift (z, (uint32_t) c0) ^ (uint32_t) c2;
}

__attribute__ ((target ("sse4.2")))
static uint32_t
crc32c_hw (uint32_t crc, const unsigned char *p, size_t len)
{
  uint64_t c = crc;

  while (len && ((uintptr_t) p & 7)) {
    c = _mm_crc32_u8 ((uint32_t) c, *p++);
    len--;
  }
  if (len >= 3 * SHORT_BLOCK)
    pthread_once (&zeros_once, make_zeros_tables);
  for (; len >= 3 * LONG_BLOCK; p += 3 * LONG_BLOCK, len -= 3 * LONG_BLOCK)
    c = crc32c_3way (c, p, LONG_BLOCK, zeros_long);
  for (; len >= 3 * SHORT_BLOCK; p += 3 * SHORT_BLOCK, len -= 3 * SHORT_BLOCK)
    c = crc32c_3way (c, p, SHORT_BLOCK, zeros_short);
  for (; len >= 8; p += 8, len -= 8)
    c = _mm_crc32_u64 (c, load64 (p));
  while (len--)
    c = _mm_crc32_u8 ((uint32_t) c, *p++);
  return (uint32_t) c;
}
#endif

uint32_t
crc32c_extend (uint32_t crc, const void *buf, size_t len)
{
  crc = ~crc;
#if defined(__x86_64__)
  if (__builtin_cpu_supports ("sse4.2"))
    crc = crc32c_hw (crc, buf, len);
  else
#endif
    crc = crc32c_sw (crc, buf, len);
  return ~crc;
}

uint32_t
crc32c_extend_portable (uint32_t crc, const void *buf, size_t len)
{
  return ~crc32c_sw (~crc, buf, len);
}
