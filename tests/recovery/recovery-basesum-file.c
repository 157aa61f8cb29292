/* A base point's sums file reads back as written, and a sums file that
 * was damaged (a flipped byte anywhere, cut short, not one at all) is
 * refused with -EUCLEAN, never taken as fewer sums; no file is -ENOENT. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "recovery/history/basesum.h"

static char dir[] = "/var/tmp/cdp-basesum-XXXXXX";
static char path[128];

static void
setup (void)
{
  cr_assert_not_null (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/d0-0000000000000001.sums", dir);
}

static void
teardown (void)
{
  char cmd[256];

  snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq (system (cmd), 0);
}

/* Sums of clusters 0, 3, 4 .. 99 of a disk of 100 clusters + 512 bytes. */
static void
make (struct basesum *s)
{
  uint8_t *b = malloc (BASESUM_CLUSTER);

  memset (s, 0, sizeof *s);
  s->size = 100ull * BASESUM_CLUSTER + 512;
  for (uint64_t k = 0; k <= 100; k++) {
    if (k == 1 || k == 2)
      continue;
    memset (b, (int) k, BASESUM_CLUSTER);
    cr_assert_eq (basesum_add (s, k, b, k == 100 ? 512 : BASESUM_CLUSTER), 0);
  }
  free (b);
}

static void
poke (long at, int whence, uint8_t x)
{
  int fd = open (path, O_RDWR);
  uint8_t b;
  off_t pos = lseek (fd, at, whence);

  cr_assert_geq (pos, 0);
  cr_assert_eq (pread (fd, &b, 1, pos), 1);
  b ^= x;
  cr_assert_eq (pwrite (fd, &b, 1, pos), 1);
  close (fd);
}

TestSuite (basesum_file, .init = setup, .fini = teardown);

Test (basesum_file, reads_back_as_written)
{
  struct basesum s, t;
  uint8_t *b = calloc (1, BASESUM_CLUSTER);

  make (&s);
  cr_assert_eq (basesum_save (path, &s), 0);
  cr_assert_eq (basesum_load (path, &t), 0);
  cr_assert_eq (t.size, s.size);
  cr_assert_eq (t.v.len, s.v.len);
  for (size_t i = 0; i < s.v.len; i++) {
    cr_assert_eq (t.v.ptr[i].cluster, s.v.ptr[i].cluster);
    cr_assert_eq (t.v.ptr[i].crc, s.v.ptr[i].crc);
  }
  cr_assert_null (basesum_find (&t, 1));
  cr_assert_null (basesum_find (&t, 101));
  memset (b, 7, BASESUM_CLUSTER);
  cr_assert_eq (*basesum_find (&t, 7), crc32c (b, BASESUM_CLUSTER));
  memset (b, 100, 512);
  cr_assert_eq (*basesum_find (&t, 100), crc32c (b, 512));
  cr_assert_eq (basesum_add (&t, 50, b, 1), -EINVAL, "out of order");
  basesum_free (&s);
  basesum_free (&t);
  free (b);
}

Test (basesum_file, damage_is_refused)
{
  struct basesum s, t;
  long places[] = { 0, 9, 13, 20, 26, 33, 38, 64, 64 + 8, -1 };
  struct stat st;

  make (&s);
  cr_assert_eq (basesum_save (path, &s), 0);
  for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
    poke (places[i], places[i] < 0 ? SEEK_END : SEEK_SET, 0x10);
    cr_assert_eq (basesum_load (path, &t), -EUCLEAN, "byte %ld flipped", places[i]);
    poke (places[i], places[i] < 0 ? SEEK_END : SEEK_SET, 0x10);
    cr_assert_eq (basesum_load (path, &t), 0);
    basesum_free (&t);
  }
  cr_assert_eq (stat (path, &st), 0);
  cr_assert_eq (truncate (path, st.st_size - 12), 0);
  cr_assert_eq (basesum_load (path, &t), -EUCLEAN, "cut short");
  cr_assert_eq (truncate (path, 10), 0);
  cr_assert_eq (basesum_load (path, &t), -EUCLEAN, "a header cut short");
  unlink (path);
  cr_assert_eq (basesum_load (path, &t), -ENOENT);
  basesum_free (&s);
}
