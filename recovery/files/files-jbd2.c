/* cdp recovery, file-level browse: the ext3/4 journal (jbd2), replayed in
 * memory (runs in the sandboxed child).
 *
 * A point of a running guest is a crash image: metadata that the guest
 * committed may still be only in its journal, waiting to be written in
 * place.  A kernel mount would replay the journal first; so do we, into
 * a map from file system block to the disk place of its newest committed
 * copy in the journal, which the io_manager lays over every read.
 * Nothing is written.
 *
 * As the kernel's recovery does: scan from s_start while block headers
 * carry the expected sequence number, to find the last committed
 * transaction; collect the revoke records of committed transactions;
 * replay the blocks tagged in committed transactions, except those that
 * a transaction as new or newer revoked, the newest copy winning.
 * Escaped blocks get their magic number back.  Fast-commit records
 * (ext4 logical updates after the last full commit) are not replayed;
 * an external journal device is not read.
 *
 * All journal fields are big-endian.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#include "recovery/files/files-internal.h"

#define JBD2_MAGIC 0xc03b3998u
#define JBD2_DESCRIPTOR 1
#define JBD2_COMMIT 2
#define JBD2_SB_V1 3
#define JBD2_SB_V2 4
#define JBD2_REVOKE 5

#define INCOMPAT_REVOKE 0x1
#define INCOMPAT_64BIT 0x2
#define INCOMPAT_CSUM_V2 0x8
#define INCOMPAT_CSUM_V3 0x10
#define INCOMPAT_FAST_COMMIT 0x20

#define TAG_ESCAPE 1
#define TAG_SAME_UUID 2
#define TAG_LAST 8

#define MAX_JOURNAL_BLOCKS (1u << 22)

static uint32_t
be32 (const uint8_t *p)
{
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

struct journal {
  uint64_t vol_off;
  unsigned bs;
  uint64_t *phys;                   /* journal block -> fs block */
  uint32_t first, end;              /* the log: blocks [first, end) */
  uint32_t start, seq;              /* where and with which sequence it begins */
  uint32_t incompat;
  size_t tag_bytes;
  uint8_t *buf;
};

struct record {
  uint64_t fsblk;
  uint32_t jblk;
  uint32_t seq;
  bool escape;
};

struct revoke {
  uint64_t fsblk;
  uint32_t seq;
};

/* ---- the journal inode's blocks ------------------------------------------- */

struct map_ctx {
  struct journal *j;
  uint32_t n;
  int err;
};

static int
map_block (ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
           blk64_t ref_blk, int ref_offset, void *priv)
{
  struct map_ctx *c = priv;

  if (blockcnt < 0)
    return 0;
  if ((uint64_t) blockcnt >= c->n || *blocknr >= ext2fs_blocks_count (fs->super)) {
    c->err = -EUCLEAN;
    return BLOCK_ABORT;
  }
  c->j->phys[blockcnt] = *blocknr;
  return 0;
}

static int
map_journal (ext2_filsys fs, ext2_ino_t ino, uint32_t n, struct journal *j)
{
  struct map_ctx c = { j, n, 0 };
  errcode_t e;

  if ((j->phys = calloc (n, sizeof *j->phys)) == NULL)
    return -ENOMEM;
  e = ext2fs_block_iterate3 (fs, ino, BLOCK_FLAG_READ_ONLY | BLOCK_FLAG_DATA_ONLY,
                             NULL, map_block, &c);
  if (c.err || e) {
    child_error ("the journal's blocks cannot be mapped (the file system is damaged)");
    return -EUCLEAN;
  }
  return 0;
}

static int
read_jblock (struct journal *j, uint32_t jblk)
{
  if (jblk >= j->end || j->phys[jblk] == 0) {
    child_error ("the journal refers to its block %u, which it does not have", jblk);
    return -EUCLEAN;
  }
  return child_pread (j->buf, j->vol_off + j->phys[jblk] * j->bs, j->bs);
}

static uint32_t
next_block (const struct journal *j, uint32_t b)
{
  return b + 1 >= j->end ? j->first : b + 1;
}

/* ---- the journal superblock ------------------------------------------------- */

static int
read_superblock (struct journal *j, uint32_t nblocks, bool *clean)
{
  const uint8_t *s = j->buf;
  uint32_t type, maxlen, fc = 0;
  int r;

  j->end = nblocks;
  if ((r = read_jblock (j, 0)) < 0)
    return r;
  type = be32 (s + 4);
  if (be32 (s) != JBD2_MAGIC || (type != JBD2_SB_V1 && type != JBD2_SB_V2) ||
      be32 (s + 12) != j->bs) {
    child_error ("the journal has no valid superblock");
    return -EUCLEAN;
  }
  maxlen = be32 (s + 16);
  j->first = be32 (s + 20);
  j->seq = be32 (s + 24);
  j->start = be32 (s + 28);
  j->incompat = type == JBD2_SB_V2 ? be32 (s + 0x28) : 0;
  if (j->incompat & INCOMPAT_FAST_COMMIT)
    fc = be32 (s + 0x54) ? be32 (s + 0x54) : 256;
  if (maxlen > nblocks || fc >= maxlen || j->first == 0 || j->first >= maxlen - fc) {
    child_error ("the journal's superblock is inconsistent");
    return -EUCLEAN;
  }
  j->end = maxlen - fc;
  *clean = j->start == 0;
  if (!*clean && (j->start < j->first || j->start >= j->end)) {
    child_error ("the journal starts outside itself");
    return -EUCLEAN;
  }
  if (j->incompat & INCOMPAT_CSUM_V3)
    j->tag_bytes = 16;
  else
    j->tag_bytes = 12 + (j->incompat & INCOMPAT_CSUM_V2 ? 2 : 0) -
                   (j->incompat & INCOMPAT_64BIT ? 0 : 4);
  return 0;
}

/* ---- the log ------------------------------------------------------------------ */

DEFINE_VECTOR_TYPE (record_vector, struct record)
DEFINE_VECTOR_TYPE (revoke_vector, struct revoke)

struct scan {
  uint32_t end_seq;                 /* the first transaction not committed */
  record_vector recs;
  revoke_vector revs;
};

/* The tags of the descriptor in j->buf; the data blocks follow it from
 * *blk on.  Records them when rec. */
static int
descriptor (struct journal *j, struct scan *sc, uint32_t seq, uint32_t *blk, bool rec)
{
  const uint8_t *b = j->buf;
  size_t at = 12, end = j->bs - (j->incompat & (INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3) ? 4 : 0);
  int r;

  while (at + j->tag_bytes <= end) {
    const uint8_t *t = b + at;
    uint32_t flags = j->tag_bytes == 16 ? be32 (t + 4) : (uint32_t) (t[6] << 8 | t[7]);
    uint64_t fsblk = be32 (t);
    if (j->incompat & INCOMPAT_64BIT)
      fsblk |= (uint64_t) be32 (t + 8) << 32;
    *blk = next_block (j, *blk);
    if (rec && (r = record_vector_append (&sc->recs, (struct record) {
                  fsblk, *blk, seq, (flags & TAG_ESCAPE) != 0 })) < 0)
      return r;
    at += j->tag_bytes + (flags & TAG_SAME_UUID ? 0 : 16);
    if (flags & TAG_LAST)
      break;
  }
  return 0;
}

static int
revoke_block (struct journal *j, struct scan *sc, uint32_t seq)
{
  const uint8_t *b = j->buf;
  size_t width = j->incompat & INCOMPAT_64BIT ? 8 : 4;
  uint32_t count = be32 (b + 12);
  int r;

  if (count > j->bs)
    return 0;                       /* a damaged record revokes nothing */
  for (size_t at = 16; at + width <= count; at += width) {
    uint64_t fsblk = width == 8 ? (uint64_t) be32 (b + at) << 32 | be32 (b + at + 4)
                                : be32 (b + at);
    if ((r = revoke_vector_append (&sc->revs, (struct revoke) { fsblk, seq })) < 0)
      return r;
  }
  return 0;
}

/* One pass over the log; the first (collect false) finds end_seq, the
 * second collects the records and revokes of committed transactions. */
static int
pass (struct journal *j, struct scan *sc, bool collect)
{
  uint32_t blk = j->start, seq = j->seq;
  int r = 0;

  for (uint32_t steps = 0; steps < j->end && r == 0; steps++) {
    if (collect && seq == sc->end_seq)
      break;
    if ((r = read_jblock (j, blk)) < 0)
      return r;
    if (be32 (j->buf) != JBD2_MAGIC || be32 (j->buf + 8) != seq)
      break;
    switch (be32 (j->buf + 4)) {
    case JBD2_DESCRIPTOR:
      r = descriptor (j, sc, seq, &blk, collect);
      break;
    case JBD2_COMMIT:
      seq++;
      if (!collect)
        sc->end_seq = seq;
      break;
    case JBD2_REVOKE:
      if (collect)
        r = revoke_block (j, sc, seq);
      break;
    default:
      return 0;                     /* the end of the log */
    }
    blk = next_block (j, blk);
  }
  return r;
}

static int
by_block_seq (const void *a, const void *b)
{
  const struct revoke *x = a, *y = b;

  return x->fsblk != y->fsblk ? (x->fsblk < y->fsblk ? -1 : 1)
                              : (x->seq < y->seq) - (x->seq > y->seq);
}

/* The newest revoke of fsblk (sorted by block, newest first), or none. */
static bool
revoked (const revoke_vector *v, const struct record *rec)
{
  size_t lo = 0, hi = v->len;

  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (v->ptr[mid].fsblk < rec->fsblk)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < v->len && v->ptr[lo].fsblk == rec->fsblk && v->ptr[lo].seq >= rec->seq;
}

static int
by_block (const void *a, const void *b)
{
  const struct replay_block *x = a, *y = b;

  return (x->fsblk > y->fsblk) - (x->fsblk < y->fsblk);
}

/* The records that survive their revokes, newest copy of each block. */
static int
build (struct journal *j, struct scan *sc, uint64_t blocks, struct replay *out)
{
  size_t n = 0;

  if (sc->revs.len)
    qsort (sc->revs.ptr, sc->revs.len, sizeof *sc->revs.ptr, by_block_seq);
  out->blocks = calloc (sc->recs.len ? sc->recs.len : 1, sizeof *out->blocks);
  if (out->blocks == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < sc->recs.len; i++) {
    const struct record *rec = &sc->recs.ptr[i];
    if (revoked (&sc->revs, rec) || rec->fsblk >= blocks || j->phys[rec->jblk] == 0)
      continue;
    out->blocks[n++] = (struct replay_block) {
      rec->fsblk, j->vol_off + j->phys[rec->jblk] * j->bs, rec->escape, i };
  }
  /* Sort by block, and of equal blocks keep the last in the log. */
  qsort (out->blocks, n, sizeof *out->blocks, by_block);
  size_t w = 0;
  for (size_t i = 0; i < n; i++) {
    if (w > 0 && out->blocks[w - 1].fsblk == out->blocks[i].fsblk) {
      if (out->blocks[i].order > out->blocks[w - 1].order)
        out->blocks[w - 1] = out->blocks[i];
      continue;
    }
    out->blocks[w++] = out->blocks[i];
  }
  out->n = w;
  out->bs = j->bs;
  return 0;
}

int
jbd2_replay (ext2_filsys fs, uint64_t vol_off, struct replay *out)
{
  struct journal j = { .vol_off = vol_off, .bs = fs->blocksize };
  struct scan sc = { 0 };
  struct ext2_inode in;
  ext2_ino_t ino = fs->super->s_journal_inum;
  uint64_t size;
  bool clean = true;
  int r;

  memset (out, 0, sizeof *out);
  if (fs->super->s_journal_dev || ino == 0) {
    child_error ("the file system's journal is on another device, which cdp "
                 "cannot read; it needs recovery");
    return -ENOTSUP;
  }
  if (ext2fs_read_inode (fs, ino, &in) != 0 || (size = EXT2_I_SIZE (&in)) < 2 * j.bs ||
      size / j.bs > MAX_JOURNAL_BLOCKS) {
    child_error ("the journal inode is damaged");
    return -EUCLEAN;
  }
  if ((j.buf = malloc (j.bs)) == NULL)
    return -ENOMEM;
  r = map_journal (fs, ino, (uint32_t) (size / j.bs), &j);
  if (r == 0)
    r = read_superblock (&j, (uint32_t) (size / j.bs), &clean);
  if (r == 0 && !clean) {
    sc.end_seq = j.seq;
    r = pass (&j, &sc, false);
    if (r == 0 && sc.end_seq != j.seq)
      r = pass (&j, &sc, true);
    if (r == 0)
      r = build (&j, &sc, ext2fs_blocks_count (fs->super), out);
  }
  record_vector_reset (&sc.recs);
  revoke_vector_reset (&sc.revs);
  free (j.phys);
  free (j.buf);
  return r;
}

/* Lay the journal's copy of block b over its part of data = [off, off+len)
 * of the volume. */
static void
replay_copy (const struct replay *rp, const struct replay_block *b, uint64_t off,
             uint64_t len, uint8_t *data)
{
  uint8_t *blk = malloc (rp->bs);
  uint64_t bstart = b->fsblk * rp->bs;
  uint64_t from = bstart > off ? bstart : off;
  uint64_t to = bstart + rp->bs < off + len ? bstart + rp->bs : off + len;

  if (blk == NULL || child_pread (blk, b->src, rp->bs) < 0) {
    free (blk);                     /* the read said why; the data stays */
    return;
  }
  if (b->escape) {
    static const uint8_t magic[4] = { 0xc0, 0x3b, 0x39, 0x98 };
    memcpy (blk, magic, 4);
  }
  memcpy (data + (from - off), blk + (from - bstart), to - from);
  free (blk);
}

void
replay_free (struct replay *rp)
{
  free (rp->blocks);
  memset (rp, 0, sizeof *rp);
}

/* The first replayed block in [from, to], or NULL. */
const struct replay_block *
replay_next (const struct replay *rp, uint64_t from, uint64_t to)
{
  size_t lo = 0, hi = rp->n;

  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (rp->blocks[mid].fsblk < from)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < rp->n && rp->blocks[lo].fsblk <= to ? &rp->blocks[lo] : NULL;
}

int
replay_emit (const struct replay *rp, const struct replay_block *b, uint64_t len)
{
  uint8_t *blk;
  int r;

  if (!b->escape)
    return child_emit_extent (b->src, len);
  if ((blk = malloc (rp->bs)) == NULL)
    return -ENOMEM;
  if ((r = child_pread (blk, b->src, rp->bs)) == 0) {
    static const uint8_t magic[4] = { 0xc0, 0x3b, 0x39, 0x98 };
    memcpy (blk, magic, 4);
    r = child_emit_bytes (blk, len);
  }
  free (blk);
  return r;
}

void
replay_overlay (const struct replay *rp, uint64_t off, uint64_t len, uint8_t *data)
{
  const struct replay_block *b;
  uint64_t first, last;

  if (rp == NULL || rp->n == 0 || len == 0)
    return;
  first = off / rp->bs;
  last = (off + len - 1) / rp->bs;
  for (b = replay_next (rp, first, last); b && b < rp->blocks + rp->n &&
       b->fsblk <= last; b++)
    replay_copy (rp, b, off, len, data);
}
