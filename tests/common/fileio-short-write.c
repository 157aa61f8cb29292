/* Full reads and writes go on after a short one: a write cut short by
 * the file size limit (RLIMIT_FSIZE) leaves exactly the bytes up to it
 * and reports the error that stopped it (-EFBIG); reads from a pipe fed
 * in small pieces come back whole; a read that meets the end of the file
 * says how much it got. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"

#define LIMIT (256 * 1024 + 100)    /* not a multiple of any write */
#define BIG (1024 * 1024)

static char dir[] = "/tmp/cdp-fileio-XXXXXX", path[64];
static unsigned char *pattern;

static void
setup (void)
{
  cr_assert_not_null (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/f", dir);
  pattern = malloc (BIG);
  cr_assert_not_null (pattern);
  for (size_t i = 0; i < BIG; i++)
    pattern[i] = (unsigned char) (i * 7 + i / 251);
}

static void
teardown (void)
{
  unlink (path);
  rmdir (dir);
  free (pattern);
}

TestSuite (fileio_short_write, .init = setup, .fini = teardown);

static void
limit_file_size (void)
{
  struct rlimit rl = { LIMIT, LIMIT };

  signal (SIGXFSZ, SIG_IGN);        /* the write fails with EFBIG instead */
  cr_assert_eq (setrlimit (RLIMIT_FSIZE, &rl), 0);
}

static void
assert_prefix_written (void)
{
  unsigned char *back = malloc (BIG);
  int fd = open (path, O_RDONLY);
  struct stat st;

  cr_assert_geq (fd, 0);
  cr_assert_eq (fstat (fd, &st), 0);
  cr_assert_eq (st.st_size, LIMIT, "the file holds %lld bytes",
                (long long) st.st_size);
  cr_assert_eq (fio_pread_all (fd, back, BIG, 0), LIMIT);
  cr_assert_eq (memcmp (back, pattern, LIMIT), 0);
  close (fd);
  free (back);
}

Test (fileio_short_write, write_all_past_the_limit)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

  cr_assert_geq (fd, 0);
  limit_file_size ();
  cr_assert_eq (fio_write_all (fd, pattern, BIG), -EFBIG);
  close (fd);
  assert_prefix_written ();
}

Test (fileio_short_write, pwrite_all_past_the_limit)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

  cr_assert_geq (fd, 0);
  limit_file_size ();
  cr_assert_eq (fio_pwrite_all (fd, pattern, 4096, 0), 0);
  cr_assert_eq (fio_pwrite_all (fd, pattern + 4096, BIG - 4096, 4096),
                -EFBIG);
  close (fd);
  assert_prefix_written ();
}

struct feeder {
  int fd;
  size_t piece;
};

/* Write the pattern into the pipe a few bytes at a time. */
static void *
feed (void *arg)
{
  struct feeder *f = arg;

  for (size_t at = 0; at < BIG; at += f->piece) {
    size_t n = BIG - at < f->piece ? BIG - at : f->piece;
    if (write (f->fd, pattern + at, n) != (ssize_t) n)
      break;
  }
  close (f->fd);
  return NULL;
}

Test (fileio_short_write, read_all_from_small_pieces)
{
  unsigned char *back = malloc (BIG + 10);
  int p[2];
  struct feeder f;
  pthread_t t;

  cr_assert_eq (pipe (p), 0);
  f = (struct feeder) { p[1], 997 };
  cr_assert_eq (pthread_create (&t, NULL, feed, &f), 0);
  cr_assert_eq (fio_read_all (p[0], back, BIG / 2), BIG / 2);
  /* The rest, asking for more than there is: the count says where the
   * stream ended. */
  cr_assert_eq (fio_read_all (p[0], back + BIG / 2, BIG / 2 + 10), BIG / 2);
  cr_assert_eq (memcmp (back, pattern, BIG), 0);
  cr_assert_eq (fio_read_all (p[0], back, 10), 0);
  pthread_join (t, NULL);
  close (p[0]);
  free (back);
}

Test (fileio_short_write, pread_all_at_the_end)
{
  unsigned char back[100];
  int fd = open (path, O_RDWR | O_CREAT | O_TRUNC, 0600);

  cr_assert_geq (fd, 0);
  cr_assert_eq (fio_pwrite_all (fd, pattern, 1000, 0), 0);
  cr_assert_eq (fio_pread_all (fd, back, 100, 950), 50);
  cr_assert_eq (memcmp (back, pattern + 950, 50), 0);
  cr_assert_eq (fio_pread_all (fd, back, 100, 5000), 0);
  cr_assert_eq (fio_pread_all (fd, back, 100, -1), -EINVAL);
  close (fd);
}
