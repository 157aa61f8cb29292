/* CRC32C, both the accelerated and the portable path, equals a bitwise
 * reference on random lengths, offsets, starting CRCs and split points,
 * and on the standard check value. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/crc32c.h"

#define MAXLEN (200u << 10)

/* One bit at a time, straight from the definition. */
static uint32_t
crc32c_bitwise (uint32_t crc, const uint8_t *p, size_t len)
{
  crc = ~crc;
  while (len--) {
    crc ^= *p++;
    for (int k = 0; k < 8; k++)
      crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
  }
  return ~crc;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t
next (void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t) (rng >> 16);
}

static uint8_t *
random_buffer (size_t len)
{
  uint8_t *b = malloc (len);

  cr_assert_not_null (b);
  for (size_t i = 0; i < len; i++)
    b[i] = (uint8_t) next ();
  return b;
}

/* A length that covers every path: short tails, the 3 x 256 and the
 * 3 x 8192 blocks, and around their edges. */
static size_t
random_length (void)
{
  static const size_t edge[] = { 768, 24576 };

  switch (next () % 4) {
  case 0: return next () % 64;
  case 1: return next () % 4096;
  case 2: return edge[next () % 2] + next () % 17 - 8;
  default: return next () % (MAXLEN - 64);
  }
}

Test (crc32c, check_value)
{
  cr_assert_eq (crc32c ("123456789", 9), 0xe3069283u);
  cr_assert_eq (crc32c_extend_portable (0, "123456789", 9), 0xe3069283u);
  cr_assert_eq (crc32c ("", 0), 0);
}

Test (crc32c, matches_bitwise_reference)
{
  uint8_t *buf = random_buffer (MAXLEN);

  for (int i = 0; i < 3000; i++) {
    size_t off = next () % 64, len = random_length ();
    uint32_t start = i % 3 ? next () : 0;
    uint32_t want = crc32c_bitwise (start, buf + off, len);

    cr_assert_eq (crc32c_extend (start, buf + off, len), want,
                  "len %zu off %zu start %08x", len, off, start);
    cr_assert_eq (crc32c_extend_portable (start, buf + off, len), want,
                  "portable: len %zu off %zu start %08x", len, off, start);
  }
  free (buf);
}

Test (crc32c, extend_in_pieces_equals_whole)
{
  uint8_t *buf = random_buffer (MAXLEN);

  for (int i = 0; i < 500; i++) {
    size_t off = next () % 64, len = random_length ();
    size_t cut = len ? next () % len : 0;
    uint32_t whole = crc32c (buf + off, len);
    uint32_t part = crc32c_extend (crc32c (buf + off, cut), buf + off + cut,
                                   len - cut);

    cr_assert_eq (part, whole, "len %zu cut at %zu", len, cut);
  }
  free (buf);
}
