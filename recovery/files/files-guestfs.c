/* cdp recovery, file-level browse: file systems cdp does not read itself
 * (xfs, btrfs, ntfs, vfat, LVM, ...) through libguestfs.
 *
 * libguestfs boots its appliance, a small VM, whose kernel parses the
 * guest file system: the hostile bytes stay inside that VM, as they do
 * inside the sandboxed child for ext2/3/4.  The appliance reads the disk
 * as the read-only NBD export of the point that the caller serves on a
 * unix socket; the volume is mounted read-only in the appliance.  When
 * the appliance does not start with hardware virtualization it is tried
 * again with TCG.
 *
 * LVM physical volumes show their volume groups and logical volumes as
 * two levels of directories: /pN/VG/LV/...
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recovery/files/files.h"

#ifdef HAVE_GUESTFS
#include <guestfs.h>

#define COPY_CHUNK (1u << 20)

struct files_gfs {
  guestfs_h *g;
  char fs[16];
  unsigned part;
  char mounted[256];                /* device mounted at /, "" if none */
  char msg[1024];
};

bool
files_gfs_available (void)
{
  return true;
}

static int __attribute__ ((format (printf, 3, 4)))
gsay (struct files_gfs *g, int err, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (g->msg, sizeof g->msg, fmt, ap);
  va_end (ap);
  return err;
}

/* libguestfs' message, first line only (the rest is mount's advice). */
static const char *
last_error (struct files_gfs *g)
{
  const char *e = guestfs_last_error (g->g);
  static char line[512];

  snprintf (line, sizeof line, "%.*s", e ? (int) strcspn (e, "\n") : 0, e ? e : "");
  return line[0] ? line : "libguestfs failed";
}

static int
gerr (struct files_gfs *g, const char *what)
{
  int no = guestfs_last_errno (g->g);

  gsay (g, 0, "%s: %s", what, last_error (g));
  return no > 0 ? -no : -EIO;
}

static int
launch (struct files_gfs *g, const char *sock, bool tcg)
{
  char server[4200];
  const char *servers[] = { server, NULL };
  char *settings[] = { (char *) "force_tcg", NULL };

  snprintf (server, sizeof server, "unix:%s", sock);
  if ((g->g = guestfs_create ()) == NULL)
    return gsay (g, -ENOMEM, "cannot create a libguestfs handle");
  guestfs_set_error_handler (g->g, NULL, NULL);
  if (tcg)
    guestfs_set_backend_settings (g->g, settings);
  if (guestfs_add_drive_opts (g->g, "", GUESTFS_ADD_DRIVE_OPTS_FORMAT, "raw",
                              GUESTFS_ADD_DRIVE_OPTS_PROTOCOL, "nbd",
                              GUESTFS_ADD_DRIVE_OPTS_SERVER, servers,
                              GUESTFS_ADD_DRIVE_OPTS_READONLY, 1, -1) < 0 ||
      guestfs_launch (g->g) < 0) {
    int r = gerr (g, "libguestfs could not start its appliance");
    guestfs_close (g->g);
    g->g = NULL;
    return r;
  }
  return 0;
}

int
files_gfs_open (const char *sock, const struct files_volume *vol,
                struct files_gfs **gp, char *msg, size_t len)
{
  struct files_gfs *g = calloc (1, sizeof *g);
  int r;

  if (g == NULL)
    return -ENOMEM;
  snprintf (g->fs, sizeof g->fs, "%s", vol->fs);
  g->part = vol->part;
  if ((r = launch (g, sock, false)) < 0 && getenv ("LIBGUESTFS_BACKEND_SETTINGS") == NULL)
    r = launch (g, sock, true);
  if (r < 0) {
    snprintf (msg, len, "%s", g->msg);
    free (g);
    return r;
  }
  *gp = g;
  return 0;
}

void
files_gfs_close (struct files_gfs *g)
{
  if (g == NULL)
    return;
  guestfs_shutdown (g->g);
  guestfs_close (g->g);
  free (g);
}

const char *
files_gfs_error (const struct files_gfs *g)
{
  return g->msg;
}

/* ---- which device, and the path on it ----------------------------------- */

/* Split rest ("/VG/LV/x" on LVM, else "/x") into a device to mount and
 * the path on it; *virt is set when rest names the VG/LV levels
 * themselves (0: no, 1: the list of VGs, 2: the LVs of VG). */
static int
resolve (struct files_gfs *g, const char *rest, char *dev, size_t dlen,
         const char **path, int *virt, char *vg, size_t vglen)
{
  *virt = 0;
  if (strcmp (g->fs, "lvm2") != 0) {
    if (g->part)
      snprintf (dev, dlen, "/dev/sda%u", g->part);
    else
      snprintf (dev, dlen, "/dev/sda");
    *path = rest;
    return 0;
  }
  const char *p = rest + strspn (rest, "/"), *s1 = strchr (p, '/');
  if (!*p) {
    *virt = 1;
    return 0;
  }
  snprintf (vg, vglen, "%.*s", s1 ? (int) (s1 - p) : (int) strlen (p), p);
  if (!s1 || !s1[1 + strspn (s1 + 1, "/")]) {
    *virt = 2;
    return 0;
  }
  const char *lv = s1 + 1 + strspn (s1 + 1, "/"), *s2 = strchr (lv, '/');
  snprintf (dev, dlen, "/dev/%s/%.*s", vg, s2 ? (int) (s2 - lv) : (int) strlen (lv), lv);
  *path = s2 ? s2 : "/";
  return 0;
}

static int
mount_dev (struct files_gfs *g, const char *dev)
{
  char *fs;

  if (strcmp (g->mounted, dev) == 0)
    return 0;
  if (g->mounted[0]) {
    guestfs_umount_all (g->g);
    g->mounted[0] = 0;
  }
  if (guestfs_mount_ro (g->g, dev, "/") < 0) {
    fs = guestfs_vfs_type (g->g, dev);
    gsay (g, 0, "libguestfs cannot mount %s (%s): %s", dev, fs && *fs ? fs : g->fs,
          last_error (g));
    free (fs);
    return -ENOTSUP;
  }
  snprintf (g->mounted, sizeof g->mounted, "%s", dev);
  return 0;
}

/* ---- entries ---------------------------------------------------------------- */

static void
from_stat (const struct guestfs_statns *st, const char *name, struct files_entry *e)
{
  *e = (struct files_entry) {
    .name = strdup (name), .ino = (uint64_t) st->st_ino, .size = (uint64_t) st->st_size,
    .mode = (uint32_t) st->st_mode, .uid = (uint32_t) st->st_uid,
    .gid = (uint32_t) st->st_gid, .nlink = (uint32_t) st->st_nlink,
    .atime_ns = st->st_atime_sec * 1000000000 + st->st_atime_nsec,
    .mtime_ns = st->st_mtime_sec * 1000000000 + st->st_mtime_nsec,
    .ctime_ns = st->st_ctime_sec * 1000000000 + st->st_ctime_nsec,
  };
}

/* dir/name (malloc'd), or NULL: out of memory. */
static char *
join (const char *dir, const char *name)
{
  char *p;

  if (asprintf (&p, "%s%s%s", dir, dir[strlen (dir) - 1] == '/' ? "" : "/", name) < 0)
    return NULL;
  return p;
}

static int
lstat_one (struct files_gfs *g, const char *path, const char *name,
           struct files_entry *e)
{
  struct guestfs_statns *st = guestfs_lstatns (g->g, path);

  if (st == NULL)
    return gerr (g, path);
  from_stat (st, name, e);
  guestfs_free_statns (st);
  if (S_ISLNK (e->mode) && (e->target = guestfs_readlink (g->g, path)) == NULL)
    return gerr (g, path);
  return e->name ? 0 : -ENOMEM;
}

/* The entries of directory dir (on the mounted device) into v. */
static int
read_dir (struct files_gfs *g, const char *dir, files_entry_vector *v)
{
  struct guestfs_dirent_list *d = guestfs_readdir (g->g, dir);
  int r = 0;

  if (d == NULL)
    return gerr (g, dir);
  for (uint32_t i = 0; r == 0 && i < d->len; i++) {
    const char *n = d->val[i].name;
    struct files_entry e = { 0 };
    if (strcmp (n, ".") == 0 || strcmp (n, "..") == 0)
      continue;
    char *p = join (dir, n);
    if (p == NULL)
      r = -ENOMEM;
    else if ((r = lstat_one (g, p, n, &e)) == 0)
      r = files_entry_vector_append (v, e);
    else
      files_entry_clear (&e);
    free (p);
  }
  guestfs_free_dirent_list (d);
  return r;
}

static struct files_entry
virtual_dir (const char *name)
{
  return (struct files_entry) { .name = strdup (name), .mode = S_IFDIR | 0555, .nlink = 2 };
}

/* The LVM levels: volume groups, or the logical volumes of vg. */
static int
list_lvm (struct files_gfs *g, int level, const char *vg, files_entry_vector *v)
{
  char **names = level == 1 ? guestfs_vgs (g->g) : guestfs_lvs (g->g);
  size_t vl = strlen (vg);
  int r = 0;

  if (names == NULL)
    return gerr (g, "LVM");
  for (size_t i = 0; r == 0 && names[i]; i++) {
    const char *n = names[i];
    if (level == 2) {               /* "/dev/VG/LV" */
      if (strncmp (n, "/dev/", 5) != 0 || strncmp (n + 5, vg, vl) != 0 || n[5 + vl] != '/')
        continue;
      n += 6 + vl;
    }
    struct files_entry e = virtual_dir (n);
    r = e.name ? files_entry_vector_append (v, e) : -ENOMEM;
    if (r < 0)
      free (e.name);
  }
  for (size_t i = 0; names[i]; i++)
    free (names[i]);
  free (names);
  return r;
}

int
files_gfs_list (struct files_gfs *g, const char *rest, files_entry_vector *v)
{
  char dev[300], vg[256] = "";
  const char *path;
  int virt, r = resolve (g, rest, dev, sizeof dev, &path, &virt, vg, sizeof vg);
  struct guestfs_statns *st;

  if (r == 0 && virt)
    return list_lvm (g, virt, vg, v);
  if (r < 0 || (r = mount_dev (g, dev)) < 0)
    return r;
  if ((st = guestfs_statns (g->g, path)) == NULL)
    return gerr (g, path);
  bool dir = S_ISDIR (st->st_mode);
  guestfs_free_statns (st);
  if (dir)
    return read_dir (g, path, v);
  struct files_entry e = { 0 };
  const char *slash = strrchr (path, '/');
  if ((r = lstat_one (g, path, slash ? slash + 1 : path, &e)) == 0)
    r = files_entry_vector_append (v, e);
  else
    files_entry_clear (&e);
  return r;
}

int
files_gfs_stat (struct files_gfs *g, const char *rest, struct files_entry *e)
{
  char dev[300], vg[256] = "";
  const char *path, *slash;
  int virt, r = resolve (g, rest, dev, sizeof dev, &path, &virt, vg, sizeof vg);
  struct guestfs_statns *st;

  if (r == 0 && virt) {
    *e = virtual_dir (virt == 1 ? "/" : vg);
    return e->name ? 0 : -ENOMEM;
  }
  if (r < 0 || (r = mount_dev (g, dev)) < 0)
    return r;
  if ((st = guestfs_statns (g->g, path)) == NULL)
    return gerr (g, path);
  slash = strrchr (path, '/');
  from_stat (st, slash && slash[1] ? slash + 1 : path, e);
  guestfs_free_statns (st);
  return e->name ? 0 : -ENOMEM;
}

/* ---- contents ---------------------------------------------------------------- */

/* [off, off+len) of the file at path, size bytes long, to sink in
 * pieces; a file that ends before size is an error, never a short
 * read taken as its end. */
static int
give_file (struct files_gfs *g, const char *path, uint64_t size, uint64_t off,
           uint64_t len, const struct files_sink *sink, void *o)
{
  uint64_t end = off < size ? (len < size - off ? off + len : size) : off;
  int r = 0;

  for (uint64_t at = off; r == 0 && at < end;) {
    size_t want = end - at < COPY_CHUNK ? (size_t) (end - at) : COPY_CHUNK, got = 0;
    char *buf = guestfs_pread (g->g, path, (int) want, (int64_t) at, &got);
    if (buf == NULL)
      return gerr (g, path);
    if (got == 0 || got > want)
      r = gsay (g, -EIO, "%s: the file ended at %llu bytes, before its size %llu",
                path, (unsigned long long) at, (unsigned long long) size);
    else
      r = sink->data (o, buf, got);
    free (buf);
    at += got;
  }
  return r;
}

int
files_gfs_read (struct files_gfs *g, const char *rest, uint64_t off, uint64_t len,
                const struct files_sink *sink, void *o)
{
  char dev[300], vg[256];
  const char *path;
  int virt, r = resolve (g, rest, dev, sizeof dev, &path, &virt, vg, sizeof vg);
  struct guestfs_statns *st;

  if (r == 0 && virt)
    return -EISDIR;
  if (r < 0 || (r = mount_dev (g, dev)) < 0)
    return r;
  if ((st = guestfs_statns (g->g, path)) == NULL)
    return gerr (g, path);
  mode_t mode = (mode_t) st->st_mode;
  uint64_t size = (uint64_t) st->st_size;
  guestfs_free_statns (st);
  if (S_ISDIR (mode))
    return -EISDIR;
  if (!S_ISREG (mode))
    return gsay (g, -EINVAL, "%s is not a regular file", path);
  return give_file (g, path, size, off, len, sink, o);
}

/* ---- walks ---------------------------------------------------------------------- */

struct gwalk {
  struct files_gfs *g;
  const struct files_walk_ops *ops;
  void *o;
  uint64_t *links;                  /* inodes of files with nlink > 1 given */
  size_t nlinks;
  unsigned depth;
};

static int walk_path (struct gwalk *w, const char *path, struct files_entry *e);

static int
walk_dir (struct gwalk *w, const char *path, const struct files_entry *e)
{
  files_entry_vector v = empty_vector;
  int r;

  if (++w->depth > 4096)
    return gsay (w->g, -ELOOP, "directories nest too deep");
  if ((r = w->ops->enter (w->o, e)) < 0 || (r = read_dir (w->g, path, &v)) < 0) {
    files_entry_vector_clear (&v);
    return r;
  }
  for (size_t i = 0; r == 0 && i < v.len; i++) {
    char *p = join (path, v.ptr[i].name);
    if (p == NULL)
      r = -ENOMEM;
    else if (!files_name_safe (v.ptr[i].name))
      r = gsay (w->g, -EPERM, "refused to write a file named '%s'", v.ptr[i].name);
    else
      r = walk_path (w, p, &v.ptr[i]);
    free (p);
  }
  files_entry_vector_clear (&v);
  w->depth--;
  return r < 0 ? r : w->ops->leave (w->o, NULL);
}

static int
walk_file (struct gwalk *w, const char *path, const struct files_entry *e)
{
  int r;

  if (e->nlink > 1) {
    for (size_t i = 0; i < w->nlinks; i++)
      if (w->links[i] == e->ino)
        return w->ops->hardlink (w->o, e);
    uint64_t *l = realloc (w->links, (w->nlinks + 1) * sizeof *l);
    if (l == NULL)
      return -ENOMEM;
    w->links = l;
    w->links[w->nlinks++] = e->ino;
  }
  if ((r = w->ops->file (w->o, e)) < 0 ||
      (r = give_file (w->g, path, e->size, 0, e->size, &w->ops->sink, w->o)) < 0)
    return r;
  return w->ops->file_end (w->o, NULL);
}

static int
walk_path (struct gwalk *w, const char *path, struct files_entry *e)
{
  if (S_ISDIR (e->mode))
    return walk_dir (w, path, e);
  if (S_ISREG (e->mode))
    return walk_file (w, path, e);
  if (S_ISLNK (e->mode))
    return w->ops->symlink (w->o, e);
  return w->ops->special (w->o, e);
}

int
files_gfs_walk (struct files_gfs *g, const char *rest,
                const struct files_walk_ops *ops, void *o)
{
  struct gwalk w = { .g = g, .ops = ops, .o = o };
  struct files_entry e = { 0 };
  char dev[300], vg[256];
  const char *path;
  int virt, r = resolve (g, rest, dev, sizeof dev, &path, &virt, vg, sizeof vg);

  if (r == 0 && virt)
    return gsay (g, -ENOTSUP, "get of a volume group level is not supported; "
                 "get /pN/VG/LV instead");
  if (r < 0 || (r = mount_dev (g, dev)) < 0 ||
      (r = lstat_one (g, path, "top", &e)) < 0) {
    files_entry_clear (&e);
    return r;
  }
  r = walk_path (&w, path, &e);
  files_entry_clear (&e);
  free (w.links);
  return r;
}

#else /* !HAVE_GUESTFS */

bool files_gfs_available (void) { return false; }
int files_gfs_open (const char *sock, const struct files_volume *vol,
                    struct files_gfs **gp, char *msg, size_t len)
{ snprintf (msg, len, "cdp was built without libguestfs"); return -ENOTSUP; }
void files_gfs_close (struct files_gfs *g) { }
const char *files_gfs_error (const struct files_gfs *g) { return ""; }
int files_gfs_list (struct files_gfs *g, const char *rest, files_entry_vector *v) { return -ENOTSUP; }
int files_gfs_stat (struct files_gfs *g, const char *rest, struct files_entry *e) { return -ENOTSUP; }
int files_gfs_read (struct files_gfs *g, const char *rest, uint64_t off, uint64_t len,
                    const struct files_sink *sink, void *o) { return -ENOTSUP; }
int files_gfs_walk (struct files_gfs *g, const char *rest,
                    const struct files_walk_ops *ops, void *o) { return -ENOTSUP; }

#endif
