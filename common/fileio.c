/* cdp: full reads and writes, whole-file reads, atomic replacement. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"

int
fio_write_all (int fd, const void *buf, size_t len)
{
  const char *p = buf;

  while (len > 0) {
    ssize_t n = write (fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    if (n == 0)
      return -EIO;
    p += n;
    len -= (size_t) n;
  }
  return 0;
}

int
fio_pwrite_all (int fd, const void *buf, size_t len, off_t off)
{
  const char *p = buf;

  while (len > 0) {
    ssize_t n = pwrite (fd, p, len, off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    if (n == 0)
      return -EIO;
    p += n;
    off += n;
    len -= (size_t) n;
  }
  return 0;
}

/* Read with pread at off, or with read when !at. */
static ssize_t
read_all (int fd, void *buf, size_t len, bool at, off_t off)
{
  char *p = buf;
  size_t done = 0;

  while (done < len) {
    ssize_t n = !at ? read (fd, p + done, len - done)
                    : pread (fd, p + done, len - done, off + (off_t) done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    if (n == 0)
      break;
    done += (size_t) n;
  }
  return (ssize_t) done;
}

ssize_t
fio_read_all (int fd, void *buf, size_t len)
{
  if (len > SSIZE_MAX)
    return -EINVAL;
  return read_all (fd, buf, len, false, 0);
}

ssize_t
fio_pread_all (int fd, void *buf, size_t len, off_t off)
{
  if (off < 0 || len > SSIZE_MAX)
    return -EINVAL;
  return read_all (fd, buf, len, true, off);
}

int
fio_read_fd (int fd, char **out, size_t *len)
{
  size_t cap = 4096, used = 0;
  char *buf = malloc (cap);

  *out = NULL;
  if (buf == NULL)
    return -ENOMEM;
  for (;;) {
    if (cap - used < 2) {
      char *nb = realloc (buf, cap * 2);
      if (nb == NULL) {
        free (buf);
        return -ENOMEM;
      }
      buf = nb;
      cap *= 2;
    }
    ssize_t n = read (fd, buf + used, cap - used - 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int r = -errno;
      free (buf);
      return r;
    }
    if (n == 0)
      break;
    used += (size_t) n;
  }
  buf[used] = '\0';
  *out = buf;
  if (len)
    *len = used;
  return 0;
}

int
fio_read (const char *path, char **out, size_t *len)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC), r;

  *out = NULL;
  if (fd < 0)
    return -errno;
  r = fio_read_fd (fd, out, len);
  close (fd);
  return r;
}

int
fio_sync_parent (const char *path)
{
  const char *slash = strrchr (path, '/');
  char *dir;
  int fd, r = 0;

  if (slash == NULL)
    dir = strdup (".");
  else if (slash == path)
    dir = strdup ("/");
  else
    dir = strndup (path, (size_t) (slash - path));
  if (dir == NULL)
    return -ENOMEM;
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync (fd) < 0)
    r = -errno;
  if (fd >= 0)
    close (fd);
  free (dir);
  return r;
}

static int
replace (const char *path, const void *data, size_t len, mode_t mode,
         bool durable)
{
  size_t plen = strlen (path);
  char *tmp = malloc (plen + 5);
  int fd, r;

  if (tmp == NULL)
    return -ENOMEM;
  memcpy (tmp, path, plen);
  memcpy (tmp + plen, ".tmp", 5);
  unlink (tmp);
  fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    r = -errno;
    free (tmp);
    return r;
  }
  r = fio_write_all (fd, data, len);
  if (r == 0 && durable && fsync (fd) < 0)
    r = -errno;
  if (close (fd) < 0 && r == 0)
    r = -errno;
  if (r == 0 && rename (tmp, path) < 0)
    r = -errno;
  if (r < 0)
    unlink (tmp);
  else if (durable)
    r = fio_sync_parent (path);      /* the rename is durable only now */
  free (tmp);
  return r;
}

int
fio_replace (const char *path, const void *data, size_t len, mode_t mode)
{
  return replace (path, data, len, mode, true);
}

int
fio_replace_volatile (const char *path, const void *data, size_t len,
                      mode_t mode)
{
  return replace (path, data, len, mode, false);
}

int
fio_mkdir (const char *path, mode_t mode)
{
  if (mkdir (path, mode) < 0 && errno != EEXIST)
    return -errno;
  return fio_sync_parent (path);
}

static int remove_err;           /* the first failure of fio_remove_tree */

static int
remove_entry (const char *path, const struct stat *st, int type,
              struct FTW *ftw)
{
  if (remove (path) < 0 && errno != ENOENT && remove_err == 0)
    remove_err = -errno;
  return 0;
}

int
fio_remove_tree (const char *path)
{
  struct stat st;

  if (lstat (path, &st) < 0)
    return errno == ENOENT ? 0 : -errno;
  remove_err = 0;
  if (nftw (path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 &&
      remove_err == 0)
    remove_err = -errno;
  return remove_err;
}
