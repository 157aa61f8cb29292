/* cdp recovery, file-level browse: the sandboxed child.
 *
 * It runs one request at a time from the parent (files-parent.c): the
 * partition table, the file system probe and the file system itself are
 * parsed here, and every byte of the disk is asked of the parent
 * (child_pread), through a small cache.  Paths are resolved here; the
 * answers go back as entries, file layouts (disk extents, zero runs,
 * inline bytes) and one DONE with the status and a message.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recovery/files/files-internal.h"

#define CACHE_CHUNK (64u << 10)
#define CACHE_SLOTS 256u
#define MAX_DEPTH 4096

static int sock = -1;
static uint64_t disk_size;
static void *rbuf;
static size_t rcap;
static char errmsg[1024];

/* ---- reading the disk through the parent -------------------------------- */

struct cache_slot {
  uint64_t tag;                     /* chunk number + 1; 0: empty */
  uint32_t len;
  uint8_t *data;
};
static struct cache_slot cache[CACHE_SLOTS];

static int
ask_parent (void *buf, uint64_t off, uint32_t len)
{
  struct { uint64_t off; uint32_t len; } __attribute__ ((packed)) q = { off, len };
  struct fmsg m;
  int32_t err;
  int r = fm_send (sock, FM_PREAD, &q, sizeof q, NULL, 0);

  if (r == 0)
    r = fm_recv (sock, &m, &rbuf, &rcap);
  if (r < 0)
    return r;
  if (m.type != FM_DATA || m.len < sizeof err)
    return -EPROTO;
  memcpy (&err, rbuf, sizeof err);
  if (err < 0)
    return err;
  if (m.len - sizeof err != len)
    return -EPROTO;
  memcpy (buf, (char *) rbuf + sizeof err, len);
  return 0;
}

static struct cache_slot *
cache_get (uint64_t chunk, int *err)
{
  struct cache_slot *s = &cache[(chunk * 0x9E3779B97F4A7C15ull >> 40) % CACHE_SLOTS];
  uint64_t off = chunk * CACHE_CHUNK;
  uint32_t len = disk_size - off < CACHE_CHUNK ? (uint32_t) (disk_size - off)
                                               : CACHE_CHUNK;

  if (s->tag == chunk + 1)
    return s;
  if (s->data == NULL && (s->data = malloc (CACHE_CHUNK)) == NULL) {
    *err = -ENOMEM;
    return NULL;
  }
  s->tag = 0;
  if ((*err = ask_parent (s->data, off, len)) < 0)
    return NULL;
  s->tag = chunk + 1;
  s->len = len;
  return s;
}

int
child_pread (void *buf, uint64_t off, uint64_t len)
{
  uint8_t *p = buf;
  int r = 0;

  if (off > disk_size || len > disk_size - off) {
    child_error ("read past the end of the disk (offset %llu, %llu bytes)",
                 (unsigned long long) off, (unsigned long long) len);
    return -EIO;
  }
  while (len > 0) {
    uint64_t at = off % CACHE_CHUNK, n = CACHE_CHUNK - at;
    if (n > len)
      n = len;
    if (at == 0 && len >= 4 * CACHE_CHUNK) {      /* large: past the cache */
      n = len < FM_MAX_PREAD ? len : FM_MAX_PREAD;
      n -= n % CACHE_CHUNK;
      r = ask_parent (p, off, (uint32_t) n);
    }
    else {
      struct cache_slot *s = cache_get (off / CACHE_CHUNK, &r);
      if (s)
        memcpy (p, s->data + at, n);
    }
    if (r < 0)
      return r;
    p += n;
    off += n;
    len -= n;
  }
  return 0;
}

/* ---- answers ------------------------------------------------------------ */

void
child_error (const char *fmt, ...)
{
  va_list ap;

  if (errmsg[0])                    /* the first (innermost) cause wins */
    return;
  va_start (ap, fmt);
  vsnprintf (errmsg, sizeof errmsg, fmt, ap);
  va_end (ap);
}

int
child_emit_extent (uint64_t off, uint64_t len)
{
  uint64_t q[2] = { off, len };

  return len ? fm_send (sock, FM_EXTENT, q, sizeof q, NULL, 0) : 0;
}

int
child_emit_zero (uint64_t len)
{
  return len ? fm_send (sock, FM_ZERO, &len, sizeof len, NULL, 0) : 0;
}

int
child_emit_bytes (const void *buf, size_t len)
{
  const char *p = buf;
  int r = 0;

  while (r == 0 && len > 0) {
    size_t n = len < FM_MAX_PAYLOAD ? len : FM_MAX_PAYLOAD;
    r = fm_send (sock, FM_BYTES, p, n, NULL, 0);
    p += n;
    len -= n;
  }
  return r;
}

static int
emit_entry (const struct fm_entry *e0, const char *name, const char *target)
{
  struct fm_entry e = *e0;
  char payload[8192];
  size_t nl = strlen (name), tl = target ? strlen (target) : 0;

  if (nl > 4096 || tl > 4096)
    return -ENAMETOOLONG;
  e.name_len = (uint32_t) nl;
  e.target_len = (uint32_t) tl;
  memcpy (payload, name, nl);
  if (tl)
    memcpy (payload + nl, target, tl);
  return fm_send (sock, FM_ENTRY, &e, sizeof e, payload, nl + tl);
}

static int
emit_leave (void)
{
  return fm_send (sock, FM_LEAVE, NULL, 0, NULL, 0);
}

/* ---- volumes ------------------------------------------------------------- */

struct mount {
  const struct fs_ops *ops;
  struct fs_handle *h;
  const char *fs;
  int err;                          /* of the open; 0 if open */
  char msg[512];
};

static fvol_vector vols;
static bool partitioned, scanned;
static struct mount *mounts;
static struct fm_done unsupported;  /* the volume of the last -ENOTSUP */
static char unsupported_rest[4096];

static int
scan_disk (void)
{
  int r;

  if (scanned)
    return 0;
  if ((r = part_scan (disk_size, &vols)) < 0)
    return r;
  partitioned = vols.len > 0;
  if (!partitioned && (r = fvol_vector_append (&vols, (struct fvol) { 0, 0, disk_size })) < 0)
    return r;
  if ((mounts = calloc (vols.len, sizeof *mounts)) == NULL)
    return -ENOMEM;
  scanned = true;
  return 0;
}

static const char *
vol_label (const struct fvol *v, char *buf, size_t len)
{
  if (v->part)
    snprintf (buf, len, "partition p%u", v->part);
  else
    snprintf (buf, len, "the disk");
  return buf;
}

/* Volumes that hold no files for anyone to read: what they are. */
static const char *
no_files (const char *fs)
{
  static const char *const kinds[][2] = {
    { "swap", "swap space" }, { "luks", "an encrypted volume (LUKS)" },
    { "linux_raid", "a RAID member" }, { "zfs_member", "a ZFS pool member" },
    { "empty", "nothing (it begins with 128 KiB of zeros)" },
  };

  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp (fs, kinds[i][0]) == 0)
      return kinds[i][1];
  return NULL;
}

static struct mount *
mount_vol (size_t i)
{
  struct mount *m = &mounts[i];
  char label[32];

  if (m->ops || m->err)
    return m;
  m->fs = probe_fs (vols.ptr[i].off, vols.ptr[i].size);
  if (strncmp (m->fs, "ext", 3) == 0)
    m->ops = &ext_fs_ops;
  if (no_files (m->fs)) {
    m->err = -EMEDIUMTYPE;
    snprintf (m->msg, sizeof m->msg, "%s holds %s, not a file system",
              vol_label (&vols.ptr[i], label, sizeof label), no_files (m->fs));
    return m;
  }
  if (m->ops == NULL) {
    m->err = -ENOTSUP;
    if (strcmp (m->fs, "unknown") == 0)
      snprintf (m->msg, sizeof m->msg, "no file system that cdp knows on %s",
                vol_label (&vols.ptr[i], label, sizeof label));
    else
      snprintf (m->msg, sizeof m->msg, "%s holds %s, which cdp does not read "
                "itself", vol_label (&vols.ptr[i], label, sizeof label), m->fs);
    return m;
  }
  errmsg[0] = 0;
  m->err = m->ops->open (vols.ptr[i].off, vols.ptr[i].size, &m->h);
  if (m->err < 0) {
    snprintf (m->msg, sizeof m->msg, "cannot read the %s file system on %s: %s",
              m->fs, vol_label (&vols.ptr[i], label, sizeof label),
              errmsg[0] ? errmsg : strerror (-m->err));
    m->ops = NULL;
  }
  return m;
}

/* ---- paths ---------------------------------------------------------------- */

struct where {
  int vol;                          /* -1: the root of a partitioned disk */
  char path[4096];                  /* absolute, inside the volume */
  char name[256];                   /* the last component, "" at a root */
};

/* Split path into where: "." and ".." resolved lexically (clamped at
 * the root), the partition chosen by the first component. */
static int
locate (const char *path, struct where *w)
{
  char copy[4096], *comps[2048], *save = NULL;
  size_t n = 0, at = 0, skip = 0;

  if (path[0] != '/' || strlen (path) >= sizeof copy) {
    child_error ("the path must be absolute and shorter than 4096 bytes");
    return -EINVAL;
  }
  strcpy (copy, path);
  for (char *c = strtok_r (copy, "/", &save); c; c = strtok_r (NULL, "/", &save)) {
    if (strcmp (c, ".") == 0)
      continue;
    if (strcmp (c, "..") == 0) {
      n -= n > 0;
      continue;
    }
    if (n == sizeof comps / sizeof comps[0])
      return -ENAMETOOLONG;
    comps[n++] = c;
  }
  w->vol = 0;
  if (partitioned) {
    unsigned part;
    char tail;
    w->vol = -1;
    if (n > 0) {
      if (sscanf (comps[0], "p%u%c", &part, &tail) != 1) {
        child_error ("the disk has a partition table: paths start with a "
                     "partition (/p1, /p2, ... as 'cdp ls NAME --at T /' lists "
                     "them), not with '%s'", comps[0]);
        return -ENOENT;
      }
      for (size_t i = 0; i < vols.len; i++)
        if (vols.ptr[i].part == part)
          w->vol = (int) i;
      if (w->vol < 0)
        goto noent;
      skip = 1;
    }
  }
  w->path[at++] = '/';
  w->path[at] = 0;
  for (size_t i = skip; i < n; i++)
    at += (size_t) snprintf (w->path + at, sizeof w->path - at, "%s%s",
                             comps[i], i + 1 < n ? "/" : "");
  snprintf (w->name, sizeof w->name, "%s", n ? comps[n - 1] : "");
  return 0;
noent:
  child_error ("no partition %s on this disk", comps[0]);
  return -ENOENT;
}

static int
need_mount (const struct where *w, struct mount **mp)
{
  struct mount *m = mount_vol ((size_t) w->vol);

  if (m->err) {
    child_error ("%s", m->msg);
    if (m->err == -ENOTSUP) {
      const struct fvol *v = &vols.ptr[w->vol];
      unsupported = (struct fm_done) { .part = v->part, .off = v->off, .size = v->size };
      snprintf (unsupported.fs, sizeof unsupported.fs, "%s", m->fs);
      snprintf (unsupported_rest, sizeof unsupported_rest, "%s", w->path);
    }
    return m->err;
  }
  *mp = m;
  return 0;
}

/* ---- requests -------------------------------------------------------------- */

/* The entry of a volume at the root of a partitioned disk. */
static int
emit_volume (size_t i)
{
  struct fm_entry e = { .mode = S_IFDIR | 0555, .nlink = 2, .size = vols.ptr[i].size };
  char name[16];

  snprintf (e.fs, sizeof e.fs, "%s", probe_fs (vols.ptr[i].off, vols.ptr[i].size));
  snprintf (name, sizeof name, "p%u", vols.ptr[i].part);
  return emit_entry (&e, name, NULL);
}

static int
emit_root (const char *name)
{
  struct fm_entry e = { .mode = S_IFDIR | 0555, .nlink = 2, .size = disk_size };

  return emit_entry (&e, name, NULL);
}

static int
emit_ino (struct mount *m, uint64_t ino, const char *name, uint32_t flags,
          struct fm_entry *out)
{
  struct fm_entry e = { 0 };
  char *target = NULL;
  int r = m->ops->getattr (m->h, ino, &e, &target);

  e.flags = flags;
  if (r == 0)
    r = emit_entry (&e, name, target);
  free (target);
  if (out)
    *out = e;
  return r;
}

static int
do_stat (const struct where *w, bool follow)
{
  struct mount *m;
  uint64_t ino;
  int r;

  if (w->vol < 0)
    return emit_root ("/");
  if ((r = need_mount (w, &m)) < 0 ||
      (r = m->ops->lookup (m->h, w->path, follow, &ino)) < 0)
    return r;
  return emit_ino (m, ino, w->name[0] ? w->name : "/", 0, NULL);
}

struct dirent_list {
  char **names;
  uint64_t *inos;
  size_t len, cap;
};

static int
collect (void *o, const char *name, size_t len, uint64_t ino)
{
  struct dirent_list *l = o;

  if (l->len == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    char **n = realloc (l->names, cap * sizeof *n);
    if (n)
      l->names = n;
    uint64_t *i = n ? realloc (l->inos, cap * sizeof *i) : NULL;
    if (i == NULL)
      return -ENOMEM;
    l->inos = i;
    l->cap = cap;
  }
  if ((l->names[l->len] = strndup (name, len)) == NULL)
    return -ENOMEM;
  l->inos[l->len++] = ino;
  return 0;
}

static void
dirent_list_free (struct dirent_list *l)
{
  for (size_t i = 0; i < l->len; i++)
    free (l->names[i]);
  free (l->names);
  free (l->inos);
}

static int
do_list (const struct where *w)
{
  struct dirent_list l = { 0 };
  struct fm_entry e;
  struct mount *m;
  uint64_t ino;
  int r;

  if (w->vol < 0) {
    for (size_t i = 0; i < vols.len; i++)
      if ((r = emit_volume (i)) < 0)
        return r;
    return 0;
  }
  if ((r = need_mount (w, &m)) < 0 ||
      (r = m->ops->lookup (m->h, w->path, true, &ino)) < 0 ||
      (r = m->ops->getattr (m->h, ino, &e, NULL)) < 0)
    return r;
  if (!S_ISDIR (e.mode))
    return emit_ino (m, ino, w->name, 0, NULL);
  r = m->ops->readdir (m->h, ino, collect, &l);
  for (size_t i = 0; r == 0 && i < l.len; i++)
    r = emit_ino (m, l.inos[i], l.names[i], 0, NULL);
  dirent_list_free (&l);
  return r;
}

static int
do_read (const struct where *w)
{
  struct fm_entry e;
  struct mount *m;
  uint64_t ino;
  int r;

  if (w->vol < 0) {
    child_error ("/ is the list of partitions, not a file");
    return -EISDIR;
  }
  if ((r = need_mount (w, &m)) < 0 ||
      (r = m->ops->lookup (m->h, w->path, true, &ino)) < 0 ||
      (r = emit_ino (m, ino, w->name, 0, &e)) < 0)
    return r;
  if (S_ISDIR (e.mode))
    return -EISDIR;
  if (!S_ISREG (e.mode)) {
    child_error ("%s is not a regular file", w->path);
    return -EINVAL;
  }
  return m->ops->read (m->h, ino, e.size);
}

/* ---- walks ------------------------------------------------------------------ */

struct walk {
  struct mount *m;
  uint64_t *seen;                   /* open hash of inodes given (dirs, links) */
  size_t seen_cap, seen_len;
  unsigned depth;
};

/* Add ino to the set; 1 if it was there. */
static int
seen_add (struct walk *k, uint64_t ino)
{
  size_t i;

  if (k->seen_len * 2 >= k->seen_cap) {
    size_t cap = k->seen_cap ? k->seen_cap * 2 : 1024;
    uint64_t *s = calloc (cap, sizeof *s), *old = k->seen;
    size_t oldcap = k->seen_cap;
    if (s == NULL)
      return -ENOMEM;
    k->seen = s;
    k->seen_cap = cap;
    k->seen_len = 0;
    for (i = 0; i < oldcap; i++)
      if (old[i])
        seen_add (k, old[i]);
    free (old);
  }
  for (i = (ino * 0x9E3779B97F4A7C15ull) % k->seen_cap; k->seen[i]; i = (i + 1) % k->seen_cap)
    if (k->seen[i] == ino)
      return 1;
  k->seen[i] = ino;
  k->seen_len++;
  return 0;
}

static int walk_ino (struct walk *k, uint64_t ino, const char *name);

static int
walk_dir (struct walk *k, uint64_t ino, const struct fm_entry *e, const char *name)
{
  struct dirent_list l = { 0 };
  int r = seen_add (k, ino);

  if (r > 0) {
    child_error ("directory %s (inode %llu) is linked twice: the file system "
                 "is corrupt", name, (unsigned long long) ino);
    return -EUCLEAN;
  }
  if (r < 0 || (r = emit_entry (e, name, NULL)) < 0)
    return r;
  if (++k->depth > MAX_DEPTH) {
    child_error ("directories nest deeper than %d", MAX_DEPTH);
    return -ELOOP;
  }
  r = k->m->ops->readdir (k->m->h, ino, collect, &l);
  for (size_t i = 0; r == 0 && i < l.len; i++)
    r = walk_ino (k, l.inos[i], l.names[i]);
  dirent_list_free (&l);
  k->depth--;
  return r < 0 ? r : emit_leave ();
}

static int
walk_ino (struct walk *k, uint64_t ino, const char *name)
{
  struct fm_entry e = { 0 };
  char *target = NULL;
  int r = k->m->ops->getattr (k->m->h, ino, &e, &target);

  if (r < 0)
    return r;
  if (S_ISDIR (e.mode))
    r = walk_dir (k, ino, &e, name);
  else if (S_ISREG (e.mode) && e.nlink > 1 && (r = seen_add (k, ino)) != 0) {
    e.flags = FE_HARDLINK;
    r = r < 0 ? r : emit_entry (&e, name, NULL);
  }
  else if ((r = emit_entry (&e, name, target)) == 0 && S_ISREG (e.mode))
    r = k->m->ops->read (k->m->h, ino, e.size);
  free (target);
  return r;
}

static int
walk_volume (const struct where *w, uint64_t ino, const char *name)
{
  struct walk k = { 0 };
  int r = need_mount (w, &k.m);

  if (r == 0)
    r = walk_ino (&k, ino, name);
  free (k.seen);
  return r;
}

static int
do_walk (const struct where *w)
{
  struct mount *m;
  uint64_t ino;
  int r;

  if (w->vol >= 0) {
    if ((r = need_mount (w, &m)) < 0 ||
        (r = m->ops->lookup (m->h, w->path, false, &ino)) < 0)
      return r;
    return walk_volume (w, ino, w->name);
  }
  if ((r = emit_root ("")) < 0)
    return r;
  for (size_t i = 0; i < vols.len; i++) {
    struct where v = { .vol = (int) i, .path = "/" };
    char name[16];
    snprintf (name, sizeof name, "p%u", vols.ptr[i].part);
    if ((r = need_mount (&v, &m)) < 0 ||
        (r = m->ops->lookup (m->h, "/", false, &ino)) < 0 ||
        (r = walk_volume (&v, ino, name)) < 0)
      return r;
  }
  return emit_leave ();
}

/* ---- the loop ------------------------------------------------------------------ */

static int
done (int err)
{
  struct fm_done d = { .err = err };
  const char *rest = "";

  if (err == -ENOTSUP) {
    d = unsupported;
    d.err = err;
    rest = unsupported_rest;
  }
  d.rest_len = (uint32_t) strlen (rest);
  if (err < 0 && !errmsg[0])
    snprintf (errmsg, sizeof errmsg, "%s", strerror (-err));
  char tail[sizeof unsupported_rest + sizeof errmsg];
  size_t n = (size_t) snprintf (tail, sizeof tail, "%s%s", rest, err < 0 ? errmsg : "");
  return fm_send (sock, FM_DONE, &d, sizeof d, tail, n);
}

static int
request (const struct fmsg *m)
{
  struct where w;
  const char *path = rbuf;
  bool follow = false;
  int r;

  if (m->type == FM_OPEN) {
    if (m->len != sizeof disk_size)
      return -EPROTO;
    memcpy (&disk_size, rbuf, sizeof disk_size);
    return done (0);
  }
  if (m->type == FM_STAT) {
    uint32_t f;
    if (m->len < sizeof f)
      return -EPROTO;
    memcpy (&f, rbuf, sizeof f);
    follow = f != 0;
    path += sizeof f;
  }
  errmsg[0] = 0;
  /* The buffer is reused by every read below: keep the path apart. */
  char copy[4096];
  size_t n = strnlen (path, m->len - (size_t) (path - (const char *) rbuf));
  if (n >= sizeof copy)
    return done (-ENAMETOOLONG);
  memcpy (copy, path, n);
  copy[n] = 0;
  if ((r = scan_disk ()) == 0 && (r = locate (copy, &w)) == 0)
    switch (m->type) {
    case FM_STAT: r = do_stat (&w, follow); break;
    case FM_LIST: r = do_list (&w); break;
    case FM_READ: r = do_read (&w); break;
    case FM_WALK: r = do_walk (&w); break;
    default: return -EPROTO;
    }
  if (r == -EPIPE)
    return r;
  return done (r);
}

int
files_child_main (int fd)
{
  struct fmsg m;
  int r;

  sock = fd;
  while ((r = fm_recv (sock, &m, &rbuf, &rcap)) == 0)
    if ((r = request (&m)) < 0)
      break;
  return r == -EPIPE ? 0 : 1;
}
