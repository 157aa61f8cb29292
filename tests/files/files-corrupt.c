/* Corrupt ext4 images give errors, never a crash and never a read
 * outside the disk: a small ext4 (1 KiB blocks, inline data, an htree
 * directory, fast and slow symlinks, extents, a sparse file) made by
 * mkfs.ext4 -d, then copies with random bytes overwritten in its
 * metadata, each listed, walked and read in full.  Every read the reader
 * asks for is checked against the disk (mem_pread asserts); a reader
 * that dies (its parser crashed: under ASan, a memory error) fails the
 * test.  CDP_FILES_FUZZ_ROUNDS sets the number of copies and
 * CDP_FILES_FUZZ_SEED the seed (else the pid; printed either way). */
#include <unistd.h>

#include "files-test.h"

struct counts {
  unsigned entries;
  uint64_t bytes;
};

static int c_dir (void *o, const struct files_entry *e) { ((struct counts *) o)->entries++; return 0; }
static int c_leave (void *o, const struct files_entry *e) { return 0; }
static int c_data (void *o, const void *b, size_t len) { ((struct counts *) o)->bytes += len; return 0; }

static const struct files_walk_ops count_ops = {
  .enter = c_dir, .leave = c_leave, .file = c_dir, .file_end = c_dir,
  .hardlink = c_dir, .symlink = c_dir, .special = c_dir,
  .sink = { .data = c_data },
};

static char tmp[] = "/tmp/cdp-files-corrupt-XXXXXX";

static void
make_image (struct mem_disk *d)
{
  cr_assert_not_null (mkdtemp (tmp));
  shell ("cd %s && mkdir -p src/etc src/big-dir src/a/b/c/d && echo hi > src/etc/small && "
         "head -c 300000 /dev/urandom > src/file && truncate -s 5M src/sparse && "
         "echo end >> src/sparse && ln -s etc/small src/fast && "
         "ln -s $(printf 'x%%.0s' $(seq 200)) src/slow && "
         "for i in $(seq 200); do echo $i > src/big-dir/entry-name-$i; done && "
         "echo deep > src/a/b/c/d/e && ln src/etc/small src/hard", tmp);
  shell ("mkfs.ext4 -q -F -b 1024 -O inline_data -d %s/src %s/img 8M", tmp, tmp);
  char path[128];
  snprintf (path, sizeof path, "%s/img", tmp);
  load_disk (path, d);
  shell ("rm -rf %s", tmp);
}

/* Everything the reader can be asked about the image; the status of
 * each call is an error or success, and the reader never dies. */
static void
exercise (struct mem_disk *d, unsigned round)
{
  static const char *const paths[] = {
    "/etc/small", "/file", "/sparse", "/fast", "/slow", "/a/b/c/d/e", "/hard",
    "/big-dir/entry-name-77",
  };
  files_entry_vector v = empty_vector;
  struct files_sink sink = { .data = c_data };
  struct counts c = { 0 };
  struct files *f;
  int r;

  cr_assert_eq (files_start (&f), 0);
  r = files_attach (f, d->size, mem_pread, d);
  if (r == 0) {
    files_list (f, "/", &v);
    files_entry_vector_clear (&v);
    files_list (f, "/big-dir", &v);
    files_entry_vector_clear (&v);
    files_walk (f, "/", &count_ops, &c);
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
      struct files_entry e = { 0 };
      files_read (f, paths[i], &sink, &c, &e);
      files_entry_clear (&e);
    }
  }
  cr_assert_null (strstr (files_error (f), "died"), "round %u: %s", round, files_error (f));
  cr_assert_null (strstr (files_error (f), "malformed"), "round %u: %s", round, files_error (f));
  files_stop (f);
}

Test (corrupt, intact_image_reads_whole)
{
  struct mem_disk d;
  struct counts c = { 0 };
  struct files *f;

  make_image (&d);
  f = attach (&d);
  cr_assert_eq (files_walk (f, "/", &count_ops, &c), 0, "%s", files_error (f));
  cr_assert_geq (c.entries, 200);
  cr_assert_geq (c.bytes, 300000 + 5 * 1048576);
  files_stop (f);
  free (d.buf);
}

Test (corrupt, random_bytes_in_metadata, .timeout = 280)
{
  struct mem_disk d, copy;
  const char *env = getenv ("CDP_FILES_FUZZ_ROUNDS");
  const char *env_seed = getenv ("CDP_FILES_FUZZ_SEED");
  unsigned rounds = env ? (unsigned) atoi (env) : 300;
  unsigned seed = env_seed ? (unsigned) atoi (env_seed) : (unsigned) getpid ();

  make_image (&d);
  copy.size = d.size;
  copy.buf = malloc (d.size);
  /* On stderr, so that a failure or a timeout can be replayed with
   * CDP_FILES_FUZZ_SEED. */
  fprintf (stderr, "random_bytes_in_metadata: seed %u\n", seed);
  srandom (seed);
  for (unsigned round = 0; round < rounds; round++) {
    memcpy (copy.buf, d.buf, d.size);
    /* Metadata lives in the first part: superblock, group descriptors,
     * bitmaps, inode tables, directories. */
    unsigned n = 1 + (unsigned) random () % 32;
    uint64_t span = round % 4 == 0 ? d.size : 512 * 1024;
    for (unsigned i = 0; i < n; i++) {
      uint64_t at = (uint64_t) random () % span;
      if (round % 3 == 0 && at >= 1024 && at < 2048)
        at += 1024;                 /* spare the superblock, go deeper */
      copy.buf[at] = (uint8_t) random ();
    }
    exercise (&copy, round);
  }
  free (copy.buf);
  free (d.buf);
}

/* An inode whose size is past what any ext file can hold (2^32 blocks)
 * is damage, not a hole to stream zeroes from for ever. */
Test (corrupt, size_past_the_format_limit)
{
  struct mem_disk d;
  struct files_sink sink = { .data = c_data };
  struct counts c = { 0 };
  struct files_entry e = { 0 };
  struct files *f;
  char path[128];

  cr_assert_not_null (mkdtemp (tmp));
  shell ("cd %s && mkdir src && echo hi > src/f && "
         "mkfs.ext4 -q -F -b 1024 -d src img 4M >/dev/null && "
         "debugfs -w -R 'sif /f size 0x40000000000000' img 2>/dev/null", tmp);
  snprintf (path, sizeof path, "%s/img", tmp);
  load_disk (path, &d);
  shell ("rm -rf %s", tmp);
  f = attach (&d);
  cr_assert_eq (files_read (f, "/f", &sink, &c, &e), -EUCLEAN, "%s",
                files_error (f));
  cr_assert_not_null (strstr (files_error (f), "damaged"), "%s", files_error (f));
  cr_assert_eq (c.bytes, 0);
  files_entry_clear (&e);
  files_stop (f);
  free (d.buf);
}

Test (corrupt, truncated_and_zero_disks)
{
  struct mem_disk d, part;

  make_image (&d);
  for (uint64_t size = 0; size < d.size; size = size * 2 + 1000) {
    part.size = size;
    part.buf = d.buf;
    exercise (&part, (unsigned) size);
  }
  memset (d.buf + 1024, 0, 1024);
  exercise (&d, 0);
  free (d.buf);
}
