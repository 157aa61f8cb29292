/* cdp archive: a directory as an archive's store (store.h).
 *
 * A key is a path below the directory.  A put writes tmp/<unique>,
 * fsyncs it, renames it onto the key (making the key's directories as
 * needed, each one's parent fsynced) and fsyncs the key's directory, so
 * that the object appears whole or not at all and survives a power loss
 * once put returns.  Temporary files live under tmp/ only: no other key
 * starts with it, so listings of the archive's prefixes never see them,
 * and archive_gc removes those older than a day (a writer that died).
 * Times are the file system's: mtime, set by the file server. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fileio.h"
#include "common/timeutil.h"
#include "recovery/archive/store-internal.h"

struct dir_store {
  struct archive_store s;           /* first: the store.h view */
  int root;                         /* O_DIRECTORY of the location */
};

static atomic_uint tmp_counter;

static struct dir_store *
ds (struct archive_store *s)
{
  return (struct dir_store *) s;
}

/* A key is relative, '/'-separated, without empty, "." or ".." parts. */
static int
check_key (const struct archive_store *s, const char *key)
{
  const char *p = key;

  if (*key == '\0' || strlen (key) >= PATH_MAX - 64)
    goto bad;
  while (*p) {
    const char *e = strchrnul (p, '/');
    size_t n = (size_t) (e - p);
    if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
      goto bad;
    p = *e ? e + 1 : e;
    if (*e && *p == '\0')
      goto bad;
  }
  return 0;
 bad:
  return cdp_set_error (-EINVAL, "archive %s: '%s' is not a valid key",
                        s->location, key);
}

static int
fail (struct archive_store *s, int err, const char *what, const char *key)
{
  return cdp_set_error (err, "archive %s: %s %s: %s", s->location, what, key,
                        strerror (-err));
}

static int
dir_get (struct archive_store *s, const char *key, void **buf, size_t *len)
{
  int fd, r;
  char *data = NULL;

  *buf = NULL;
  *len = 0;
  if ((r = check_key (s, key)) < 0)
    return r;
  fd = openat (ds (s)->root, key, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail (s, -errno, "cannot open", key);
  r = fio_read_fd (fd, &data, len);
  close (fd);
  if (r < 0)
    return fail (s, r, "cannot read", key);
  *buf = data;
  return 0;
}

static int
dir_get_range (struct archive_store *s, const char *key, void *buf,
               uint64_t off, size_t len)
{
  int fd, r;
  ssize_t n;

  if ((r = check_key (s, key)) < 0)
    return r;
  if (off > INT64_MAX)
    return fail (s, -EINVAL, "cannot read", key);
  fd = openat (ds (s)->root, key, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail (s, -errno, "cannot open", key);
  n = fio_pread_all (fd, buf, len, (off_t) off);
  close (fd);
  if (n < 0)
    return fail (s, (int) n, "cannot read", key);
  if ((size_t) n != len)
    return cdp_set_error (-EIO, "archive %s: %s is shorter than %" PRIu64
                          " bytes", s->location, key, off + len);
  return 0;
}

/* fsync the directory dirfd. */
static int
sync_dir (int root, const char *dir)
{
  int fd = openat (root, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

  if (fd < 0)
    return -errno;
  if (fsync (fd) < 0)
    r = -errno;
  close (fd);
  return r;
}

/* Make the directories of key (all but its last part), each new one's
 * parent fsynced so that its entry survives a power loss. */
static int
make_parents (int root, const char *key)
{
  char path[PATH_MAX];
  char *slash;

  snprintf (path, sizeof path, "%s", key);
  for (slash = strchr (path, '/'); slash; slash = strchr (slash + 1, '/')) {
    *slash = '\0';
    if (mkdirat (root, path, 0755) == 0) {
      char *up = strrchr (path, '/');
      int r;
      if (up)
        *up = '\0';
      r = sync_dir (root, up ? path : ".");
      if (up)
        *up = '/';
      if (r < 0)
        return r;
    }
    else if (errno != EEXIST)
      return -errno;
    *slash = '/';
  }
  return 0;
}

/* The directory of key ("." for a key without one), in buf. */
static const char *
key_dir (const char *key, char *buf, size_t len)
{
  const char *slash = strrchr (key, '/');

  if (slash == NULL)
    return ".";
  snprintf (buf, len, "%.*s", (int) (slash - key), key);
  return buf;
}

/* Write tmp, a new file: removed again if it cannot be written whole;
 * -EEXIST (and left alone) when it is another writer's. */
static int
write_tmp (int root, const char *tmp, const void *buf, size_t len)
{
  int fd = openat (root, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  int r;

  if (fd < 0)
    return -errno;
  r = fio_write_all (fd, buf, len);
  if (r == 0 && fsync (fd) < 0)
    r = -errno;
  if (close (fd) < 0 && r == 0)
    r = -errno;
  if (r < 0)
    unlinkat (root, tmp, 0);
  return r;
}

static int
dir_put (struct archive_store *s, const char *key, const void *buf,
         size_t len)
{
  int root = ds (s)->root, r;
  char tmp[80], dir[PATH_MAX];
  uint64_t salt = 0;

  if ((r = check_key (s, key)) < 0)
    return r;
  /* Unique also among writers of other hosts or containers, whose pid
   * and thread id may be this one's. */
  if (getrandom (&salt, sizeof salt, 0) != sizeof salt)
    salt = (uint64_t) time_now_ns ();
  snprintf (tmp, sizeof tmp, "tmp/%ld-%ld-%u-%016" PRIx64, (long) getpid (),
            (long) gettid (), atomic_fetch_add (&tmp_counter, 1), salt);
  /* Durability order: the data (fsync), the rename, the directory. */
  r = write_tmp (root, tmp, buf, len);
  if (r < 0)
    return fail (s, r, "cannot write", key);
  r = make_parents (root, key);
  if (r == 0 && renameat (root, tmp, root, key) < 0)
    r = -errno;
  if (r < 0) {
    unlinkat (root, tmp, 0);
    return fail (s, r, "cannot write", key);
  }
  r = sync_dir (root, key_dir (key, dir, sizeof dir));
  return r < 0 ? fail (s, r, "cannot sync the directory of", key) : 0;
}

static int
dir_stat (struct archive_store *s, const char *key, uint64_t *size,
          int64_t *mtime_ns)
{
  struct stat st;
  int r;

  if ((r = check_key (s, key)) < 0)
    return r;
  if (fstatat (ds (s)->root, key, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return fail (s, -errno, "cannot stat", key);
  if (!S_ISREG (st.st_mode))
    return fail (s, -ENOENT, "not an object:", key);
  if (size)
    *size = (uint64_t) st.st_size;
  if (mtime_ns)
    *mtime_ns = st.st_mtim.tv_sec * INT64_C(1000000000) + st.st_mtim.tv_nsec;
  return 0;
}

static int
dir_touch (struct archive_store *s, const char *key)
{
  const struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT },
                                  { .tv_nsec = UTIME_NOW } };
  int r;

  if ((r = check_key (s, key)) < 0)
    return r;
  if (utimensat (ds (s)->root, key, ts, AT_SYMLINK_NOFOLLOW) < 0)
    return fail (s, -errno, "cannot touch", key);
  return 0;
}

static int
dir_del (struct archive_store *s, const char *key)
{
  int r;

  if ((r = check_key (s, key)) < 0)
    return r;
  if (unlinkat (ds (s)->root, key, 0) < 0 && errno != ENOENT)
    return fail (s, -errno, "cannot remove", key);
  return 0;
}

struct walk {
  struct archive_store *s;
  archive_list_fn fn;
  void *opaque;
};

/* Report the objects of directory dir (a key prefix, "" for the root,
 * else ending in '/') whose names start with name, and everything below
 * its subdirectories that do.  Names starting with '.' are not keys. */
static int
walk_dir (struct walk *w, const char *dir, const char *name)
{
  int root = ds (w->s)->root, fd, r = 0;
  size_t nlen = strlen (name);
  DIR *d;
  struct dirent *e;

  fd = openat (root, *dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT || errno == ENOTDIR ? 0
      : fail (w->s, -errno, "cannot list", *dir ? dir : "the top directory");
  d = fdopendir (fd);
  if (d == NULL) {
    r = -errno;
    close (fd);
    return fail (w->s, r, "cannot list", dir);
  }
  while (r == 0) {
    char key[PATH_MAX];
    struct stat st;

    errno = 0;
    if ((e = readdir (d)) == NULL) {
      if (errno)
        r = fail (w->s, -errno, "cannot list", dir);
      break;
    }
    if (e->d_name[0] == '.' || strncmp (e->d_name, name, nlen) != 0)
      continue;
    if ((size_t) snprintf (key, sizeof key, "%s%s", dir, e->d_name)
        >= sizeof key - 1)
      continue;
    if (fstatat (dirfd (d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno != ENOENT)
        r = fail (w->s, -errno, "cannot stat", key);
      continue;
    }
    if (S_ISDIR (st.st_mode)) {
      strcat (key, "/");
      r = walk_dir (w, key, "");
    }
    else if (S_ISREG (st.st_mode)) {
      struct archive_obj o = {
        .key = key, .size = (uint64_t) st.st_size,
        .mtime_ns = st.st_mtim.tv_sec * INT64_C(1000000000) + st.st_mtim.tv_nsec,
      };
      r = w->fn (w->opaque, &o);
    }
  }
  closedir (d);
  return r;
}

static int
dir_list (struct archive_store *s, const char *prefix, archive_list_fn fn,
          void *opaque)
{
  struct walk w = { s, fn, opaque };
  const char *slash = strrchr (prefix, '/');
  char dir[PATH_MAX];
  int r;

  if (strlen (prefix) >= sizeof dir - 1 || strstr (prefix, "..") ||
      prefix[0] == '/')
    return cdp_set_error (-EINVAL, "archive %s: '%s' is not a valid prefix",
                          s->location, prefix);
  snprintf (dir, sizeof dir, "%.*s", slash ? (int) (slash - prefix + 1) : 0,
            prefix);
  r = walk_dir (&w, dir, slash ? slash + 1 : prefix);
  return r > 0 ? 0 : r;
}

static int
dir_now (struct archive_store *s, int64_t *ns)
{
  char tmp[64];
  struct stat st;
  int fd, r = 0;

  snprintf (tmp, sizeof tmp, "tmp/now-%ld-%ld-%u", (long) getpid (),
            (long) gettid (), atomic_fetch_add (&tmp_counter, 1));
  fd = openat (ds (s)->root, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
               0644);
  if (fd < 0)
    return fail (s, -errno, "cannot write", tmp);
  if (fstat (fd, &st) < 0)
    r = -errno;
  close (fd);
  unlinkat (ds (s)->root, tmp, 0);
  if (r < 0)
    return fail (s, r, "cannot stat", tmp);
  *ns = st.st_mtim.tv_sec * INT64_C(1000000000) + st.st_mtim.tv_nsec;
  return 0;
}

static void
dir_close (struct archive_store *s)
{
  close (ds (s)->root);
  free (s->location);
  free (s);
}

static const struct archive_store_ops dir_ops = {
  .scheme = "dir",
  .get = dir_get, .get_range = dir_get_range, .put = dir_put,
  .stat = dir_stat, .touch = dir_touch, .del = dir_del, .list = dir_list,
  .now = dir_now, .close = dir_close,
};

int
store_dir_open (const char *location, struct archive_store **out)
{
  struct dir_store *d;
  int r;

  *out = NULL;
  r = fio_mkdir (location, 0755);
  if (r < 0)
    return cdp_set_error (r, "archive %s: cannot make the directory: %s",
                          location, strerror (-r));
  d = calloc (1, sizeof *d);
  if (d == NULL || (d->s.location = strdup (location)) == NULL) {
    free (d);
    return cdp_set_error (-ENOMEM, "out of memory");
  }
  d->s.ops = &dir_ops;
  d->root = open (location, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d->root < 0) {
    r = cdp_set_error (-errno, "archive %s: cannot open the directory: %s",
                       location, strerror (errno));
    goto err;
  }
  /* A location only read (a read-only mount) needs no tmp/: its puts
   * fail with their own error. */
  (void) mkdirat (d->root, "tmp", 0755);
  *out = &d->s;
  return 0;
 err:
  free (d->s.location);
  free (d);
  return r;
}
