/* Helpers shared by the image writer's tests: a scratch directory,
 * shell commands (QEMU's tools check what the writer made), and the
 * checks that no qemu-nbd outlives the writer. */
#ifndef CDP_TEST_IMGWRITE_H
#define CDP_TEST_IMGWRITE_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "recovery/history/imgwrite.h"

#define MiB (1u << 20)

static char scratch[64];

/* A fresh directory; removed again by scratch_remove. */
static inline void
scratch_make (void)
{
  strcpy (scratch, "/tmp/cdp-imgw-test-XXXXXX");
  cr_assert_not_null (mkdtemp (scratch));
}

static inline char *
in_scratch (const char *leaf)
{
  char *p;

  cr_assert (asprintf (&p, "%s/%s", scratch, leaf) > 0);
  return p;
}

/* Run a shell command; its exit status. */
static inline int __attribute__ ((format (printf, 1, 2)))
sh (const char *fmt, ...)
{
  va_list ap;
  char *cmd;
  int st;

  va_start (ap, fmt);
  cr_assert (vasprintf (&cmd, fmt, ap) > 0);
  va_end (ap);
  st = system (cmd);
  free (cmd);
  return WIFEXITED (st) ? WEXITSTATUS (st) : 128;
}

static inline void
scratch_remove (void)
{
  if (scratch[0])
    sh ("rm -rf '%s'", scratch);
}

/* Is a qemu-nbd running (anyone's child, orphans too) whose command
 * line names a file in the scratch directory? */
static inline bool
qemu_nbd_running (void)
{
  DIR *d = opendir ("/proc");
  struct dirent *e;
  bool found = false;

  cr_assert_not_null (d);
  while (!found && (e = readdir (d))) {
    char path[300], args[4096];
    ssize_t n;
    int fd;
    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    snprintf (path, sizeof path, "/proc/%s/cmdline", e->d_name);
    if ((fd = open (path, O_RDONLY)) < 0)
      continue;
    n = read (fd, args, sizeof args - 1);
    close (fd);
    if (n <= 0)
      continue;
    args[n] = '\0';
    if (strstr (args, "qemu-nbd") == NULL)
      continue;
    for (char *a = args; a < args + n; a += strlen (a) + 1)
      if (strstr (a, scratch))
        found = true;
  }
  closedir (d);
  return found;
}

/* No qemu-nbd on our files, and no child left, not even a zombie. */
static inline void
assert_no_helper (void)
{
  cr_assert_not (qemu_nbd_running (), "a qemu-nbd outlived the writer");
  errno = 0;
  cr_assert_eq (waitpid (-1, NULL, WNOHANG), -1, "a child was left behind");
  cr_assert_eq (errno, ECHILD);
}

/* The contents of image img as raw bytes (qemu-img convert). */
static inline uint8_t *
image_bytes (const char *img, const char *fmt, size_t size)
{
  char *raw = in_scratch ("convert.raw");
  uint8_t *buf = malloc (size);
  int fd;

  cr_assert_eq (sh ("qemu-img convert -f %s -O raw '%s' '%s'", fmt, img, raw), 0);
  fd = open (raw, O_RDONLY);
  cr_assert_geq (fd, 0);
  cr_assert_eq (pread (fd, buf, size, 0), (ssize_t) size);
  close (fd);
  unlink (raw);
  free (raw);
  return buf;
}

static inline void
fill_random (uint8_t *buf, size_t len, unsigned seed)
{
  for (size_t i = 0; i < len; i++) {
    seed = seed * 1103515245 + 12345;
    buf[i] = (uint8_t) (seed >> 16);
  }
}

static inline void
assert_same (const uint8_t *got, const uint8_t *want, size_t size)
{
  for (size_t i = 0; i < size; i++)
    if (got[i] != want[i])
      cr_assert_fail ("byte %zu is %#x, expected %#x", i, got[i], want[i]);
}

#endif
