/* fio_replace leaves the old contents or the new, never a mix: readers
 * that look while a writer replaces the file over and over see one whole
 * version each time; a writer killed (SIGKILL) in the middle leaves one
 * whole version; a replace that fails (the file size limit) leaves the
 * old contents and no temporary file; the new file has the mode asked. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fileio.h"

#define LEN_A (300 * 1024)
#define LEN_B (700 * 1024 + 3)

static char dir[] = "/tmp/cdp-replace-XXXXXX", path[64], tmp[80];
static char *a, *b;

static void
setup (void)
{
  cr_assert_not_null (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/state.json", dir);
  snprintf (tmp, sizeof tmp, "%s.tmp", path);
  a = malloc (LEN_A);
  b = malloc (LEN_B);
  cr_assert (a && b);
  memset (a, 'a', LEN_A);
  memset (b, 'b', LEN_B);
  umask (022);
}

static void
teardown (void)
{
  unlink (tmp);
  unlink (path);
  rmdir (dir);
  free (a);
  free (b);
}

TestSuite (fileio_replace_atomic, .init = setup, .fini = teardown);

/* The file holds all of a or all of b. */
static void
assert_whole (void)
{
  char *got;
  size_t len;

  cr_assert_eq (fio_read (path, &got, &len), 0);
  cr_assert (len == LEN_A || len == LEN_B, "a file of %zu bytes", len);
  cr_assert_eq (memcmp (got, len == LEN_A ? a : b, len), 0,
                "the %zu bytes mix the two versions", len);
  free (got);
}

/* Replace path with a and b in turn, one byte on fd after each. */
static void
writer (int fd)
{
  for (unsigned i = 0;; i++) {
    if (fio_replace (path, i % 2 ? b : a, i % 2 ? LEN_B : LEN_A, 0644) < 0 ||
        write (fd, "x", 1) != 1)
      _exit (1);
  }
}

static pid_t
start_writer (int *rfd)
{
  int p[2];
  pid_t pid;

  cr_assert_eq (pipe (p), 0);
  pid = fork ();
  cr_assert_geq (pid, 0);
  if (pid == 0) {
    close (p[0]);
    writer (p[1]);
  }
  close (p[1]);
  *rfd = p[0];
  return pid;
}

/* Wait until the writer has made n more replacements. */
static void
wait_replaced (int fd, int n)
{
  char c;

  for (int i = 0; i < n; i++)
    cr_assert_eq (read (fd, &c, 1), 1, "the writer stopped");
}

static void
kill_writer (pid_t pid, int fd)
{
  int status;

  cr_assert_eq (kill (pid, SIGKILL), 0);
  cr_assert_eq (waitpid (pid, &status, 0), pid);
  cr_assert (WIFSIGNALED (status), "the writer exited by itself");
  close (fd);
}

Test (fileio_replace_atomic, readers_see_one_version)
{
  int fd;
  pid_t pid;

  cr_assert_eq (fio_replace (path, a, LEN_A, 0644), 0);
  pid = start_writer (&fd);
  for (int i = 0; i < 20; i++) {
    wait_replaced (fd, 1);
    for (int k = 0; k < 5; k++)
      assert_whole ();
  }
  kill_writer (pid, fd);
  assert_whole ();
}

Test (fileio_replace_atomic, killed_writer_leaves_one_version)
{
  for (int round = 1; round <= 6; round++) {
    int fd;
    pid_t pid = start_writer (&fd);

    wait_replaced (fd, round);      /* then kill it inside the next one */
    kill_writer (pid, fd);
    assert_whole ();
  }
  /* A temporary file left by the kill does not stop the next replace. */
  cr_assert_eq (fio_replace (path, b, LEN_B, 0644), 0);
  assert_whole ();
  cr_assert_eq (access (tmp, F_OK), -1);
}

Test (fileio_replace_atomic, failed_replace_keeps_the_old)
{
  struct rlimit rl = { LEN_A, LEN_A };

  cr_assert_eq (fio_replace (path, a, LEN_A, 0644), 0);
  signal (SIGXFSZ, SIG_IGN);
  cr_assert_eq (setrlimit (RLIMIT_FSIZE, &rl), 0);
  cr_assert_eq (fio_replace (path, b, LEN_B, 0644), -EFBIG);
  assert_whole ();
  cr_assert_eq (access (tmp, F_OK), -1, "%s was left behind", tmp);
}

Test (fileio_replace_atomic, mode_as_asked)
{
  struct stat st;

  cr_assert_eq (fio_replace (path, a, 10, 0600), 0);
  cr_assert_eq (stat (path, &st), 0);
  cr_assert_eq (st.st_mode & 0777, 0600);
  cr_assert_eq (fio_replace (path, a, 10, 0644), 0);
  cr_assert_eq (stat (path, &st), 0);
  cr_assert_eq (st.st_mode & 0777, 0644);
}
