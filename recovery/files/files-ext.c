/* cdp recovery, file-level browse: ext2/3/4 through libext2fs (runs in
 * the sandboxed child).
 *
 * libext2fs reads through an io_manager of our own whose blocks come
 * from child_pread, offset by the volume's place on the disk: no device,
 * no NBD, no kernel.  The file system is opened read-only; libext2fs
 * checks metadata checksums and the shape of what it parses, and we
 * check what it leaves to us: extents in order and inside the file
 * system, sizes, name lengths.  A file's contents are not read here:
 * read() names the disk extents, zero runs (holes, unwritten extents)
 * and inline bytes it is made of, and the parent copies them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#include "recovery/files/files-internal.h"

#define MAX_EXTENTS (1ull << 28)    /* no file has more leaves than this */

struct fs_handle {
  ext2_filsys fs;
  uint64_t off, size;
  struct replay replay;             /* the journal, replayed */
};

/* ---- the io_manager ------------------------------------------------------ */

struct chan {
  uint64_t off, size;               /* the volume on the disk */
  const struct replay *replay;      /* laid over what is read */
};

/* For the open that comes next. */
static uint64_t next_off, next_size;
static const struct replay *next_replay;

static errcode_t cio_open (const char *name, int flags, io_channel *channel);

static errcode_t
cio_close (io_channel ch)
{
  if (--ch->refcount > 0)
    return 0;
  free (ch->private_data);
  free (ch->name);
  free (ch);
  return 0;
}

static errcode_t
cio_set_blksize (io_channel ch, int blksize)
{
  if (blksize <= 0 || blksize > 65536)
    return EXT2_ET_INVALID_ARGUMENT;
  ch->block_size = blksize;
  return 0;
}

static errcode_t
cio_read_blk64 (io_channel ch, unsigned long long block, int count, void *data)
{
  struct chan *c = ch->private_data;
  uint64_t len = count < 0 ? (uint64_t) -(int64_t) count
                           : (uint64_t) count * (uint64_t) ch->block_size;
  uint64_t off;

  if (__builtin_mul_overflow (block, (uint64_t) ch->block_size, &off) ||
      off > c->size || len > c->size - off)
    return EXT2_ET_SHORT_READ;
  if (child_pread (data, c->off + off, len) < 0)
    return EXT2_ET_SHORT_READ;
  replay_overlay (c->replay, off, len, data);
  return 0;
}

static errcode_t
cio_read_blk (io_channel ch, unsigned long block, int count, void *data)
{
  return cio_read_blk64 (ch, block, count, data);
}

static errcode_t
cio_write_blk64 (io_channel ch, unsigned long long block, int count,
                 const void *data)
{
  return EXT2_ET_RO_FILSYS;
}

static errcode_t
cio_write_blk (io_channel ch, unsigned long block, int count, const void *data)
{
  return EXT2_ET_RO_FILSYS;
}

static errcode_t
cio_write_byte (io_channel ch, unsigned long off, int size, const void *data)
{
  return EXT2_ET_RO_FILSYS;
}

static errcode_t
cio_flush (io_channel ch)
{
  return 0;
}

static errcode_t
cio_set_option (io_channel ch, const char *option, const char *arg)
{
  return EXT2_ET_INVALID_ARGUMENT;
}

static struct struct_io_manager cdp_io_manager = {
  .magic = EXT2_ET_MAGIC_IO_MANAGER,
  .name = "cdp point",
  .open = cio_open,
  .close = cio_close,
  .set_blksize = cio_set_blksize,
  .read_blk = cio_read_blk,
  .write_blk = cio_write_blk,
  .flush = cio_flush,
  .write_byte = cio_write_byte,
  .set_option = cio_set_option,
  .read_blk64 = cio_read_blk64,
  .write_blk64 = cio_write_blk64,
};

static errcode_t
cio_open (const char *name, int flags, io_channel *channel)
{
  io_channel ch;
  struct chan *c;

  if (flags & IO_FLAG_RW)
    return EXT2_ET_RO_FILSYS;
  ch = calloc (1, sizeof *ch);
  c = calloc (1, sizeof *c);
  if (ch == NULL || c == NULL || (ch->name = strdup (name)) == NULL) {
    free (ch);
    free (c);
    return EXT2_ET_NO_MEMORY;
  }
  c->off = next_off;
  c->size = next_size;
  c->replay = next_replay;
  ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
  ch->manager = &cdp_io_manager;
  ch->block_size = 1024;
  ch->refcount = 1;
  ch->private_data = c;
  *channel = ch;
  return 0;
}

/* ---- errors ----------------------------------------------------------------- */

static int
ext_err (errcode_t e, const char *what)
{
  switch (e) {
  case 0: return 0;
  case EXT2_ET_FILE_NOT_FOUND: child_error ("no such file or directory"); return -ENOENT;
  case EXT2_ET_NO_DIRECTORY: child_error ("a component of the path is not a directory"); return -ENOTDIR;
  case EXT2_ET_SYMLINK_LOOP: child_error ("too many levels of symbolic links"); return -ELOOP;
  case EXT2_ET_NO_MEMORY: return -ENOMEM;
  case EXT2_ET_SHORT_READ: child_error ("%s: cannot read the disk", what); return -EIO;
  }
  if (e > 0 && e < 256) {           /* a plain errno */
    child_error ("%s: %s", what, strerror ((int) e));
    return -(int) e;
  }
  child_error ("%s: %s (the file system is damaged)", what, error_message (e));
  return -EUCLEAN;
}

/* ---- probe, open, close ------------------------------------------------------ */

bool
ext_probe (const uint8_t *sb, const char **name)
{
  const struct ext2_super_block *s = (const void *) sb;
  uint32_t incompat, ro;

  if (ext2fs_le16_to_cpu (s->s_magic) != EXT2_SUPER_MAGIC)
    return false;
  incompat = ext2fs_le32_to_cpu (s->s_feature_incompat);
  ro = ext2fs_le32_to_cpu (s->s_feature_ro_compat);
  if (incompat & (EXT3_FEATURE_INCOMPAT_EXTENTS | EXT4_FEATURE_INCOMPAT_64BIT |
                  EXT4_FEATURE_INCOMPAT_FLEX_BG | EXT4_FEATURE_INCOMPAT_INLINE_DATA) ||
      ro & (EXT4_FEATURE_RO_COMPAT_HUGE_FILE | EXT4_FEATURE_RO_COMPAT_GDT_CSUM |
            EXT4_FEATURE_RO_COMPAT_DIR_NLINK | EXT4_FEATURE_RO_COMPAT_EXTRA_ISIZE |
            EXT4_FEATURE_RO_COMPAT_METADATA_CSUM))
    *name = "ext4";
  else if (ext2fs_le32_to_cpu (s->s_feature_compat) & EXT3_FEATURE_COMPAT_HAS_JOURNAL)
    *name = "ext3";
  else
    *name = "ext2";
  return true;
}

static int
open_fs (struct fs_handle *h, const struct replay *replay)
{
  errcode_t e;

  next_off = h->off;
  next_size = h->size;
  next_replay = replay;
  e = ext2fs_open2 ("cdp", NULL, EXT2_FLAG_64BITS | EXT2_FLAG_SKIP_MMP, 0, 0,
                    &cdp_io_manager, &h->fs);
  return e ? ext_err (e, "superblock") : 0;
}

/* A file system that needs recovery is read as the kernel would mount
 * it: with its journal replayed (in memory). */
static int
ext_open (uint64_t off, uint64_t size, struct fs_handle **hp)
{
  struct fs_handle *h = calloc (1, sizeof *h);
  int r;

  if (h == NULL)
    return -ENOMEM;
  h->off = off;
  h->size = size;
  if ((r = open_fs (h, NULL)) < 0) {
    free (h);
    return r;
  }
  if (ext2fs_has_feature_journal_needs_recovery (h->fs->super) &&
      ext2fs_has_feature_journal (h->fs->super)) {
    r = jbd2_replay ((struct struct_ext2_filsys *) h->fs, off, &h->replay);
    ext2fs_close_free (&h->fs);
    if (r == 0)
      r = open_fs (h, &h->replay);
    if (r < 0) {
      replay_free (&h->replay);
      free (h);
      return r;
    }
  }
  *hp = h;
  return 0;
}

static void
ext_close (struct fs_handle *h)
{
  ext2fs_close_free (&h->fs);
  replay_free (&h->replay);
  free (h);
}

/* ---- names and attributes ---------------------------------------------------- */

static int
ext_lookup (struct fs_handle *h, const char *path, bool follow, uint64_t *ino)
{
  ext2_ino_t i = 0;
  errcode_t e = follow ? ext2fs_namei_follow (h->fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, &i)
                       : ext2fs_namei (h->fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, &i);

  *ino = i;
  return ext_err (e, path);
}

/* ext4 times: 32 signed bits of seconds, and in the extra field two
 * more epoch bits and the nanoseconds. */
static int64_t
ext_time (uint32_t lo, const uint32_t *extra)
{
  int64_t s = (int32_t) lo, ns = 0;

  if (extra) {
    s += (int64_t) (*extra & 3) << 32;
    ns = *extra >> 2;
    if (ns > 999999999)
      ns = 0;
  }
  return s * 1000000000 + ns;
}

static int
read_target (struct fs_handle *h, ext2_ino_t ino, struct ext2_inode *in,
             char **target)
{
  uint64_t size = EXT2_I_SIZE (in);
  size_t got = 0;
  char *t;
  errcode_t e = 0;

  if (size == 0 || size >= 4096) {
    child_error ("symbolic link %u has a target of %llu bytes (damaged)", ino,
                 (unsigned long long) size);
    return -EUCLEAN;
  }
  if ((t = calloc (1, size + 1 < 64 ? 64 : size + 1)) == NULL)
    return -ENOMEM;
  if (in->i_flags & EXT4_INLINE_DATA_FL) {
    char buf[4096 + 64];
    size_t isz = 0;
    if ((e = ext2fs_inline_data_size (h->fs, ino, &isz)) == 0 && isz > sizeof buf)
      e = EXT2_ET_INLINE_DATA_NO_SPACE;
    if (e == 0 && (e = ext2fs_inline_data_get (h->fs, ino, in, buf, &isz)) == 0)
      memcpy (t, buf, got = isz < size ? isz : size);
  }
  else if (ext2fs_is_fast_symlink (in))
    memcpy (t, in->i_block, got = size < sizeof in->i_block ? size : sizeof in->i_block);
  else {
    ext2_file_t f;
    unsigned n = 0;
    if ((e = ext2fs_file_open2 (h->fs, ino, in, 0, &f)) == 0) {
      e = ext2fs_file_read (f, t, (unsigned) size, &n);
      ext2fs_file_close (f);
      got = n;
    }
  }
  if (e || got != size || memchr (t, 0, size)) {
    free (t);
    return e ? ext_err (e, "symbolic link") : (child_error ("symbolic link %u is damaged", ino), -EUCLEAN);
  }
  *target = t;
  return 0;
}

static int
ext_getattr (struct fs_handle *h, uint64_t ino, struct fm_entry *e, char **target)
{
  struct ext2_inode_large in;
  unsigned isz = EXT2_INODE_SIZE (h->fs->super);
  bool extra;
  errcode_t err;

  if (ino == 0 || ino > h->fs->super->s_inodes_count) {
    child_error ("inode %llu does not exist (the file system is damaged)",
                 (unsigned long long) ino);
    return -EUCLEAN;
  }
  memset (&in, 0, sizeof in);
  err = ext2fs_read_inode_full (h->fs, (ext2_ino_t) ino, (struct ext2_inode *) &in,
                                isz < sizeof in ? isz : sizeof in);
  if (err)
    return ext_err (err, "inode");
  extra = isz > EXT2_GOOD_OLD_INODE_SIZE &&
          EXT2_GOOD_OLD_INODE_SIZE + (unsigned) in.i_extra_isize >=
            offsetof (struct ext2_inode_large, i_crtime) &&
          EXT2_GOOD_OLD_INODE_SIZE + (unsigned) in.i_extra_isize <= isz;
  *e = (struct fm_entry) {
    .ino = ino, .size = EXT2_I_SIZE (&in), .mode = in.i_mode,
    .uid = inode_uid (in), .gid = inode_gid (in), .nlink = in.i_links_count,
    .atime_ns = ext_time (in.i_atime, extra ? &in.i_atime_extra : NULL),
    .mtime_ns = ext_time (in.i_mtime, extra ? &in.i_mtime_extra : NULL),
    .ctime_ns = ext_time (in.i_ctime, extra ? &in.i_ctime_extra : NULL),
  };
  if (target && S_ISLNK (in.i_mode))
    return read_target (h, (ext2_ino_t) ino, (struct ext2_inode *) &in, target);
  return 0;
}

/* ---- directories --------------------------------------------------------------- */

struct dir_ctx {
  int (*fn) (void *o, const char *name, size_t len, uint64_t ino);
  void *o;
  int err;
};

static int
dir_entry (ext2_ino_t dir, int entry, struct ext2_dir_entry *d, int offset,
           int blocksize, char *buf, void *priv)
{
  struct dir_ctx *c = priv;
  int len = ext2fs_dirent_name_len (d);

  if (d->inode == 0 || (len == 1 && d->name[0] == '.') ||
      (len == 2 && d->name[0] == '.' && d->name[1] == '.'))
    return 0;
  c->err = c->fn (c->o, d->name, (size_t) len, d->inode);
  return c->err ? DIRENT_ABORT : 0;
}

static int
ext_readdir (struct fs_handle *h, uint64_t ino,
             int (*fn) (void *o, const char *name, size_t len, uint64_t ino),
             void *o)
{
  struct dir_ctx c = { fn, o, 0 };
  errcode_t e = ext2fs_dir_iterate2 (h->fs, (ext2_ino_t) ino, 0, NULL, dir_entry, &c);

  return c.err ? c.err : ext_err (e, "directory");
}

/* ---- file contents --------------------------------------------------------------- */

struct layout {
  struct fs_handle *h;
  uint64_t size;                    /* of the file */
  uint64_t pos;                     /* bytes of it given so far */
  unsigned bs;
  /* a run of contiguous blocks not yet given (block maps) */
  uint64_t run_l, run_p, run_n;
  int err;
};

/* len bytes of the file from disk block pblk on: extents of the volume,
 * except blocks whose newest copy is in the journal (data=journal). */
static int
give_blocks (struct layout *l, uint64_t pblk, uint64_t len)
{
  const struct replay_block *b;
  uint64_t at = 0;
  int r = 0;

  while (r == 0 && at < len) {
    uint64_t blk = pblk + at / l->bs, n = len - at;
    b = replay_next (&l->h->replay, blk, pblk + (len - 1) / l->bs);
    if (b && b->fsblk == blk) {               /* this block: the journal's copy */
      n = n < l->bs ? n : l->bs;
      r = replay_emit (&l->h->replay, b, n);
    }
    else {
      if (b)
        n = (b->fsblk - blk) * l->bs;
      r = child_emit_extent (l->h->off + blk * l->bs, n);
    }
    at += n;
  }
  return r;
}

/* Give the file's blocks [lblk, lblk+n) as disk blocks from pblk (or as
 * zeroes if pblk is 0), after zeroes for any gap before them. */
static int
give (struct layout *l, uint64_t lblk, uint64_t pblk, uint64_t n, bool zero)
{
  uint64_t start = lblk * l->bs, len, blocks = ext2fs_blocks_count (l->h->fs->super);
  int r;

  if (start >= l->size)
    return 0;                       /* allocated past the end: not data */
  if (start < l->pos) {
    child_error ("the blocks of a file are out of order (the file system is damaged)");
    return -EUCLEAN;
  }
  if (!zero && (pblk >= blocks || n > blocks - pblk || pblk == 0)) {
    child_error ("a file's block %llu lies outside the file system (damaged)",
                 (unsigned long long) pblk);
    return -EUCLEAN;
  }
  if ((r = child_emit_zero (start - l->pos)) < 0)
    return r;
  len = n * l->bs < l->size - start ? n * l->bs : l->size - start;
  r = zero ? child_emit_zero (len) : give_blocks (l, pblk, len);
  l->pos = start + len;
  return r;
}

static int
read_extents (struct layout *l, ext2_ino_t ino, struct ext2_inode *in)
{
  ext2_extent_handle_t eh;
  struct ext2fs_extent x;
  errcode_t e = ext2fs_extent_open2 (l->h->fs, ino, in, &eh);
  uint64_t steps = 0;
  int r = 0;

  if (e)
    return ext_err (e, "extent tree");
  e = ext2fs_extent_get (eh, EXT2_EXTENT_ROOT, &x);
  while (e == 0 && r == 0) {
    if (++steps > MAX_EXTENTS) {
      child_error ("a file's extent tree does not end (the file system is damaged)");
      r = -EUCLEAN;
      break;
    }
    if ((x.e_flags & EXT2_EXTENT_FLAGS_LEAF) && x.e_len > 0)
      r = give (l, x.e_lblk, x.e_pblk, x.e_len,
                (x.e_flags & EXT2_EXTENT_FLAGS_UNINIT) != 0);
    if (r == 0)
      e = ext2fs_extent_get (eh, EXT2_EXTENT_NEXT, &x);
  }
  ext2fs_extent_free (eh);
  if (r < 0)
    return r;
  if (e && e != EXT2_ET_EXTENT_NO_NEXT && e != EXT2_ET_NO_CURRENT_NODE)
    return ext_err (e, "extent tree");
  return 0;
}

static int
flush_run (struct layout *l)
{
  int r = l->run_n ? give (l, l->run_l, l->run_p, l->run_n, false) : 0;

  l->run_n = 0;
  return r;
}

static int
map_block (ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
           blk64_t ref_blk, int ref_offset, void *priv)
{
  struct layout *l = priv;

  if (blockcnt < 0)
    return 0;
  if (l->run_n && (uint64_t) blockcnt == l->run_l + l->run_n &&
      *blocknr == l->run_p + l->run_n) {
    l->run_n++;
    return 0;
  }
  if ((l->err = flush_run (l)) < 0)
    return BLOCK_ABORT;
  l->run_l = (uint64_t) blockcnt;
  l->run_p = *blocknr;
  l->run_n = 1;
  return 0;
}

static int
read_blockmap (struct layout *l, ext2_ino_t ino)
{
  errcode_t e = ext2fs_block_iterate3 (l->h->fs, ino,
                                       BLOCK_FLAG_READ_ONLY | BLOCK_FLAG_DATA_ONLY,
                                       NULL, map_block, l);

  if (l->err)
    return l->err;
  if (e)
    return ext_err (e, "block map");
  return flush_run (l);
}

static int
read_inline (struct layout *l, ext2_ino_t ino, struct ext2_inode *in)
{
  size_t isz = 0;
  char *buf;
  errcode_t e = ext2fs_inline_data_size (l->h->fs, ino, &isz);
  int r;

  if (e)
    return ext_err (e, "inline data");
  if (isz > 65536 || (buf = malloc (isz + 1)) == NULL)
    return isz > 65536 ? -EUCLEAN : -ENOMEM;
  e = ext2fs_inline_data_get (l->h->fs, ino, in, buf, &isz);
  if (e) {
    free (buf);
    return ext_err (e, "inline data");
  }
  size_t n = isz < l->size ? isz : (size_t) l->size;
  r = child_emit_bytes (buf, n);
  l->pos = n;
  free (buf);
  return r;
}

static int
ext_read (struct fs_handle *h, uint64_t ino, uint64_t size)
{
  struct layout l = { .h = h, .size = size, .bs = h->fs->blocksize };
  struct ext2_inode in;
  errcode_t e = ext2fs_read_inode (h->fs, (ext2_ino_t) ino, &in);
  int r;

  if (e)
    return ext_err (e, "inode");
  /* Logical block numbers are 32 bits: no file holds more.  A larger
   * size is a damaged inode, whose "hole" would stream zeroes for ever. */
  if (size > ((uint64_t) 1 << 32) * h->fs->blocksize) {
    child_error ("inode %llu claims %llu bytes, more than an ext file can "
                 "hold: the file system is damaged", (unsigned long long) ino,
                 (unsigned long long) size);
    return -EUCLEAN;
  }
  if (in.i_flags & EXT4_ENCRYPT_FL) {
    child_error ("the file is encrypted (ext4 encryption); cdp cannot read it");
    return -ENOTSUP;
  }
  if (in.i_flags & EXT4_INLINE_DATA_FL)
    r = read_inline (&l, (ext2_ino_t) ino, &in);
  else if (in.i_flags & EXT4_EXTENTS_FL)
    r = read_extents (&l, (ext2_ino_t) ino, &in);
  else
    r = read_blockmap (&l, (ext2_ino_t) ino);
  if (r == 0 && l.pos < size)
    r = child_emit_zero (size - l.pos);       /* a hole at the end */
  return r;
}

const struct fs_ops ext_fs_ops = {
  .name = "ext",
  .open = ext_open,
  .close = ext_close,
  .lookup = ext_lookup,
  .getattr = ext_getattr,
  .readdir = ext_readdir,
  .read = ext_read,
};
