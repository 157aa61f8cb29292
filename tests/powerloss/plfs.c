/* plfs: a FUSE file system that knows what a power loss would leave.
 *
 *   plfs [--trace FILE] [--keep SEED] STATE MOUNTPOINT
 *
 * Every operation passes through to STATE/live, so that the programs
 * using MOUNTPOINT see an ordinary file system.  Beside it plfs keeps the
 * durable state, the way a disk with a volatile cache and a file system
 * that promises only what POSIX promises would:
 *
 *   - a regular file's durable contents and size (STATE/shadow/ID) are
 *     what they were at its last fsync or fdatasync, or at a write the
 *     kernel sent with O_DSYNC/O_SYNC in its flags (an O_SYNC/O_DSYNC
 *     open, a RWF_DSYNC write, an O_DIRECT write included);
 *   - a directory's durable entries (name -> file) are what they were at
 *     its last fsync: a create, mkdir, rename, unlink or bind is lost at a
 *     power cut until the directory holding it is fsynced;
 *   - a file or directory that was never synced is empty.
 *
 * SIGUSR1 cuts the power: from then on every operation fails with EIO and
 * nothing more becomes durable; when the file system is unmounted,
 * STATE/live is replaced by the durable state alone, so that mounting it
 * again shows exactly what the disk would hold after the cut.  Without
 * --keep everything unsynced is lost.  With --keep SEED a PRNG seeded
 * with SEED decides, as a disk may have written any part of its cache
 * and a file system some of its changes: each unsynced 4 KiB block of
 * written data within the durable size survives the cut, or not, or in
 * part (some of its 512-byte sectors: a torn write); each directory keeps
 * the first k of its unsynced changes (creates, renames, unlinks, in the
 * order they were made).  An unmount without a cut is an orderly
 * shutdown and loses nothing.
 *
 * Not modelled: a sector torn inside (a 512-byte sector is old or new),
 * metadata other than directory entries and file sizes (modes and owners
 * are those last seen), a move between directories kept in one and not
 * the other (it may then be in both or neither), hard links (a file
 * appears once per durable entry, as separate copies).
 *
 * --trace FILE writes one line per write, fsync and fsyncdir, with the
 * flags the kernel sent: how a test finds out what reaches a FUSE file
 * system for O_DIRECT writes with RWF_DSYNC issued through io_uring. */
#define FUSE_USE_VERSION 35
#include <fuse.h>

#include <assert.h>
#include <stdarg.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

struct range { off_t off, len; };

struct dent;
struct nsop;

struct node {
  uint64_t id;
  ino_t ino;
  mode_t mode;                  /* type and permissions last seen */
  uid_t uid;
  gid_t gid;
  pthread_mutex_t lock;         /* regular files: dirty, min_size, rfd */
  struct range *dirty;          /* written since the last sync */
  size_t ndirty, capdirty;
  off_t min_size;               /* smallest size since the last sync; -1 */
  int rfd;                      /* live contents, read at the cut; -1 */
  char *target;                 /* symlink */
  struct dent *ents;            /* directory: durable entries */
  size_t nents;
  struct nsop *log;             /* its changes since, in order */
  size_t nlog, caplog;
  struct node *next;            /* hash chain */
  struct node *all;             /* every node, for the cut */
};

struct dent { char *name; struct node *n; };

/* A change of a directory's entries: name now names n (NULL: nothing);
 * with name2, n moved there from name (a rename within the directory). */
struct nsop { char *name, *name2; struct node *n; };

struct handle { int fd; struct node *n; };

#define NBUCKETS 4096
static struct node *buckets[NBUCKETS];
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t next_id = 1;
static struct node *root, *all_nodes;
static int live_fd = -1, shadow_fd = -1;
static volatile sig_atomic_t cut;
static FILE *trace;
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static bool keep;
static uint64_t keep_state;

static void
die (const char *what)
{
  fprintf (stderr, "plfs: %s: %s\n", what, strerror (errno));
  exit (1);
}

static void
tracef (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

static void
tracef (const char *fmt, ...)
{
  va_list ap;

  if (!trace)
    return;
  va_start (ap, fmt);
  pthread_mutex_lock (&trace_lock);
  vfprintf (trace, fmt, ap);
  fflush (trace);
  pthread_mutex_unlock (&trace_lock);
  va_end (ap);
}

/* FUSE paths start with '/'; the live tree is reached relative to
 * live_fd. */
static const char *
rel (const char *path)
{
  return path[1] ? path + 1 : ".";
}

/* ---- nodes ----------------------------------------------------------- */

static struct node *
find_locked (ino_t ino)
{
  for (struct node *n = buckets[ino % NBUCKETS]; n; n = n->next)
    if (n->ino == ino)
      return n;
  return NULL;
}

static void
unhash_locked (struct node *n)
{
  struct node **p = &buckets[n->ino % NBUCKETS];

  while (*p != n)
    p = &(*p)->next;
  *p = n->next;
}

/* A new file: nothing of it is durable yet.  The node an earlier file of
 * the same inode number had stays, for the durable entries naming it. */
static struct node *
node_new_locked (const struct stat *st)
{
  struct node *old = find_locked (st->st_ino), *n = calloc (1, sizeof *n);

  if (n == NULL)
    abort ();
  if (old)
    unhash_locked (old);
  n->id = next_id++;
  n->ino = st->st_ino;
  n->mode = st->st_mode;
  n->uid = st->st_uid;
  n->gid = st->st_gid;
  n->min_size = -1;
  n->rfd = -1;
  pthread_mutex_init (&n->lock, NULL);
  n->next = buckets[n->ino % NBUCKETS];
  buckets[n->ino % NBUCKETS] = n;
  n->all = all_nodes;
  all_nodes = n;
  return n;
}

static struct node *
node_get_locked (const struct stat *st)
{
  struct node *n = find_locked (st->st_ino);

  if (n == NULL)
    return node_new_locked (st);
  n->mode = st->st_mode;
  n->uid = st->st_uid;
  n->gid = st->st_gid;
  return n;
}

static struct node *
node_of_fd (int fd)
{
  struct stat st;
  struct node *n;

  if (fstat (fd, &st) < 0)
    return NULL;
  pthread_mutex_lock (&g_lock);
  n = node_get_locked (&st);
  pthread_mutex_unlock (&g_lock);
  return n;
}

static struct node *
node_created (const char *path)
{
  struct stat st;
  struct node *n;

  if (fstatat (live_fd, rel (path), &st, AT_SYMLINK_NOFOLLOW) < 0)
    return NULL;
  pthread_mutex_lock (&g_lock);
  n = node_new_locked (&st);
  if (S_ISLNK (st.st_mode)) {
    char buf[PATH_MAX];
    ssize_t l = readlinkat (live_fd, rel (path), buf, sizeof buf - 1);
    buf[l < 0 ? 0 : l] = 0;
    n->target = strdup (buf);
  }
  pthread_mutex_unlock (&g_lock);
  return n;
}

/* The directory that holds path, and path's last component. */
static struct node *
parent_of (const char *path, const char **name)
{
  const char *r = rel (path), *slash = strrchr (r, '/');
  char dir[PATH_MAX];
  struct stat st;

  *name = slash ? slash + 1 : r;
  snprintf (dir, sizeof dir, "%.*s", slash ? (int) (slash - r) : 1, slash ? r : ".");
  if (fstatat (live_fd, dir, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return NULL;
  return node_get_locked (&st);
}

static void
log_op (const char *path, const char *path2, struct node *n)
{
  const char *name, *name2 = NULL;
  struct node *d, *d2 = NULL;

  pthread_mutex_lock (&g_lock);
  d = parent_of (path, &name);
  if (path2)
    d2 = parent_of (path2, &name2);
  if (d && d2 && d2 != d) {              /* a move between directories */
    struct nsop *o;
    for (int i = 0; i < 2; i++) {
      struct node *dd = i ? d2 : d;
      if (dd->nlog == dd->caplog) {
        dd->caplog = dd->caplog ? 2 * dd->caplog : 16;
        if ((dd->log = realloc (dd->log, dd->caplog * sizeof *dd->log)) == NULL)
          abort ();
      }
      o = &dd->log[dd->nlog++];
      *o = (struct nsop) { strdup (i ? name2 : name), NULL, i ? n : NULL };
    }
  } else if (d) {
    if (d->nlog == d->caplog) {
      d->caplog = d->caplog ? 2 * d->caplog : 16;
      if ((d->log = realloc (d->log, d->caplog * sizeof *d->log)) == NULL)
        abort ();
    }
    d->log[d->nlog++] = (struct nsop) { strdup (name), name2 ? strdup (name2) : NULL, n };
  }
  pthread_mutex_unlock (&g_lock);
}

static void
log_free (struct node *d)
{
  for (size_t i = 0; i < d->nlog; i++) {
    free (d->log[i].name);
    free (d->log[i].name2);
  }
  d->nlog = 0;
}

/* ---- durable contents of regular files -------------------------------- */

static int
copy_range (int from, int to, off_t off, off_t len)
{
  static __thread char buf[1 << 20];

  while (len > 0) {
    ssize_t r = pread (from, buf, len < (off_t) sizeof buf ? (size_t) len : sizeof buf, off);
    if (r < 0)
      return -errno;
    if (r == 0)
      break;
    if (pwrite (to, buf, (size_t) r, off) != r)
      return -EIO;
    off += r;
    len -= r;
  }
  return 0;
}

static int
shadow_open (struct node *n)
{
  char name[32];

  snprintf (name, sizeof name, "%" PRIu64, n->id);
  return openat (shadow_fd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
}

static void
dirty_add (struct node *n, off_t off, off_t len)
{
  struct range *last = n->ndirty ? &n->dirty[n->ndirty - 1] : NULL;

  if (last && off >= last->off && off <= last->off + last->len) {
    if (off + len > last->off + last->len)
      last->len = off + len - last->off;
    return;
  }
  if (n->ndirty == n->capdirty) {
    n->capdirty = n->capdirty ? 2 * n->capdirty : 16;
    n->dirty = realloc (n->dirty, n->capdirty * sizeof *n->dirty);
    if (n->dirty == NULL)
      abort ();
  }
  n->dirty[n->ndirty++] = (struct range) { off, len };
}

/* The live file's reader for the cut, opened once. */
static void
keep_reader (struct node *n, int fd)
{
  char proc[64];

  if (n->rfd >= 0)
    return;
  snprintf (proc, sizeof proc, "/proc/self/fd/%d", fd);
  n->rfd = open (proc, O_RDONLY | O_CLOEXEC);
}

/* fsync/fdatasync: everything written to the file becomes durable, and
 * its size.  Called with n->lock held. */
static int
sync_file_locked (struct node *n, int fd)
{
  struct stat st;
  int sfd, r = 0;

  if (cut)
    return -EIO;
  if (fstat (fd, &st) < 0)
    return -errno;
  sfd = shadow_open (n);
  if (sfd < 0)
    return -errno;
  if (n->min_size >= 0 && ftruncate (sfd, n->min_size) < 0)
    r = -errno;
  if (r == 0 && ftruncate (sfd, st.st_size) < 0)
    r = -errno;
  for (size_t i = 0; r == 0 && i < n->ndirty; i++)
    r = copy_range (fd, sfd, n->dirty[i].off, n->dirty[i].len);
  close (sfd);
  if (r == 0) {
    n->ndirty = 0;
    n->min_size = -1;
  }
  return r;
}

/* A write with O_DSYNC: its own range becomes durable, and the size it
 * needs.  Called with n->lock held. */
static int
sync_range_locked (struct node *n, int fd, off_t off, off_t len)
{
  struct stat st;
  int sfd, r = 0;

  if (n->min_size >= 0)
    return sync_file_locked (n, fd);
  if (cut)
    return -EIO;
  sfd = shadow_open (n);
  if (sfd < 0)
    return -errno;
  if (fstat (sfd, &st) < 0)
    r = -errno;
  else if (st.st_size < off + len && ftruncate (sfd, off + len) < 0)
    r = -errno;
  if (r == 0)
    r = copy_range (fd, sfd, off, len);
  close (sfd);
  return r;
}

/* ---- durable entries of directories ----------------------------------- */

static void
ents_free (struct dent *e, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free (e[i].name);
  free (e);
}

/* The directory's entries as they are now become its durable ones. */
static int
sync_dir (int dfd, struct node *d)
{
  int fd = openat (dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dir = fd >= 0 ? fdopendir (fd) : NULL;
  struct dent *ents = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;

  if (dir == NULL) {
    if (fd >= 0)
      close (fd);
    return -EIO;
  }
  pthread_mutex_lock (&g_lock);
  while ((de = readdir (dir)) != NULL) {
    struct stat st;
    if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
      continue;
    if (fstatat (dirfd (dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
      continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 16;
      ents = realloc (ents, cap * sizeof *ents);
      if (ents == NULL)
        abort ();
    }
    ents[n++] = (struct dent) { strdup (de->d_name), node_get_locked (&st) };
  }
  if (cut) {
    pthread_mutex_unlock (&g_lock);
    closedir (dir);
    ents_free (ents, n);
    return -EIO;
  }
  ents_free (d->ents, d->nents);
  d->ents = ents;
  d->nents = n;
  log_free (d);
  pthread_mutex_unlock (&g_lock);
  closedir (dir);
  return 0;
}

/* At the mount, everything there is durable. */
static int
scan (int dfd, struct node *d)
{
  int r = sync_dir (dfd, d);

  for (size_t i = 0; r == 0 && i < d->nents; i++) {
    struct node *n = d->ents[i].n;
    const char *name = d->ents[i].name;
    if (S_ISDIR (n->mode)) {
      int sub = openat (dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0)
        return -errno;
      r = scan (sub, n);
      close (sub);
    } else if (S_ISREG (n->mode)) {
      int fd = openat (dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      struct stat st;
      if (fd < 0 || fstat (fd, &st) < 0)
        return -errno;
      dirty_add (n, 0, st.st_size);
      r = sync_file_locked (n, fd);
      close (fd);
    } else if (S_ISLNK (n->mode)) {
      char buf[PATH_MAX];
      ssize_t l = readlinkat (dfd, name, buf, sizeof buf - 1);
      if (l < 0)
        return -errno;
      buf[l] = 0;
      n->target = strdup (buf);
    }
  }
  return r;
}

/* ---- the cut ------------------------------------------------------------ */

static uint64_t
prng (void)
{
  /* splitmix64 */
  uint64_t z = (keep_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Some unsynced blocks reached the disk before the power went: of each
 * 4 KiB block, nothing, all, or (one in four) some of its 512-byte
 * sectors, a write torn by the cut. */
static void
keep_some (struct node *n)
{
  struct stat st;
  int sfd;

  if (n->rfd < 0 || n->ndirty == 0 || (sfd = shadow_open (n)) < 0)
    return;
  if (fstat (sfd, &st) == 0)
    for (size_t i = 0; i < n->ndirty; i++)
      for (off_t b = n->dirty[i].off & ~(off_t) 4095;
           b < n->dirty[i].off + n->dirty[i].len && b < st.st_size; b += 4096) {
        off_t len = 4096 < st.st_size - b ? 4096 : st.st_size - b;
        uint64_t r = prng ();
        if ((r & 3) == 1 || (r & 3) == 2)
          copy_range (n->rfd, sfd, b, len);
        else if ((r & 3) == 3)
          for (off_t s = 0; s < len; s += 512)
            if ((r >> (8 + s / 512)) & 1)
              copy_range (n->rfd, sfd, b + s, 512 < len - s ? 512 : len - s);
      }
  close (sfd);
}

static void
ents_set (struct node *d, const char *name, struct node *n)
{
  for (size_t i = 0; i < d->nents; i++)
    if (strcmp (d->ents[i].name, name) == 0) {
      if (n) {
        d->ents[i].n = n;
      } else {
        free (d->ents[i].name);
        d->ents[i] = d->ents[--d->nents];
      }
      return;
    }
  if (n == NULL)
    return;
  if ((d->ents = realloc (d->ents, (d->nents + 1) * sizeof *d->ents)) == NULL)
    abort ();
  d->ents[d->nents++] = (struct dent) { strdup (name), n };
}

/* The file system wrote some of the directory's changes before the
 * power went: the first k, for a k the PRNG picks. */
static void
keep_ops (struct node *d)
{
  size_t k = d->nlog ? prng () % (d->nlog + 1) : 0;

  for (size_t i = 0; i < k; i++) {
    struct nsop *o = &d->log[i];
    if (o->name2) {
      ents_set (d, o->name, NULL);
      ents_set (d, o->name2, o->n);
    } else {
      ents_set (d, o->name, o->n);
    }
  }
}

static int
materialize (int out, struct node *d)
{
  for (size_t i = 0; i < d->nents; i++) {
    struct node *n = d->ents[i].n;
    const char *name = d->ents[i].name;
    mode_t perm = n->mode & 07777;
    int r = 0;

    if (S_ISDIR (n->mode)) {
      int sub;
      if (mkdirat (out, name, perm) < 0 ||
          (sub = openat (out, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return -errno;
      r = materialize (sub, n);
      close (sub);
    } else if (S_ISREG (n->mode)) {
      int fd = openat (out, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, perm);
      int sfd = shadow_open (n);
      struct stat st;
      if (fd < 0 || sfd < 0 || fstat (sfd, &st) < 0)
        return -errno;
      if (ftruncate (fd, st.st_size) < 0)
        r = -errno;
      for (off_t o = 0; r == 0 && (o = lseek (sfd, o, SEEK_DATA)) >= 0;) {
        off_t e = lseek (sfd, o, SEEK_HOLE);
        r = copy_range (sfd, fd, o, e - o);
        o = e;
      }
      close (sfd);
      close (fd);
    } else if (S_ISLNK (n->mode)) {
      if (symlinkat (n->target ? n->target : "", out, name) < 0)
        r = -errno;
    } else if (mknodat (out, name, n->mode, 0) < 0) {
      r = -errno;
    }
    if (r == 0 && !S_ISLNK (n->mode))
      r = fchownat (out, name, n->uid, n->gid, 0) < 0 ? -errno : 0;
    if (r < 0)
      return r;
  }
  return 0;
}

static int
rm_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove (path);
}

static void
rm_rf (const char *path)
{
  if (nftw (path, rm_one, 64, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
    die (path);
}

/* Replace STATE/live with the durable state. */
static void
power_cut (const char *state)
{
  char live[PATH_MAX], next[PATH_MAX], old[PATH_MAX], shadow[PATH_MAX];
  int out, r;

  snprintf (live, sizeof live, "%s/live", state);
  snprintf (next, sizeof next, "%s/live.cut", state);
  snprintf (old, sizeof old, "%s/live.old", state);
  snprintf (shadow, sizeof shadow, "%s/shadow", state);
  if (keep)
    for (struct node *n = all_nodes; n; n = n->all) {
      if (S_ISREG (n->mode))
        keep_some (n);
      else if (S_ISDIR (n->mode))
        keep_ops (n);
    }
  rm_rf (next);
  if (mkdir (next, root->mode & 07777) < 0 ||
      (out = open (next, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    die (next);
  r = materialize (out, root);
  if (r < 0) {
    errno = -r;
    die ("writing the durable state");
  }
  close (out);
  if (rename (live, old) < 0 || rename (next, live) < 0)
    die ("replacing the live tree");
  rm_rf (old);
  rm_rf (shadow);
}

/* ---- operations ----------------------------------------------------------- */

#define CUT_CHECK() do { if (cut) return -EIO; } while (0)

static struct handle *
H (struct fuse_file_info *fi)
{
  return (struct handle *) (uintptr_t) fi->fh;
}

static void *
pl_init (struct fuse_conn_info *conn, struct fuse_config *cfg)
{
  cfg->use_ino = 1;
  cfg->nullpath_ok = 1;
  cfg->hard_remove = 1;           /* no .fuse_hidden files in the tree */
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  return NULL;
}

static int
pl_getattr (const char *path, struct stat *st, struct fuse_file_info *fi)
{
  CUT_CHECK ();
  if (fi)
    return fstat (H (fi)->fd, st) < 0 ? -errno : 0;
  return fstatat (live_fd, rel (path), st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int
pl_readlink (const char *path, char *buf, size_t size)
{
  ssize_t l;

  CUT_CHECK ();
  l = readlinkat (live_fd, rel (path), buf, size - 1);
  if (l < 0)
    return -errno;
  buf[l] = 0;
  return 0;
}

static int
pl_mknod (const char *path, mode_t mode, dev_t rdev)
{
  CUT_CHECK ();
  if (mknodat (live_fd, rel (path), mode, rdev) < 0)
    return -errno;
  log_op (path, NULL, node_created (path));
  return 0;
}

static int
pl_mkdir (const char *path, mode_t mode)
{
  CUT_CHECK ();
  if (mkdirat (live_fd, rel (path), mode) < 0)
    return -errno;
  log_op (path, NULL, node_created (path));
  return 0;
}

static int
pl_symlink (const char *target, const char *path)
{
  CUT_CHECK ();
  if (symlinkat (target, live_fd, rel (path)) < 0)
    return -errno;
  log_op (path, NULL, node_created (path));
  return 0;
}

static int
pl_unlink (const char *path)
{
  CUT_CHECK ();
  if (unlinkat (live_fd, rel (path), 0) < 0)
    return -errno;
  log_op (path, NULL, NULL);
  return 0;
}

static int
pl_rmdir (const char *path)
{
  CUT_CHECK ();
  if (unlinkat (live_fd, rel (path), AT_REMOVEDIR) < 0)
    return -errno;
  log_op (path, NULL, NULL);
  return 0;
}

static int
pl_rename (const char *from, const char *to, unsigned int flags)
{
  struct stat a, b;
  struct node *na, *nb = NULL;

  CUT_CHECK ();
  if (fstatat (live_fd, rel (from), &a, AT_SYMLINK_NOFOLLOW) < 0)
    return -errno;
  if ((flags & RENAME_EXCHANGE) &&
      fstatat (live_fd, rel (to), &b, AT_SYMLINK_NOFOLLOW) < 0)
    return -errno;
  if (renameat2 (live_fd, rel (from), live_fd, rel (to), flags) < 0)
    return -errno;
  pthread_mutex_lock (&g_lock);
  na = node_get_locked (&a);
  if (flags & RENAME_EXCHANGE)
    nb = node_get_locked (&b);
  pthread_mutex_unlock (&g_lock);
  if (flags & RENAME_EXCHANGE) {
    log_op (to, NULL, na);
    log_op (from, NULL, nb);
  } else {
    log_op (from, to, na);
  }
  return 0;
}

static int
pl_link (const char *from, const char *to)
{
  struct stat st;
  struct node *n;

  CUT_CHECK ();
  if (linkat (live_fd, rel (from), live_fd, rel (to), 0) < 0 ||
      fstatat (live_fd, rel (to), &st, AT_SYMLINK_NOFOLLOW) < 0)
    return -errno;
  pthread_mutex_lock (&g_lock);
  n = node_get_locked (&st);
  pthread_mutex_unlock (&g_lock);
  log_op (to, NULL, n);
  return 0;
}

static int
pl_chmod (const char *path, mode_t mode, struct fuse_file_info *fi)
{
  CUT_CHECK ();
  if (fi)
    return fchmod (H (fi)->fd, mode) < 0 ? -errno : 0;
  return fchmodat (live_fd, rel (path), mode, 0) < 0 ? -errno : 0;
}

static int
pl_chown (const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
  CUT_CHECK ();
  if (fi)
    return fchown (H (fi)->fd, uid, gid) < 0 ? -errno : 0;
  return fchownat (live_fd, rel (path), uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static void
size_changed (struct node *n, off_t old, off_t size)
{
  pthread_mutex_lock (&n->lock);
  if (size < old && (n->min_size < 0 || size < n->min_size))
    n->min_size = size;
  if (size > old)
    dirty_add (n, old, size - old);
  pthread_mutex_unlock (&n->lock);
}

static int
truncate_fd (int fd, off_t size)
{
  struct node *n = node_of_fd (fd);
  struct stat st;

  if (n == NULL || fstat (fd, &st) < 0)
    return -errno;
  if (ftruncate (fd, size) < 0)
    return -errno;
  size_changed (n, st.st_size, size);
  return 0;
}

static int
pl_truncate (const char *path, off_t size, struct fuse_file_info *fi)
{
  int fd, r;

  CUT_CHECK ();
  if (fi)
    return truncate_fd (H (fi)->fd, size);
  fd = openat (live_fd, rel (path), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  r = truncate_fd (fd, size);
  close (fd);
  return r;
}

static int
pl_utimens (const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
  CUT_CHECK ();
  if (fi)
    return futimens (H (fi)->fd, tv) < 0 ? -errno : 0;
  return utimensat (live_fd, rel (path), tv, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/* The flags that matter are kept by the kernel and sent with each write;
 * the live file is opened without them. */
static int
open_common (const char *path, struct fuse_file_info *fi, mode_t mode, bool create)
{
  int flags = fi->flags & ~(O_DIRECT | O_SYNC | O_DSYNC | O_NOFOLLOW);
  struct stat before;
  bool existed = fstatat (live_fd, rel (path), &before, AT_SYMLINK_NOFOLLOW) == 0;
  struct handle *h;
  struct node *n;
  int fd;

  CUT_CHECK ();
  if ((flags & O_ACCMODE) == O_WRONLY)      /* a sync reads what was written */
    flags = (flags & ~O_ACCMODE) | O_RDWR;
  fd = openat (live_fd, rel (path), flags | O_CLOEXEC, mode);
  if (fd < 0)
    return -errno;
  n = create && !existed ? node_created (path) : node_of_fd (fd);
  if (n == NULL) {
    close (fd);
    return -EIO;
  }
  if (create && !existed)
    log_op (path, NULL, n);
  if (existed && (flags & O_TRUNC) && before.st_size > 0)
    size_changed (n, before.st_size, 0);
  h = malloc (sizeof *h);
  if (h == NULL)
    abort ();
  *h = (struct handle) { fd, n };
  fi->fh = (uintptr_t) h;
  return 0;
}

static int
pl_create (const char *path, mode_t mode, struct fuse_file_info *fi)
{
  return open_common (path, fi, mode, true);
}

static int
pl_open (const char *path, struct fuse_file_info *fi)
{
  return open_common (path, fi, 0, false);
}

static int
pl_read (const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
  ssize_t r;

  CUT_CHECK ();
  r = pread (H (fi)->fd, buf, size, off);
  return r < 0 ? -errno : (int) r;
}

static int
pl_write (const char *path, const char *buf, size_t size, off_t off,
          struct fuse_file_info *fi)
{
  struct handle *h = H (fi);
  struct node *n = h->n;
  bool dsync = (fi->flags & (O_DSYNC | O_SYNC)) != 0;
  ssize_t w;
  int r = 0;

  CUT_CHECK ();
  tracef ("write id=%" PRIu64 " off=%jd len=%zu flags=0%o dsync=%d direct=%d\n",
          n->id, (intmax_t) off, size, (unsigned) fi->flags, dsync,
          (fi->flags & O_DIRECT) != 0);
  pthread_mutex_lock (&n->lock);
  keep_reader (n, h->fd);
  dirty_add (n, off, (off_t) size);
  w = pwrite (h->fd, buf, size, off);
  if (w < 0)
    r = -errno;
  else if (dsync && w > 0)
    r = sync_range_locked (n, h->fd, off, w);
  pthread_mutex_unlock (&n->lock);
  return r < 0 ? r : (int) w;
}

static int
pl_statfs (const char *path, struct statvfs *st)
{
  CUT_CHECK ();
  return fstatvfs (live_fd, st) < 0 ? -errno : 0;
}

static int
pl_release (const char *path, struct fuse_file_info *fi)
{
  close (H (fi)->fd);
  free (H (fi));
  return 0;
}

static int
pl_fsync (const char *path, int datasync, struct fuse_file_info *fi)
{
  struct handle *h = H (fi);
  int r;

  CUT_CHECK ();
  tracef ("fsync id=%" PRIu64 " datasync=%d\n", h->n->id, datasync);
  pthread_mutex_lock (&h->n->lock);
  r = sync_file_locked (h->n, h->fd);
  pthread_mutex_unlock (&h->n->lock);
  return r;
}

static int
pl_opendir (const char *path, struct fuse_file_info *fi)
{
  int fd;
  DIR *d;

  CUT_CHECK ();
  fd = openat (live_fd, rel (path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  d = fdopendir (fd);
  if (d == NULL) {
    close (fd);
    return -errno;
  }
  fi->fh = (uintptr_t) d;
  return 0;
}

static int
pl_readdir (const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
            struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
  DIR *d = (DIR *) (uintptr_t) fi->fh;
  struct dirent *de;

  CUT_CHECK ();
  if (off == 0)
    rewinddir (d);
  else
    seekdir (d, off);
  while ((de = readdir (d)) != NULL) {
    struct stat st = { .st_ino = de->d_ino, .st_mode = (mode_t) de->d_type << 12 };
    if (fill (buf, de->d_name, &st, telldir (d), 0))
      break;
  }
  return 0;
}

static int
pl_releasedir (const char *path, struct fuse_file_info *fi)
{
  closedir ((DIR *) (uintptr_t) fi->fh);
  return 0;
}

static int
pl_fsyncdir (const char *path, int datasync, struct fuse_file_info *fi)
{
  DIR *d = (DIR *) (uintptr_t) fi->fh;
  struct node *n;

  CUT_CHECK ();
  n = node_of_fd (dirfd (d));
  tracef ("fsyncdir id=%" PRIu64 " %s\n", n ? n->id : 0, path ? path : "?");
  return n ? sync_dir (dirfd (d), n) : -EIO;
}

static int
pl_fallocate (const char *path, int mode, off_t off, off_t len,
              struct fuse_file_info *fi)
{
  struct handle *h = H (fi);
  struct stat st;

  CUT_CHECK ();
  if (fstat (h->fd, &st) < 0)
    return -errno;
  if (fallocate (h->fd, mode, off, len) < 0)
    return -errno;
  pthread_mutex_lock (&h->n->lock);
  dirty_add (h->n, off, len);
  pthread_mutex_unlock (&h->n->lock);
  if (!(mode & FALLOC_FL_KEEP_SIZE) && off + len > st.st_size)
    size_changed (h->n, st.st_size, off + len);
  return 0;
}

static off_t
pl_lseek (const char *path, off_t off, int whence, struct fuse_file_info *fi)
{
  off_t r;

  CUT_CHECK ();
  r = lseek (H (fi)->fd, off, whence);
  return r < 0 ? -errno : r;
}

static const struct fuse_operations ops = {
  .init = pl_init,
  .getattr = pl_getattr,
  .readlink = pl_readlink,
  .mknod = pl_mknod,
  .mkdir = pl_mkdir,
  .symlink = pl_symlink,
  .unlink = pl_unlink,
  .rmdir = pl_rmdir,
  .rename = pl_rename,
  .link = pl_link,
  .chmod = pl_chmod,
  .chown = pl_chown,
  .truncate = pl_truncate,
  .utimens = pl_utimens,
  .open = pl_open,
  .create = pl_create,
  .read = pl_read,
  .write = pl_write,
  .statfs = pl_statfs,
  .release = pl_release,
  .fsync = pl_fsync,
  .opendir = pl_opendir,
  .readdir = pl_readdir,
  .releasedir = pl_releasedir,
  .fsyncdir = pl_fsyncdir,
  .fallocate = pl_fallocate,
  .lseek = pl_lseek,
};

static void
on_cut (int sig)
{
  cut = 1;
}

static void
usage (void)
{
  fprintf (stderr, "usage: plfs [--trace FILE] [--keep SEED] STATE MOUNTPOINT\n");
  exit (2);
}

int
main (int argc, char **argv)
{
  char path[PATH_MAX];
  const char *state, *mnt;
  struct sigaction sa = { .sa_handler = on_cut };
  struct stat st;
  int i = 1, r;

  for (; i + 1 < argc && strncmp (argv[i], "--", 2) == 0; i += 2) {
    if (strcmp (argv[i], "--trace") == 0) {
      if ((trace = fopen (argv[i + 1], "a")) == NULL)
        die (argv[i + 1]);
    } else if (strcmp (argv[i], "--keep") == 0) {
      keep = true;
      keep_state = strtoull (argv[i + 1], NULL, 10);
    } else {
      usage ();
    }
  }
  if (argc - i != 2)
    usage ();
  state = argv[i];
  mnt = argv[i + 1];

  snprintf (path, sizeof path, "%s/live", state);
  if (mkdir (path, 0755) < 0 && errno != EEXIST)
    die (path);
  if ((live_fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
      fstat (live_fd, &st) < 0)
    die (path);
  snprintf (path, sizeof path, "%s/shadow", state);
  rm_rf (path);
  if (mkdir (path, 0700) < 0 ||
      (shadow_fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    die (path);
  root = node_new_locked (&st);
  r = scan (live_fd, root);
  if (r < 0) {
    errno = -r;
    die ("reading the live tree");
  }
  sigaction (SIGUSR1, &sa, NULL);

  char *fargs[] = { argv[0], (char *) mnt, "-f", "-o",
                    "allow_other,fsname=plfs,subtype=plfs,max_threads=16", NULL };
  r = fuse_main (5, fargs, &ops, NULL);
  if (cut)
    power_cut (state);
  return r;
}
