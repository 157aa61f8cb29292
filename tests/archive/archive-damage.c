/* Damage in the archive is found and no damaged byte reaches a reader:
 * a byte flipped in a chunk's payload or header, a chunk truncated or
 * removed, each fails the read of its chunk with -EUCLEAN naming the
 * chunk, the caller's buffer untouched, while the other chunks still
 * read; a byte flipped in an index, or an index truncated, fails its
 * load with -EUCLEAN. */
#include <fcntl.h>

#include "tests/archive/archive-test.h"

#define T1 INT64_C(1765000000000000000)

static char *dir;
static struct archive *a;
static struct memdisk m;

static void
setup (void)
{
  struct archive_push_stats st;

  dir = tmp_dir ();
  a = open_dir (dir, true);
  mem_init (&m, 6 * (uint64_t) CS, 7);
  cr_assert_eq (push_one (a, "vm1", T1, &m, &st), 0, "%s", cdp_get_error ());
}

static void
teardown (void)
{
  archive_close (a);
  mem_free (&m);
  rm_tree (dir);
}

TestSuite (archive_damage, .init = setup, .fini = teardown);

/* The path of chunk c of the point, and its key. */
static void
chunk_path (uint64_t c, char *path, size_t len, char *key)
{
  uint8_t sum[32];

  archive_sha256 (m.data + c * CS, CS, sum);
  archive_chunk_key (sum, key);
  snprintf (path, len, "%s/%s", dir, key);
}

static void
flip (const char *path, off_t off)
{
  int fd = open (path, O_RDWR);
  uint8_t b;

  cr_assert_geq (fd, 0, "%s", path);
  cr_assert_eq (pread (fd, &b, 1, off), 1);
  b ^= 0x40;
  cr_assert_eq (pwrite (fd, &b, 1, off), 1);
  close (fd);
}

/* Chunk c fails its read with -EUCLEAN naming it; the others read. */
static void
assert_chunk_fails (uint64_t c, const char *key)
{
  struct archive_point pt;
  struct archive_reader *r;
  struct point p;
  uint8_t *buf = malloc (CS);

  cr_assert_eq (archive_point_load (a, "vm1", T1, &pt), 0);
  cr_assert_eq (archive_reader_open (a, &pt, 0, &r), 0);
  archive_reader_point (r, &p);
  for (uint64_t i = 0; i < 6; i++) {
    memset (buf, 0xee, CS);
    int e = point_pread (&p, buf, i * CS, CS, NULL);
    if (i != c) {
      cr_assert_eq (e, 0, "chunk %d: %s", (int) i, cdp_get_error ());
      cr_assert_eq (memcmp (buf, m.data + i * CS, CS), 0);
      continue;
    }
    cr_assert_eq (e, -EUCLEAN, "chunk %d: %d", (int) i, e);
    cr_assert (strstr (cdp_get_error (), key + 12), "%s", cdp_get_error ());
    for (size_t k = 0; k < CS; k++)
      cr_assert_eq (buf[k], 0xee, "a byte of a damaged chunk was read");
    /* Again: damage stays damage. */
    cr_assert_eq (point_pread (&p, buf, i * CS + 10, 100, NULL), -EUCLEAN);
  }
  archive_reader_close (r);
  archive_point_free (&pt);
  free (buf);
}

Test (archive_damage, chunk_payload_flipped)
{
  char path[512], key[ARCHIVE_CHUNK_KEY_MAX];

  chunk_path (3, path, sizeof path, key);
  flip (path, ARCHIVE_CHUNK_HEADER + 1000);
  assert_chunk_fails (3, key);
}

Test (archive_damage, chunk_header_flipped)
{
  char path[512], key[ARCHIVE_CHUNK_KEY_MAX];

  chunk_path (1, path, sizeof path, key);
  flip (path, 9);                   /* its raw length */
  assert_chunk_fails (1, key);
}

Test (archive_damage, chunk_truncated)
{
  char path[512], key[ARCHIVE_CHUNK_KEY_MAX];

  chunk_path (0, path, sizeof path, key);
  cr_assert_eq (truncate (path, 5000), 0);
  assert_chunk_fails (0, key);
}

Test (archive_damage, chunk_removed)
{
  char path[512], key[ARCHIVE_CHUNK_KEY_MAX];

  chunk_path (5, path, sizeof path, key);
  cr_assert_eq (unlink (path), 0);
  assert_chunk_fails (5, key);
}

static void
index_path (char *path, size_t len)
{
  struct archive_point pt;

  cr_assert_eq (archive_point_load (a, "vm1", T1, &pt), 0);
  snprintf (path, len, "%s/%s", dir, pt.key);
  archive_point_free (&pt);
}

Test (archive_damage, index_flipped)
{
  struct archive_point pt;
  char path[512];
  struct stat st;

  index_path (path, sizeof path);
  cr_assert_eq (stat (path, &st), 0);
  /* In the metadata, in the sums, in the checksum itself. */
  for (off_t off = 40; off < st.st_size; off += st.st_size / 3) {
    flip (path, off);
    cr_assert_eq (archive_point_load (a, "vm1", T1, &pt), -EUCLEAN,
                  "a flip at %ld", (long) off);
    cr_assert (strstr (cdp_get_error (), "damaged"), "%s", cdp_get_error ());
    flip (path, off);
    cr_assert_eq (archive_point_load (a, "vm1", T1, &pt), 0);
    archive_point_free (&pt);
  }
}

Test (archive_damage, index_truncated)
{
  struct archive_point pt;
  char path[512];
  struct stat st;

  index_path (path, sizeof path);
  cr_assert_eq (stat (path, &st), 0);
  cr_assert_eq (truncate (path, st.st_size - 1), 0);
  cr_assert_eq (archive_point_load (a, "vm1", T1, &pt), -EUCLEAN);
  cr_assert_eq (truncate (path, 10), 0);
  cr_assert_eq (archive_point_load (a, "vm1", T1, &pt), -EUCLEAN);
}
