/* cdp recovery, file-level browse: a walk (files_walk, files_gfs_walk)
 * written as one tar archive to a descriptor, as it comes.
 *
 * The format is POSIX.1-2001 pax: every member has a ustar header, and
 * a pax extended header ('x') goes before it when ustar cannot say
 * something exactly: a name longer than the name and prefix fields
 * hold, a link target over 100 bytes, a size of 8 GiB or more, a uid
 * or gid above 07777777, an mtime before 1970 or with nanoseconds.
 * Names are the guest's bytes as they are, in pax records too: GNU tar
 * and libarchive take a path that is not UTF-8 as those bytes (GNU tar
 * 1.34 ignores hdrcharset=BINARY, with a warning, so it is not
 * written).
 *
 * Members: directories ('5', the name ending in '/'), regular files
 * ('0'), hard links ('1', to the first member of the inode), symbolic
 * links ('2') and fifos ('6').  Device nodes and sockets are skipped and
 * counted, as files_writer does: a guest's device node must not appear
 * on the host of whoever extracts the archive.  Set-user-ID and
 * set-group-ID bits are dropped for the same reason.  Holes are written
 * as zeros.  The archive ends with two zero blocks, written only by
 * files_tar_finish after a walk that succeeded: a stream cut short
 * reads as truncated, never as complete.
 *
 * Memory stays bounded by the tree's shape, not its data: the path of
 * the current directory, the names of files with more than one link
 * (for the hard links to them) and a 64 KiB output buffer that file
 * data bypasses.  Never prints.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "common/fileio.h"
#include "recovery/files/files.h"

#define BLOCK 512
#define OUTBUF (64u << 10)
#define USTAR_MAX_ID 07777777ull
#define USTAR_MAX_11 077777777777ull

struct tar_link {
  uint64_t ino;
  char *name;                       /* the member that holds its data */
};
DEFINE_VECTOR_TYPE (tar_link_vector, struct tar_link)

struct files_tar {
  int fd;
  char *top;                        /* the first member's name */
  bool started;                     /* the first member was given */
  char *dir;                        /* the current directory's member name */
  size_t dir_len, dir_cap;
  char *hdr;                        /* header blocks being built */
  size_t hdr_cap;
  uint8_t out[OUTBUF];
  size_t out_len;
  uint64_t left;                    /* data bytes the current file still owes */
  uint64_t file_size;
  tar_link_vector links;
  struct files_counts counts;
  char err[512];
};

static int __attribute__ ((format (printf, 3, 4)))
tar_error (struct files_tar *t, int err, const char *fmt, ...)
{
  va_list ap;

  if (!t->err[0]) {
    va_start (ap, fmt);
    vsnprintf (t->err, sizeof t->err, fmt, ap);
    va_end (ap);
  }
  return err;
}

/* ---- header encoding ---------------------------------------------------- */

/* value as width-1 octal digits and a NUL; false if it does not fit. */
static bool
octal (char *field, size_t width, uint64_t value)
{
  char tmp[32];

  if (width - 1 < 22 && value >> (3 * (width - 1)) != 0)
    return false;
  snprintf (tmp, sizeof tmp, "%0*llo", (int) (width - 1), (unsigned long long) value);
  memcpy (field, tmp, width);
  return true;
}

/* Where to cut name into ustar's prefix and name fields: the index of
 * the '/' between them, 0 when name fits the name field alone, -1 when
 * it fits neither way. */
static ssize_t
ustar_split (const char *name, size_t n)
{
  if (n <= 100)
    return 0;
  for (size_t i = n - 1; i > 0; i--)
    if (name[i] == '/' && i <= 155 && n - i - 1 <= 100 && n - i - 1 > 0)
      return (ssize_t) i;
  return -1;
}

/* The pax records of a member, appended to rec (NULL: count only). */
struct records {
  char *p;
  size_t len, cap;
};

static void
record (struct records *r, const char *key, const char *value)
{
  size_t body = strlen (key) + strlen (value) + 3, n = body, digits;

  for (;;) {                        /* the length counts its own digits */
    digits = (size_t) snprintf (NULL, 0, "%zu", n);
    if (body + digits == n)
      break;
    n = body + digits;
  }
  if (r->p && r->len + n <= r->cap)
    snprintf (r->p + r->len, r->cap - r->len + 1, "%zu %s=%s\n", n, key, value);
  r->len += n;
}

static void
record_u64 (struct records *r, const char *key, uint64_t v)
{
  char buf[32];

  snprintf (buf, sizeof buf, "%llu", (unsigned long long) v);
  record (r, key, buf);
}

/* Seconds since 1970 with nanoseconds, the decimal value ns/1e9. */
static void
record_time (struct records *r, const char *key, int64_t ns)
{
  uint64_t a = ns < 0 ? -(uint64_t) ns : (uint64_t) ns;
  char buf[48];

  snprintf (buf, sizeof buf, "%s%llu.%09llu", ns < 0 ? "-" : "",
            (unsigned long long) (a / 1000000000), (unsigned long long) (a % 1000000000));
  record (r, key, buf);
}

struct member {
  const struct files_entry *e;
  const char *name, *link;
  char type;
  uint64_t size;
};

static void
pax_records (const struct member *m, struct records *r)
{
  size_t n = strlen (m->name);
  int64_t mt = m->e->mtime_ns;

  if (ustar_split (m->name, n) < 0)
    record (r, "path", m->name);
  if (m->link && strlen (m->link) > 100)
    record (r, "linkpath", m->link);
  if (m->size > USTAR_MAX_11)
    record_u64 (r, "size", m->size);
  if (m->e->uid > USTAR_MAX_ID)
    record_u64 (r, "uid", m->e->uid);
  if (m->e->gid > USTAR_MAX_ID)
    record_u64 (r, "gid", m->e->gid);
  if (mt < 0 || mt % 1000000000 != 0 || (uint64_t) (mt / 1000000000) > USTAR_MAX_11)
    record_time (r, "mtime", mt);
}

/* The ustar header, as POSIX lays it out. */
struct ustar_block {
  char name[100], mode[8], uid[8], gid[8], size[12], mtime[12], chksum[8];
  char typeflag, linkname[100], magic[6], version[2], uname[32], gname[32];
  char devmajor[8], devminor[8], prefix[155], pad[12];
};
_Static_assert (sizeof (struct ustar_block) == BLOCK, "a ustar header is one block");

static void
checksum (struct ustar_block *b)
{
  const unsigned char *p = (const unsigned char *) b;
  unsigned sum = 0;

  memset (b->chksum, ' ', sizeof b->chksum);
  for (int i = 0; i < BLOCK; i++)
    sum += p[i];
  snprintf (b->chksum, sizeof b->chksum, "%06o", sum);
  b->chksum[7] = ' ';
}

/* One ustar header block into h. */
static void
ustar (char *h, const char *name, char type, const char *link, uint32_t mode,
       uint64_t uid, uint64_t gid, uint64_t size, int64_t mtime_ns)
{
  struct ustar_block b;
  size_t n = strlen (name), ln = link ? strlen (link) : 0;
  ssize_t cut = ustar_split (name, n);
  int64_t sec = mtime_ns / 1000000000 - (mtime_ns % 1000000000 < 0);

  memset (&b, 0, sizeof b);
  if (cut > 0) {
    memcpy (b.prefix, name, (size_t) cut);
    memcpy (b.name, name + cut + 1, n - (size_t) cut - 1);
  }
  else
    memcpy (b.name, name, n < sizeof b.name ? n : sizeof b.name);  /* pax has it whole */
  octal (b.mode, sizeof b.mode, mode & 01777);
  if (!octal (b.uid, sizeof b.uid, uid))
    octal (b.uid, sizeof b.uid, 0);
  if (!octal (b.gid, sizeof b.gid, gid))
    octal (b.gid, sizeof b.gid, 0);
  if (!octal (b.size, sizeof b.size, size))
    octal (b.size, sizeof b.size, 0);
  octal (b.mtime, sizeof b.mtime, sec < 0 ? 0 : (uint64_t) sec > USTAR_MAX_11 ? USTAR_MAX_11
                                                                          : (uint64_t) sec);
  b.typeflag = type;
  memcpy (b.linkname, link ? link : "", ln < sizeof b.linkname ? ln : sizeof b.linkname);
  memcpy (b.magic, "ustar", 6);
  memcpy (b.version, "00", 2);
  octal (b.devmajor, sizeof b.devmajor, 0);
  octal (b.devminor, sizeof b.devminor, 0);
  checksum (&b);
  memcpy (h, &b, sizeof b);
}

static size_t
round_block (size_t n)
{
  return (n + BLOCK - 1) / BLOCK * BLOCK;
}

/* The pax header's own name: PaxHeaders/ and the member's last
 * component, cut to fit. */
static void
pax_name (const char *name, char out[101])
{
  size_t n = strlen (name);

  while (n > 1 && name[n - 1] == '/')
    n--;
  const char *base = memrchr (name, '/', n - 1);
  base = base ? base + 1 : name;
  size_t bn = n - (size_t) (base - name);
  snprintf (out, 101, "PaxHeaders/%.*s", (int) (bn < 80 ? bn : 80), base);
}

ssize_t
files_tar_header (const struct files_entry *e, const char *name, char type,
                  const char *link, uint64_t size, void *buf, size_t cap)
{
  struct member m = { .e = e, .name = name, .link = link, .type = type, .size = size };
  struct records r = { 0 };
  char xname[101];
  size_t total;

  if (!*name || size > (uint64_t) INT64_MAX)
    return -EINVAL;
  pax_records (&m, &r);
  total = (r.len ? BLOCK + round_block (r.len) : 0) + BLOCK;
  if (total > cap)
    return (ssize_t) total;
  char *h = buf;
  if (r.len) {
    r = (struct records) { .p = h + BLOCK, .cap = r.len };
    memset (h + BLOCK, 0, round_block (r.len));
    pax_records (&m, &r);
    pax_name (name, xname);
    ustar (h, xname, 'x', NULL, 0644, 0, 0, r.len, e->mtime_ns);
    h += BLOCK + round_block (r.len);
  }
  ustar (h, name, type, link, e->mode & 01777 & ~(S_ISUID | S_ISGID), e->uid, e->gid,
         size, e->mtime_ns);
  return (ssize_t) total;
}

/* ---- output ----------------------------------------------------------------- */

static int
flush_out (struct files_tar *t)
{
  int r = fio_write_all (t->fd, t->out, t->out_len);

  t->counts.archive += t->out_len;
  t->out_len = 0;
  return r < 0 ? tar_error (t, r, "cannot write the archive: %s", strerror (-r)) : 0;
}

/* Bytes of the archive, through the buffer; large ones past it. */
static int
out (struct files_tar *t, const void *p, size_t len)
{
  int r;

  if (t->out_len + len <= OUTBUF) {
    memcpy (t->out + t->out_len, p, len);
    t->out_len += len;
    return 0;
  }
  if ((r = flush_out (t)) < 0)
    return r;
  if (len < OUTBUF)
    return out (t, p, len);
  r = fio_write_all (t->fd, p, len);
  t->counts.archive += len;
  return r < 0 ? tar_error (t, r, "cannot write the archive: %s", strerror (-r)) : 0;
}

static int
out_zeros (struct files_tar *t, uint64_t len)
{
  static const uint8_t zeros[OUTBUF];
  int r = 0;

  while (r == 0 && len > 0) {
    size_t n = len < OUTBUF ? (size_t) len : OUTBUF;
    r = out (t, zeros, n);
    len -= n;
  }
  return r;
}

/* ---- members ---------------------------------------------------------------- */

/* The member name of e: the top, or the current directory and its name
 * (malloc'd into *np). */
static int
member_name (struct files_tar *t, const struct files_entry *e, bool dir, char **np)
{
  const char *base = t->started ? e->name : t->top;
  int n;

  if (t->started && t->dir_len == 0)
    return tar_error (t, -EPROTO, "more than one entry at the top");
  n = asprintf (np, "%.*s%s%s%s", (int) t->dir_len, t->dir, t->started ? "/" : "",
                base, dir ? "/" : "");
  t->started = true;
  return n < 0 ? -ENOMEM : 0;
}

static int
put_header (struct files_tar *t, const struct files_entry *e, const char *name,
            char type, const char *link, uint64_t size)
{
  ssize_t n = files_tar_header (e, name, type, link, size, t->hdr, t->hdr_cap);

  if (n < 0)
    return tar_error (t, (int) n, "cannot store %s in the archive", name);
  if ((size_t) n > t->hdr_cap) {
    char *p = realloc (t->hdr, (size_t) n);
    if (p == NULL)
      return -ENOMEM;
    t->hdr = p;
    t->hdr_cap = (size_t) n;
    n = files_tar_header (e, name, type, link, size, t->hdr, t->hdr_cap);
  }
  t->counts.members++;
  return out (t, t->hdr, (size_t) n);
}

static int
t_enter (void *o, const struct files_entry *e)
{
  struct files_tar *t = o;
  char *name = NULL;
  int r = member_name (t, e, true, &name);
  size_t n;

  if (r == 0)
    r = put_header (t, e, name, '5', NULL, 0);
  if (r == 0) {                     /* the directory, without its '/' */
    n = strlen (name) - 1;
    if (n + 1 > t->dir_cap) {
      char *p = realloc (t->dir, n + 1);
      if (p == NULL) {
        free (name);
        return -ENOMEM;
      }
      t->dir = p;
      t->dir_cap = n + 1;
    }
    memcpy (t->dir, name, n);
    t->dir[n] = 0;
    t->dir_len = n;
    t->counts.directories++;
  }
  free (name);
  return r;
}

static int
t_leave (void *o, const struct files_entry *unused)
{
  struct files_tar *t = o;
  char *slash = memrchr (t->dir, '/', t->dir_len);

  t->dir_len = slash ? (size_t) (slash - t->dir) : 0;
  t->dir[t->dir_len] = 0;
  return 0;
}

static int
t_file (void *o, const struct files_entry *e)
{
  struct files_tar *t = o;
  char *name = NULL;
  int r = member_name (t, e, false, &name);

  if (r == 0)
    r = put_header (t, e, name, '0', NULL, e->size);
  if (r == 0 && e->nlink > 1) {
    r = tar_link_vector_append (&t->links, (struct tar_link) { e->ino, name });
    if (r == 0)
      name = NULL;
  }
  free (name);
  t->left = t->file_size = e->size;
  t->counts.files++;
  return r;
}

static int
t_data (void *o, const void *buf, size_t len)
{
  struct files_tar *t = o;

  if (len > t->left)
    return tar_error (t, -EIO, "a file gave more bytes than its size");
  t->left -= len;
  t->counts.bytes += len;
  return out (t, buf, len);
}

static int
t_hole (void *o, uint64_t len)
{
  struct files_tar *t = o;

  if (len > t->left)
    return tar_error (t, -EIO, "a file gave more bytes than its size");
  t->left -= len;
  t->counts.bytes += len;
  return out_zeros (t, len);
}

static int
t_file_end (void *o, const struct files_entry *unused)
{
  struct files_tar *t = o;

  if (t->left)
    return tar_error (t, -EIO, "a file ended %llu bytes before its size",
                      (unsigned long long) t->left);
  return out_zeros (t, (BLOCK - t->file_size % BLOCK) % BLOCK);
}

static int
t_hardlink (void *o, const struct files_entry *e)
{
  struct files_tar *t = o;
  char *name = NULL;
  int r;

  /* Newest first: a walk of / goes through every partition, and an
   * inode number is one partition's; its own file is the latest. */
  for (size_t i = t->links.len; i-- > 0;)
    if (t->links.ptr[i].ino == e->ino) {
      if ((r = member_name (t, e, false, &name)) == 0)
        r = put_header (t, e, name, '1', t->links.ptr[i].name, 0);
      free (name);
      return r;
    }
  return tar_error (t, -EPROTO, "a hard link to a file not given");
}

static int
t_symlink (void *o, const struct files_entry *e)
{
  struct files_tar *t = o;
  char *name = NULL;
  int r = member_name (t, e, false, &name);

  if (r == 0 && e->target == NULL)
    r = tar_error (t, -EPROTO, "a symbolic link without a target");
  if (r == 0)
    r = put_header (t, e, name, '2', e->target, 0);
  t->counts.symlinks++;
  free (name);
  return r;
}

static int
t_special (void *o, const struct files_entry *e)
{
  struct files_tar *t = o;
  char *name = NULL;
  int r = member_name (t, e, false, &name);

  if (r == 0 && S_ISFIFO (e->mode))
    r = put_header (t, e, name, '6', NULL, 0);
  else if (r == 0)
    t->counts.skipped++;            /* device nodes, sockets: never */
  free (name);
  return r;
}

const struct files_walk_ops files_tar_ops = {
  .enter = t_enter, .leave = t_leave, .file = t_file, .file_end = t_file_end,
  .hardlink = t_hardlink, .symlink = t_symlink, .special = t_special,
  .sink = { .data = t_data, .hole = t_hole },
};

/* ---- the archive ------------------------------------------------------------- */

/* The first member's name: path's last component, "." for a root. */
static char *
top_name (const char *path)
{
  size_t n = strlen (path);

  while (n > 0 && path[n - 1] == '/')
    n--;
  const char *last = memrchr (path, '/', n);
  last = last ? last + 1 : path;
  size_t ln = n - (size_t) (last - path);
  if (ln == 0 || (ln == 1 && last[0] == '.') || (ln == 2 && memcmp (last, "..", 2) == 0))
    return strdup (".");
  return strndup (last, ln);
}

int
files_tar_new (int fd, const char *path, struct files_tar **tp)
{
  struct files_tar *t = calloc (1, sizeof *t);

  *tp = t;
  if (t == NULL)
    return -ENOMEM;
  t->fd = fd;
  if ((t->top = top_name (path)) == NULL)
    return -ENOMEM;
  return 0;
}

int
files_tar_finish (struct files_tar *t)
{
  int r;

  if (!t->started)
    return tar_error (t, -EPROTO, "the walk gave nothing");
  if ((r = out_zeros (t, 2 * BLOCK)) < 0)
    return r;
  return flush_out (t);
}

const char *
files_tar_error (const struct files_tar *t)
{
  return t->err;
}

void
files_tar_counts (const struct files_tar *t, struct files_counts *c)
{
  *c = t->counts;
}

void
files_tar_free (struct files_tar *t)
{
  if (t == NULL)
    return;
  for (size_t i = 0; i < t->links.len; i++)
    free (t->links.ptr[i].name);
  tar_link_vector_reset (&t->links);
  free (t->top);
  free (t->dir);
  free (t->hdr);
  free (t);
}
