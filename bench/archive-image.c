/* archive-image: a disk image that looks like a used VM disk, for the
 * archive benchmark (bench/archive.sh).
 *
 *   archive-image [--seed S] SIZE FILE
 *
 * All zeros would make every archiver look infinitely fast, all random
 * data would make compression look useless; a used disk is neither.
 * The image is a sequence of extents of 64 KiB to 8 MiB (multiples of
 * 4 KiB, uniformly drawn), each of one kind, drawn with these weights:
 *
 *   text    40%  lines of 4 to 16 words drawn from a vocabulary of 4096
 *                words of 1 to 12 lowercase letters: logs, sources,
 *                configuration (zstd -1 keeps about 37% of it)
 *   random  35%  pseudo-random bytes: compressed files, media, encrypted
 *                data (nothing compresses it)
 *   zero    25%  free space, left as a hole in FILE
 *
 * so about 40/35/25% of the bytes, with whole 4 MiB chunks of zeros
 * where zero extents meet.  Everything follows from the seed: the same
 * seed gives the same image.  FILE is created (replaced) sparse, written
 * and fsynced.  Prints the bytes of each kind, as key=value. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLK 4096u
#define MIN_EXTENT (64u << 10)
#define MAX_EXTENT (8u << 20)
#define WORDS 4096u
#define WORD_MAX 12u

enum kind { TEXT, RANDOM, ZERO, NKINDS };
static const unsigned weight[NKINDS] = { 40, 35, 25 };
static const char *const kind_name[NKINDS] = { "text", "random", "zero" };

static void __attribute__ ((noreturn, format (printf, 1, 2)))
die (const char *fmt, ...)
{
  va_list ap;

  fputs ("archive-image: ", stderr);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  exit (1);
}

static uint64_t
size_arg (const char *s)
{
  char *end;
  uint64_t v;

  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno || end == s)
    die ("bad size '%s'", s);
  switch (*end) {
  case 'k': case 'K': v <<= 10; end++; break;
  case 'm': case 'M': v <<= 20; end++; break;
  case 'g': case 'G': v <<= 30; end++; break;
  }
  if (*end || v == 0 || v % BLK)
    die ("bad size '%s' (a multiple of 4 KiB, with K, M or G)", s);
  return v;
}

/* xorshift64*: fast, and the same sequence from the same seed. */
static uint64_t
rnd (uint64_t *s)
{
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 2685821657736338717ull;
}

struct vocab {
  char word[WORDS][WORD_MAX];
  uint8_t len[WORDS];
};

static void
make_vocab (struct vocab *v, uint64_t *s)
{
  for (unsigned i = 0; i < WORDS; i++) {
    v->len[i] = (uint8_t) (1 + rnd (s) % WORD_MAX);
    for (unsigned j = 0; j < v->len[i]; j++)
      v->word[i][j] = (char) ('a' + rnd (s) % 26);
  }
}

/* Text into buf[0, len): words and lines, cut off at len. */
static void
fill_text (uint8_t *buf, size_t len, const struct vocab *v, uint64_t *s)
{
  size_t i = 0;

  while (i < len) {
    unsigned words = 4 + (unsigned) (rnd (s) % 13);
    for (unsigned w = 0; w < words && i < len; w++) {
      /* Frequent words and rare ones, roughly as in prose (Zipf). */
      uint64_t r = rnd (s);
      unsigned k = (unsigned) ((r >> 32) % (1 + (r & 0xffffffff) % WORDS));
      unsigned n = v->len[k];
      for (unsigned j = 0; j < n && i < len; j++)
        buf[i++] = (uint8_t) v->word[k][j];
      if (i < len)
        buf[i++] = w + 1 < words ? ' ' : '\n';
    }
  }
}

static void
fill_random (uint8_t *buf, size_t len, uint64_t *s)
{
  for (size_t i = 0; i < len; i += 8) {
    uint64_t r = rnd (s);
    memcpy (buf + i, &r, len - i < 8 ? len - i : 8);
  }
}

static enum kind
draw_kind (uint64_t *s)
{
  unsigned total = 0, r;

  for (int k = 0; k < NKINDS; k++)
    total += weight[k];
  r = (unsigned) (rnd (s) % total);
  for (int k = 0; k < NKINDS; k++) {
    if (r < weight[k])
      return (enum kind) k;
    r -= weight[k];
  }
  return ZERO;
}

static void
write_all (int fd, const uint8_t *buf, size_t len, uint64_t off, const char *file)
{
  while (len > 0) {
    ssize_t n = pwrite (fd, buf, len, (off_t) off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      die ("cannot write %s: %s", file, n < 0 ? strerror (errno) : "short write");
    buf += n;
    len -= (size_t) n;
    off += (uint64_t) n;
  }
}

int
main (int argc, char **argv)
{
  static const struct option opts[] = {
    { "seed", required_argument, 0, 's' }, { 0 } };
  uint64_t seed = 1, size, off = 0, bytes[NKINDS] = { 0 };
  struct vocab *v;
  uint8_t *buf;
  const char *file;
  int fd, c;

  while ((c = getopt_long (argc, argv, "s:", opts, NULL)) != -1)
    switch (c) {
    case 's': seed = strtoull (optarg, NULL, 0); break;
    default: return 2;
    }
  if (optind + 2 != argc) {
    fputs ("usage: archive-image [--seed S] SIZE FILE\n", stderr);
    return 2;
  }
  size = size_arg (argv[optind]);
  file = argv[optind + 1];
  seed = seed * 0x9e3779b97f4a7c15ull + 1;      /* never 0: xorshift */

  v = malloc (sizeof *v);
  buf = malloc (MAX_EXTENT);
  if (v == NULL || buf == NULL)
    die ("out of memory");
  make_vocab (v, &seed);
  fd = open (file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    die ("cannot create %s: %s", file, strerror (errno));
  if (ftruncate (fd, (off_t) size) < 0)
    die ("cannot size %s: %s", file, strerror (errno));

  while (off < size) {
    uint64_t n = MIN_EXTENT / BLK +
                 rnd (&seed) % ((MAX_EXTENT - MIN_EXTENT) / BLK + 1);
    enum kind k = draw_kind (&seed);
    n *= BLK;
    if (n > size - off)
      n = size - off;
    if (k == TEXT)
      fill_text (buf, n, v, &seed);
    else if (k == RANDOM)
      fill_random (buf, n, &seed);
    if (k != ZERO)
      write_all (fd, buf, n, off, file);
    bytes[k] += n;
    off += n;
  }
  if (fsync (fd) < 0 || close (fd) < 0)
    die ("cannot write %s: %s", file, strerror (errno));
  for (int k = 0; k < NKINDS; k++)
    printf ("%s%s=%" PRIu64, k ? " " : "", kind_name[k], bytes[k]);
  putchar ('\n');
  free (buf);
  free (v);
  return 0;
}
