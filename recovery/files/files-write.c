/* cdp recovery, file-level browse: a walk (files_walk, files_gfs_walk)
 * written below a directory, and nowhere else.
 *
 * The top of the walk becomes DEST (or DEST/NAME when DEST is a
 * directory).  Every entry is created relative to its parent directory's
 * descriptor: mkdirat, openat with O_CREAT|O_EXCL|O_NOFOLLOW, symlinkat,
 * mkfifoat, linkat for hard links to a file written earlier in the same
 * walk.  files_walk already refused names that are not one plain
 * component; a name that exists already (given twice by a hostile file
 * system, or present in DEST) is refused here, so no symbolic link is
 * ever followed: a symlink in the tree is recreated as a link, inert.
 * Device nodes and sockets are skipped (a guest's device node must not
 * appear on the host), set-user-ID and set-group-ID bits are dropped,
 * owners are kept only when running as root, and each file's and
 * directory's mode and times are set when it is complete (a directory's
 * when it is left, after its entries changed its times).  Holes stay
 * holes.  Never prints.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "recovery/files/files.h"

struct hardlink {
  uint64_t ino;
  char *path;                       /* relative to the top's parent */
};
DEFINE_VECTOR_TYPE (hardlink_vector, struct hardlink)

struct files_writer {
  int topfd;                        /* the directory DEST is created in */
  const char *topname;              /* DEST's name in it, until created */
  char *name;
  int dirs[4200];                   /* descriptors of the open directories */
  struct files_entry dirent[4200];  /* their attributes, set when left */
  unsigned depth;
  char rel[8192];                   /* path of the current directory from topfd */
  size_t rel_len;
  int fd;                           /* the file being written */
  struct files_entry cur;
  hardlink_vector links;
  bool root;                        /* keep owners */
  struct files_counts counts;
  char *dest;                       /* the path DEST is created at */
  bool made;                        /* DEST was created */
  char err[512];
};

static int __attribute__ ((format (printf, 3, 4)))
get_error (struct files_writer *g, int err, const char *fmt, ...)
{
  va_list ap;

  if (!g->err[0]) {
    va_start (ap, fmt);
    vsnprintf (g->err, sizeof g->err, fmt, ap);
    va_end (ap);
  }
  return err;
}

/* Where a new entry goes: its directory and name.  The first entry is
 * DEST itself. */
static int
place (struct files_writer *g, const struct files_entry *e, int *dirfd, const char **name)
{
  if (g->depth == 0 && g->rel_len == 0 && g->topname) {
    *dirfd = g->topfd;
    *name = g->topname;
    g->topname = NULL;
    g->made = true;
    return 0;
  }
  if (g->depth == 0)
    return get_error (g, -EPROTO, "more than one entry at the top");
  *dirfd = g->dirs[g->depth - 1];
  *name = e->name;
  return 0;
}

static int
rel_push (struct files_writer *g, const char *name)
{
  size_t n = strlen (name);

  if (g->rel_len + n + 2 > sizeof g->rel)
    return get_error (g, -ENAMETOOLONG, "a path in the tree is longer than %zu bytes",
                      sizeof g->rel);
  if (g->rel_len)
    g->rel[g->rel_len++] = '/';
  memcpy (g->rel + g->rel_len, name, n + 1);
  g->rel_len += n;
  return 0;
}

static void
rel_pop (struct files_writer *g)
{
  char *slash = memrchr (g->rel, '/', g->rel_len);

  g->rel_len = slash ? (size_t) (slash - g->rel) : 0;
  g->rel[g->rel_len] = 0;
}

static int
refuse_existing (struct files_writer *g, const char *name, int err)
{
  if (err == EEXIST)
    return get_error (g, -EEXIST, "refused to write %s%s%s: it exists already "
                      "(a name given twice, or DEST not empty)", g->rel,
                      g->rel_len ? "/" : "", name);
  return get_error (g, -err, "cannot create %s%s%s: %s", g->rel,
                    g->rel_len ? "/" : "", name, strerror (err));
}

static void
set_times (int dirfd, const char *name, int fd, const struct files_entry *e)
{
  struct timespec ts[2] = {
    { e->atime_ns / 1000000000, e->atime_ns % 1000000000 },
    { e->mtime_ns / 1000000000, e->mtime_ns % 1000000000 },
  };

  for (int i = 0; i < 2; i++)
    if (ts[i].tv_nsec < 0) {
      ts[i].tv_sec--;
      ts[i].tv_nsec += 1000000000;
    }
  if (fd >= 0)
    futimens (fd, ts);
  else
    utimensat (dirfd, name, ts, AT_SYMLINK_NOFOLLOW);
}

static void
set_attrs (struct files_writer *g, int fd, const struct files_entry *e)
{
  if (g->root)
    (void) !fchown (fd, e->uid, e->gid);
  fchmod (fd, e->mode & 01777);     /* no set-user-ID/set-group-ID */
  set_times (-1, NULL, fd, e);
}

static int
g_enter (void *o, const struct files_entry *e)
{
  struct files_writer *g = o;
  int dirfd = -1, fd, r;
  const char *name = NULL;

  if ((r = place (g, e, &dirfd, &name)) < 0)
    return r;
  if (g->depth >= sizeof g->dirs / sizeof g->dirs[0])
    return get_error (g, -ELOOP, "directories nest too deep");
  if (mkdirat (dirfd, name, 0700) < 0)
    return refuse_existing (g, name, errno);
  fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return get_error (g, -errno, "cannot open the directory %s I made: %s", name,
                      strerror (errno));
  if ((r = rel_push (g, name)) < 0) {
    close (fd);
    return r;
  }
  g->dirent[g->depth] = *e;
  g->dirent[g->depth].name = g->dirent[g->depth].target = NULL;
  g->dirs[g->depth++] = fd;
  g->counts.directories++;
  return 0;
}

static int
g_leave (void *o, const struct files_entry *unused)
{
  struct files_writer *g = o;
  int fd = g->dirs[--g->depth];

  set_attrs (g, fd, &g->dirent[g->depth]);
  close (fd);
  rel_pop (g);
  return 0;
}

static int
g_file (void *o, const struct files_entry *e)
{
  struct files_writer *g = o;
  int dirfd = -1, r;
  const char *name = NULL;

  if ((r = place (g, e, &dirfd, &name)) < 0)
    return r;
  g->fd = openat (dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (g->fd < 0)
    return refuse_existing (g, name, errno);
  g->cur = *e;
  g->cur.name = g->cur.target = NULL;
  if (e->nlink > 1) {
    struct hardlink h = { e->ino, NULL };
    if (asprintf (&h.path, "%s%s%s", g->rel, g->rel_len ? "/" : "", name) < 0 ||
        hardlink_vector_append (&g->links, h) < 0)
      return -ENOMEM;
  }
  g->counts.files++;
  return 0;
}

static int
g_data (void *o, const void *buf, size_t len)
{
  struct files_writer *g = o;
  int r = fio_write_all (g->fd, buf, len);

  g->counts.bytes += len;
  return r < 0 ? get_error (g, r, "cannot write a file: %s", strerror (-r)) : 0;
}

static int
g_hole (void *o, uint64_t len)
{
  struct files_writer *g = o;

  if (lseek (g->fd, (off_t) len, SEEK_CUR) < 0)
    return get_error (g, -errno, "cannot write a file: %s", strerror (errno));
  g->counts.bytes += len;
  return 0;
}

static int
g_file_end (void *o, const struct files_entry *unused)
{
  struct files_writer *g = o;
  int r = 0;

  if (ftruncate (g->fd, (off_t) g->cur.size) < 0)     /* a hole at the end */
    r = get_error (g, -errno, "cannot write a file: %s", strerror (errno));
  set_attrs (g, g->fd, &g->cur);
  if (close (g->fd) < 0 && r == 0)
    r = get_error (g, -errno, "cannot write a file: %s", strerror (errno));
  g->fd = -1;
  return r;
}

static int
g_hardlink (void *o, const struct files_entry *e)
{
  struct files_writer *g = o;
  int dirfd = -1, r;
  const char *name = NULL;

  if ((r = place (g, e, &dirfd, &name)) < 0)
    return r;
  /* Newest first: a walk of / goes through every partition, and an
   * inode number is one partition's; its own file is the latest. */
  for (size_t i = g->links.len; i-- > 0;)
    if (g->links.ptr[i].ino == e->ino) {
      if (linkat (g->topfd, g->links.ptr[i].path, dirfd, name, 0) < 0)
        return refuse_existing (g, name, errno);
      return 0;
    }
  return get_error (g, -EPROTO, "a hard link to a file not given");
}

static int
g_symlink (void *o, const struct files_entry *e)
{
  struct files_writer *g = o;
  int dirfd = -1, r;
  const char *name = NULL;

  if ((r = place (g, e, &dirfd, &name)) < 0)
    return r;
  if (symlinkat (e->target, dirfd, name) < 0)
    return refuse_existing (g, name, errno);
  g->counts.symlinks++;
  if (g->root)
    (void) !fchownat (dirfd, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW);
  set_times (dirfd, name, -1, e);
  return 0;
}

static int
g_special (void *o, const struct files_entry *e)
{
  struct files_writer *g = o;
  int dirfd = -1, r;
  const char *name = NULL;

  if ((r = place (g, e, &dirfd, &name)) < 0)
    return r;
  if (!S_ISFIFO (e->mode)) {           /* device nodes, sockets: never */
    g->counts.skipped++;
    return 0;
  }
  if (mkfifoat (dirfd, name, e->mode & 0777) < 0)
    return refuse_existing (g, name, errno);
  if (g->root)
    (void) !fchownat (dirfd, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW);
  set_times (dirfd, name, -1, e);
  return 0;
}

const struct files_walk_ops files_writer_ops = {
  .enter = g_enter, .leave = g_leave, .file = g_file, .file_end = g_file_end,
  .hardlink = g_hardlink, .symlink = g_symlink, .special = g_special,
  .sink = { .data = g_data, .hole = g_hole },
};

/* The last component of path ("" for the root). */
static char *
last_component (const char *path)
{
  char *p = strdup (path), *last;
  size_t n;

  if (p == NULL)
    return NULL;
  while ((n = strlen (p)) > 1 && p[n - 1] == '/')
    p[n - 1] = 0;
  last = strrchr (p, '/');
  memmove (p, last ? last + 1 : p, strlen (last ? last + 1 : p) + 1);
  return p;
}

/* Open the directory DEST goes in and choose DEST's name there. */
static int
choose_target (struct files_writer *g, const char *output, const char *path)
{
  struct stat st;
  char *copy = strdup (output), *dir = NULL;
  int r = 0;

  if (copy == NULL)
    return -ENOMEM;
  if (lstat (output, &st) == 0 && S_ISDIR (st.st_mode)) {
    g->name = last_component (path);        /* DEST/NAME */
    dir = copy;
    if (g->name && asprintf (&g->dest, "%s%s%s", output,
                             output[strlen (output) - 1] == '/' ? "" : "/", g->name) < 0)
      g->dest = NULL;
    if (g->name && !files_name_safe (g->name))
      r = get_error (g, -EEXIST, "%s exists; name a new directory for %s with "
                     "--output", output, path);
  }
  else if (lstat (output, &st) == 0)
    r = get_error (g, -EEXIST, "%s exists; cdp get replaces nothing", output);
  else if (errno != ENOENT)
    r = get_error (g, -errno, "cannot use %s: %s", output, strerror (errno));
  else {
    g->name = last_component (output);
    dir = dirname (copy);
    g->dest = strdup (output);
    if (g->name && !files_name_safe (g->name))
      r = get_error (g, -EINVAL, "--output must name a file or directory to "
                     "create, not '%s'", output);
  }
  if (r == 0 && (g->name == NULL || g->dest == NULL))
    r = -ENOMEM;
  if (r == 0 && dir && (g->topfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    r = get_error (g, -errno, "cannot open the directory %s: %s", dir, strerror (errno));
  g->topname = g->name;
  free (copy);
  return r;
}

static void
more_descriptors (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit (RLIMIT_NOFILE, &rl);
  }
}

int
files_writer_new (const char *output, const char *path, struct files_writer **wp)
{
  struct files_writer *g = calloc (1, sizeof *g);

  *wp = g;
  if (g == NULL)
    return -ENOMEM;
  g->fd = g->topfd = -1;
  g->root = geteuid () == 0;
  more_descriptors ();
  return choose_target (g, output, path);
}

const char *
files_writer_error (const struct files_writer *g)
{
  return g->err;
}

void
files_writer_counts (const struct files_writer *g, struct files_counts *c)
{
  *c = g->counts;
}

const char *
files_writer_path (const struct files_writer *g)
{
  return g->dest ? g->dest : "";
}

/* Remove the tree below directory fd (which is closed), depth first,
 * never following a symlink.  Each directory is made writable first: a
 * guest's read-only directory, left already, has its mode. */
static int
remove_below (int fd)
{
  DIR *d;
  struct dirent *de;
  int r = 0;

  (void) !fchmod (fd, S_IRWXU);
  if ((d = fdopendir (fd)) == NULL) {
    close (fd);
    return -errno;
  }
  while ((de = readdir (d)) != NULL) {
    if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
      continue;
    if (unlinkat (dirfd (d), de->d_name, 0) == 0)
      continue;
    if (errno != EISDIR && errno != EPERM) {
      r = -errno;
      continue;
    }
    int sub = openat (dirfd (d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0 || (r = remove_below (sub)) < 0 ||
        unlinkat (dirfd (d), de->d_name, AT_REMOVEDIR) < 0)
      r = r < 0 ? r : -errno;
  }
  closedir (d);
  return r;
}

int
files_writer_remove (struct files_writer *g)
{
  int fd;

  while (g->depth > 0)
    close (g->dirs[--g->depth]);
  if (g->fd >= 0)
    close (g->fd);
  g->fd = -1;
  if (!g->made)
    return 0;
  g->made = false;
  if (unlinkat (g->topfd, g->name, 0) == 0)
    return 0;
  if (errno != EISDIR && errno != EPERM)
    return errno == ENOENT ? 0 : -errno;
  fd = openat (g->topfd, g->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  int r = remove_below (fd);
  if (r == 0 && unlinkat (g->topfd, g->name, AT_REMOVEDIR) < 0)
    r = -errno;
  return r;
}

void
files_writer_free (struct files_writer *g)
{
  if (g == NULL)
    return;
  while (g->depth > 0)
    close (g->dirs[--g->depth]);
  if (g->fd >= 0)
    close (g->fd);
  if (g->topfd >= 0)
    close (g->topfd);
  for (size_t i = 0; i < g->links.len; i++)
    free (g->links.ptr[i].path);
  hardlink_vector_reset (&g->links);
  free (g->dest);
  free (g->name);
  free (g);
}
