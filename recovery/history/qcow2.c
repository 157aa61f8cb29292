/* cdp recovery: reading qcow2 backing chains (the contract: qcow2.h).
 *
 * What this reader uses of the format (QEMU docs/interop/qcow2.txt; all
 * fields big-endian):
 *   header at 0: magic, version, backing file name (offset, length),
 *     cluster_bits, size, crypt_method, L1 size and offset; v3 adds
 *     feature bits and header_length, and extensions follow the header;
 *   L1 table: bits 9-55 of an entry = offset of an L2 table (0: none);
 *   L2 table: one cluster of entries: bit 0 = zero cluster (v3), bits
 *     9-55 = host offset of the data cluster (0: unallocated, read the
 *     backing file), bit 62 = compressed.
 * L1 tables are read whole and checked at open.  L2 tables are read in
 * slices of at most 4 KiB into a small set-associative cache per image
 * (4 ways, LRU).  Readers of the cache take no lock: each slot is a
 * seqlock, and a read that races with a fill simply misses.  Fills (a
 * pread of the slice, then a copy into the slot) are serialized by a
 * mutex per image, held for the copy only, never for I/O.  A read walks
 * the chain top down: each range unallocated in one image is looked up
 * in the next, clipped to that image's size (beyond it: zeroes).
 */
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fileio.h"
#include "recovery/history/qcow2.h"

#define QCOW2_MAGIC 0x514649fbu
#define V2_HEADER_LEN 72
#define V3_HEADER_LEN 104
#define MIN_CLUSTER_BITS 9
#define MAX_CLUSTER_BITS 21
#define MAX_L1_BYTES (32u << 20)           /* QEMU's QCOW_MAX_L1_SIZE */
#define MAX_BACKING_NAME 1023
#define OFFSET_MASK 0x00fffffffffffe00ull  /* bits 9-55 of L1/L2 entries */
#define L2E_ZERO 1ull
#define L2E_COMPRESSED (1ull << 62)

#define INCOMPAT_DIRTY     (1ull << 0)
#define INCOMPAT_CORRUPT   (1ull << 1)
#define INCOMPAT_DATA_FILE (1ull << 2)
#define INCOMPAT_COMPRESS  (1ull << 3)     /* compression type: harmless,
                                              compressed clusters are
                                              refused on read anyway */
#define INCOMPAT_EXTL2     (1ull << 4)
#define INCOMPAT_KNOWN     (INCOMPAT_DIRTY | INCOMPAT_CORRUPT | \
                            INCOMPAT_DATA_FILE | INCOMPAT_COMPRESS | \
                            INCOMPAT_EXTL2)

#define EXT_END 0u
#define EXT_BACKING_FORMAT 0xe2792acau

#define SLICE_MAX_BITS 9                   /* 512 entries = 4 KiB */
#define CACHE_MAX_SLOTS 256u               /* per image: 1 MiB at most */
#define CACHE_WAYS 4u
#define LOOKUP_MAX 128u                    /* L2 entries one lookup copies */

enum fmt { FMT_QCOW2, FMT_RAW, FMT_PROBE };

/* A cached L2 slice.  Readers take no lock: seq is a seqlock, odd while
 * a fill rewrites the slot. */
struct slot {
  _Atomic uint32_t seq;
  _Atomic uint64_t key;         /* 1 + slice number in the image; 0 = empty */
  _Atomic uint64_t used;        /* cache tick when last used */
  _Atomic uint64_t *ent;        /* the slice's entries, host-endian */
};

struct l2_cache {
  pthread_mutex_t lock;         /* serializes fills */
  _Atomic uint64_t tick;        /* advanced by each fill */
  uint32_t set_mask;
  struct slot *slots;           /* (set_mask + 1) * CACHE_WAYS */
  _Atomic uint64_t *mem;
};

struct image {
  char *path;
  int fd;
  bool raw;
  bool cache_ready;
  dev_t dev;
  ino_t ino;
  uint32_t version;
  uint64_t size;                /* virtual size */
  uint64_t file_size;
  unsigned cluster_bits;
  unsigned l2_bits;             /* log2 of entries per L2 table */
  unsigned slice_bits;          /* log2 of entries per cached slice */
  uint32_t l1_size;
  uint64_t *l1;                 /* L2 table offsets (0: none), checked */
  struct l2_cache cache;
};

struct qcow2_chain {
  unsigned n;
  struct image img[QCOW2_MAX_CHAIN];
};

/* ---- errors and I/O ------------------------------------------------------ */

static const char *
errstr (int err)
{
  const char *s = strerrordesc_np (-err);

  return s ? s : "unknown error";
}

/* Read len bytes at off; what lies past the end of the file reads as
 * zeroes (as QEMU's file driver does). */
static int
pread_full (int fd, void *buf, uint64_t len, uint64_t off)
{
  ssize_t n = fio_pread_all (fd, buf, len, (off_t) off);

  if (n < 0)
    return (int) n;
  memset ((uint8_t *) buf + n, 0, len - (uint64_t) n);
  return 0;
}

static uint32_t
be32_at (const uint8_t *p)
{
  uint32_t v;

  memcpy (&v, p, sizeof v);
  return be32toh (v);
}

static uint64_t
be64_at (const uint8_t *p)
{
  uint64_t v;

  memcpy (&v, p, sizeof v);
  return be64toh (v);
}

static uint64_t
min64 (uint64_t a, uint64_t b)
{
  return a < b ? a : b;
}

/* ---- the header ---------------------------------------------------------- */

struct header {
  uint32_t version;
  uint64_t backing_off;
  uint32_t backing_len;
  uint32_t cluster_bits;
  uint64_t size;
  uint32_t crypt;
  uint32_t l1_size;
  uint64_t l1_off;
  uint64_t incompat;
  uint32_t header_len;
};

static void
header_decode (const uint8_t *b, struct header *h)
{
  h->version = be32_at (b + 4);
  h->backing_off = be64_at (b + 8);
  h->backing_len = be32_at (b + 16);
  h->cluster_bits = be32_at (b + 20);
  h->size = be64_at (b + 24);
  h->crypt = be32_at (b + 32);
  h->l1_size = be32_at (b + 36);
  h->l1_off = be64_at (b + 40);
  h->incompat = h->version >= 3 ? be64_at (b + 72) : 0;
  h->header_len = h->version >= 3 ? be32_at (b + 100) : V2_HEADER_LEN;
}

static int
check_features (const struct image *im, uint64_t incompat)
{
  const char *p = im->path;

  if (incompat & INCOMPAT_CORRUPT)
    return cdp_set_error (-EUCLEAN, "%s: image is marked corrupt "
                          "(qemu-img check -r all may repair it)", p);
  if (incompat & INCOMPAT_DATA_FILE)
    return cdp_set_error (-ENOTSUP, "%s: external data files are not "
                          "supported", p);
  if (incompat & INCOMPAT_EXTL2)
    return cdp_set_error (-ENOTSUP, "%s: extended L2 entries (subclusters) "
                          "are not supported", p);
  if (incompat & ~INCOMPAT_KNOWN)
    return cdp_set_error (-ENOTSUP, "%s: unknown incompatible features %#"
                          PRIx64, p, (uint64_t) (incompat & ~INCOMPAT_KNOWN));
  return 0;
}

static int
check_header (const struct image *im, const struct header *h)
{
  const char *p = im->path;
  uint64_t cluster;

  if (h->version != 2 && h->version != 3)
    return cdp_set_error (-ENOTSUP, "%s: qcow2 version %" PRIu32
                          " is not supported", p, h->version);
  if (h->cluster_bits < MIN_CLUSTER_BITS || h->cluster_bits > MAX_CLUSTER_BITS)
    return cdp_set_error (-EUCLEAN, "%s: bad cluster_bits %" PRIu32,
                          p, h->cluster_bits);
  cluster = 1ull << h->cluster_bits;
  if (h->header_len < (h->version >= 3 ? V3_HEADER_LEN : V2_HEADER_LEN) ||
      h->header_len > cluster)
    return cdp_set_error (-EUCLEAN, "%s: bad header length %" PRIu32,
                          p, h->header_len);
  if (im->file_size < h->header_len)
    return cdp_set_error (-EUCLEAN, "%s: file truncated inside the header", p);
  if (h->crypt != 0)
    return cdp_set_error (-ENOTSUP, "%s: encrypted images are not supported",
                          p);
  if (h->backing_off != 0 &&
      (h->backing_len > MAX_BACKING_NAME || h->backing_off > cluster ||
       h->backing_len > cluster - h->backing_off))
    return cdp_set_error (-EUCLEAN, "%s: bad backing file name location", p);
  return check_features (im, h->incompat);
}

static int
backing_format (const struct image *im, const uint8_t *s, uint32_t len,
                enum fmt *fmt)
{
  if (len == 3 && memcmp (s, "raw", 3) == 0)
    *fmt = FMT_RAW;
  else if (len == 5 && memcmp (s, "qcow2", 5) == 0)
    *fmt = FMT_QCOW2;
  else
    return cdp_set_error (-ENOTSUP, "%s: backing format '%.*s' is not "
                          "supported (only qcow2 and raw)", im->path,
                          (int) min64 (len, 32), (const char *) s);
  return 0;
}

/* Walk the header extensions in hc (the header cluster). */
static int
parse_extensions (const struct image *im, const uint8_t *hc,
                  const struct header *h, enum fmt *fmt)
{
  uint64_t at = h->header_len;
  uint64_t end = h->backing_off ? h->backing_off : 1ull << h->cluster_bits;
  int r;

  *fmt = FMT_PROBE;
  while (end >= 8 && at <= end - 8) {
    uint32_t type = be32_at (hc + at), len = be32_at (hc + at + 4);

    at += 8;
    if (type == EXT_END)
      break;
    if (len > end - at)
      return cdp_set_error (-EUCLEAN, "%s: header extension %#" PRIx32
                            " runs past the header", im->path, type);
    if (type == EXT_BACKING_FORMAT &&
        (r = backing_format (im, hc + at, len, fmt)) < 0)
      return r;
    at += ((uint64_t) len + 7) & ~7ull;
  }
  return 0;
}

/* Is name a protocol ("nbd:...", "json:...") rather than a file name?
 * QEMU's rule: a ':' before any '/'. */
static bool
has_protocol (const char *name)
{
  return name[strcspn (name, ":/")] == ':';
}

/* The backing file name of image im, resolved like QEMU does: relative
 * to the directory of the image.  *out = NULL if there is none. */
static int
backing_path (const struct image *im, const uint8_t *hc,
              const struct header *h, char **out)
{
  CLEANUP_FREE char *name = NULL;
  const char *n, *slash = strrchr (im->path, '/');

  *out = NULL;
  if (h->backing_off == 0 || h->backing_len == 0)
    return 0;
  name = strndup ((const char *) hc + h->backing_off, h->backing_len);
  if (name == NULL)
    return -ENOMEM;
  if (strlen (name) != h->backing_len)
    return cdp_set_error (-EUCLEAN, "%s: NUL byte in the backing file name",
                          im->path);
  n = strncmp (name, "file:", 5) == 0 ? name + 5 : name;
  if (n == name && has_protocol (n))
    return cdp_set_error (-ENOTSUP, "%s: backing file '%s' is not a local file",
                          im->path, name);
  /* QEMU takes "file:NAME" as it is: relative to the working directory */
  if (n != name || n[0] == '/' || slash == NULL)
    *out = strdup (n);
  else if (asprintf (out, "%.*s/%s", (int) (slash - im->path), im->path,
                     n) < 0)
    *out = NULL;
  return *out ? 0 : -ENOMEM;
}

/* ---- the L1 table -------------------------------------------------------- */

static int
check_l1_geometry (const struct image *im, const struct header *h)
{
  unsigned shift = im->cluster_bits + im->l2_bits;
  uint64_t need = (h->size >> shift) + ((h->size & ((1ull << shift) - 1)) != 0);
  uint64_t bytes = (uint64_t) h->l1_size * 8;

  if (bytes > MAX_L1_BYTES)
    return cdp_set_error (-EUCLEAN, "%s: L1 table of %" PRIu32 " entries is "
                          "too large", im->path, h->l1_size);
  if (need > h->l1_size)
    return cdp_set_error (-EUCLEAN, "%s: L1 table too small for a size of %"
                          PRIu64 " bytes", im->path, h->size);
  if (h->l1_size == 0)
    return 0;
  if (h->l1_off == 0 || (h->l1_off & ((1ull << im->cluster_bits) - 1)) ||
      h->l1_off > im->file_size || bytes > im->file_size - h->l1_off)
    return cdp_set_error (-EUCLEAN, "%s: L1 table offset %#" PRIx64 " is "
                          "misaligned or past the end of the file",
                          im->path, h->l1_off);
  return 0;
}

static int
check_l1_entry (const struct image *im, uint32_t i, uint64_t l2)
{
  if (l2 & ((1ull << im->cluster_bits) - 1))
    return cdp_set_error (-EUCLEAN, "%s: L1 entry %" PRIu32 " is misaligned",
                          im->path, i);
  if (l2 >= im->file_size)
    return cdp_set_error (-EUCLEAN, "%s: L1 entry %" PRIu32 " points past the "
                          "end of the file", im->path, i);
  return 0;
}

static int
load_l1 (struct image *im, const struct header *h)
{
  int r;

  im->l1_size = h->l1_size;
  im->l1 = malloc (h->l1_size ? (size_t) h->l1_size * 8 : 1);
  if (im->l1 == NULL)
    return -ENOMEM;
  r = pread_full (im->fd, im->l1, (uint64_t) h->l1_size * 8, h->l1_off);
  if (r < 0)
    return cdp_set_error (r, "%s: reading the L1 table: %s", im->path,
                          errstr (r));
  for (uint32_t i = 0; i < h->l1_size; i++) {
    im->l1[i] = be64toh (im->l1[i]) & OFFSET_MASK;
    if (im->l1[i] && (r = check_l1_entry (im, i, im->l1[i])) < 0)
      return r;
  }
  return 0;
}

/* ---- the L2 cache -------------------------------------------------------- */

static int
cache_init (struct image *im)
{
  struct l2_cache *ca = &im->cache;
  uint64_t cover = (im->size >> (im->cluster_bits + im->slice_bits)) + 1;
  uint32_t nslots = CACHE_WAYS;
  int r;

  while (nslots < CACHE_MAX_SLOTS && nslots < cover)
    nslots <<= 1;
  ca->set_mask = nslots / CACHE_WAYS - 1;
  ca->slots = calloc (nslots, sizeof *ca->slots);
  ca->mem = malloc ((size_t) nslots * 8 << im->slice_bits);
  if (ca->slots == NULL || ca->mem == NULL)
    return -ENOMEM;
  for (uint32_t i = 0; i < nslots; i++)
    ca->slots[i].ent = ca->mem + ((size_t) i << im->slice_bits);
  r = pthread_mutex_init (&ca->lock, NULL);
  if (r != 0)
    return -r;
  im->cache_ready = true;
  return 0;
}

static void
cache_free (struct image *im)
{
  if (im->cache_ready)
    pthread_mutex_destroy (&im->cache.lock);
  free (im->cache.slots);
  free (im->cache.mem);
}

static struct slot *
cache_set (struct l2_cache *ca, uint64_t key)
{
  return &ca->slots[(key & ca->set_mask) * CACHE_WAYS];
}

/* Mark s as used now (the tick of the last fill); most uses write
 * nothing, so that readers do not bounce the slot between CPUs. */
static void
cache_touch (struct l2_cache *ca, struct slot *s)
{
  uint64_t t = atomic_load_explicit (&ca->tick, memory_order_relaxed);

  if (atomic_load_explicit (&s->used, memory_order_relaxed) != t)
    atomic_store_explicit (&s->used, t, memory_order_relaxed);
}

/* Copy entries first .. first+n-1 of key's slice into out, without a
 * lock: a seqlock read, which misses if a fill overwrote the slot
 * meanwhile.  The entries are loaded with acquire (plain loads on x86),
 * so that the second load of seq cannot move before them and sees any
 * fill whose entries they saw (no fences: ThreadSanitizer knows none). */
static bool
cache_copy (struct l2_cache *ca, uint64_t key, uint32_t first, uint32_t n,
            uint64_t *out)
{
  struct slot *set = cache_set (ca, key);

  for (unsigned w = 0; w < CACHE_WAYS; w++) {
    struct slot *s = &set[w];
    uint32_t seq = atomic_load_explicit (&s->seq, memory_order_acquire);

    if ((seq & 1) ||
        atomic_load_explicit (&s->key, memory_order_acquire) != key)
      continue;
    for (uint32_t i = 0; i < n; i++)
      out[i] = atomic_load_explicit (&s->ent[first + i], memory_order_acquire);
    if (atomic_load_explicit (&s->seq, memory_order_relaxed) != seq)
      return false;
    cache_touch (ca, s);
    return true;
  }
  return false;
}

/* Put the slice key (n entries) in the least recently used slot of its
 * set, unless another thread was quicker.  Fills are serialized by the
 * lock; readers see the slot's seq odd while it changes. */
static void
cache_fill (struct l2_cache *ca, uint64_t key, const uint64_t *ent, size_t n)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&ca->lock);
  struct slot *set = cache_set (ca, key), *v = &set[0];
  uint32_t seq;

  for (unsigned w = 0; w < CACHE_WAYS; w++) {
    if (atomic_load_explicit (&set[w].key, memory_order_relaxed) == key)
      return;
    if (atomic_load_explicit (&set[w].used, memory_order_relaxed) <
        atomic_load_explicit (&v->used, memory_order_relaxed))
      v = &set[w];
  }
  seq = atomic_load_explicit (&v->seq, memory_order_relaxed);
  atomic_store_explicit (&v->seq, seq + 1, memory_order_relaxed);
  atomic_store_explicit (&v->key, key, memory_order_release);
  for (size_t i = 0; i < n; i++)
    atomic_store_explicit (&v->ent[i], ent[i], memory_order_release);
  atomic_store_explicit (&v->used, atomic_fetch_add (&ca->tick, 1) + 1,
                         memory_order_relaxed);
  atomic_store_explicit (&v->seq, seq + 2, memory_order_release);
}

/* Entries first .. first+n-1 of slice sl of L2 table l1i, into out. */
static int
l2_entries (struct image *im, uint64_t l1i, uint64_t sl, uint32_t first,
            uint32_t n, uint64_t *out)
{
  uint64_t key = 1 + (l1i << (im->l2_bits - im->slice_bits)) + sl;
  uint64_t ent[1u << SLICE_MAX_BITS];
  size_t bytes = (size_t) 8 << im->slice_bits;
  int r;

  if (cache_copy (&im->cache, key, first, n, out))
    return 0;
  r = pread_full (im->fd, ent, bytes, im->l1[l1i] + sl * bytes);
  if (r < 0)
    return cdp_set_error (r, "%s: reading an L2 table: %s", im->path,
                          errstr (r));
  for (size_t i = 0; i < bytes / 8; i++)
    ent[i] = be64toh (ent[i]);
  cache_fill (&im->cache, key, ent, bytes / 8);
  memcpy (out, ent + first, n * sizeof *out);
  return 0;
}

/* ---- mapping one image --------------------------------------------------- */

enum kind {
  K_DATA,                       /* data at a host offset */
  K_ZERO,                       /* allocated as zeroes (or a raw hole) */
  K_NONE,                       /* unallocated: ask the backing file */
};

struct run {
  enum kind kind;
  uint64_t len;
  uint64_t host;                /* K_DATA: file offset of the first byte */
};

/* What L2 entry e says, or -errno (the caller says why). */
static int
classify (const struct image *im, uint64_t e, struct run *r)
{
  r->host = e & OFFSET_MASK;
  if (e & L2E_COMPRESSED)
    return -ENOTSUP;
  if (r->host & ((1ull << im->cluster_bits) - 1))
    return -EUCLEAN;
  if (e & L2E_ZERO) {
    r->kind = K_ZERO;
    return im->version >= 3 ? 0 : -EUCLEAN;
  }
  r->kind = r->host ? K_DATA : K_NONE;
  return r->host < im->file_size ? 0 : -EUCLEAN;
}

static int
entry_error (const struct image *im, uint64_t off, uint64_t e, int err)
{
  const char *why =
    err == -ENOTSUP ? "is a compressed cluster (not supported)" :
    (e & OFFSET_MASK & ((1ull << im->cluster_bits) - 1)) ? "is misaligned" :
    (e & L2E_ZERO) ? "is a zero cluster in a version 2 image" :
    "points past the end of the file";

  return cdp_set_error (err, "%s: L2 entry for offset %#" PRIx64 " %s",
                        im->path, off, why);
}

/* How [off, off+len) of qcow2 image im begins: the longest prefix that
 * is one kind (and, for data, contiguous in the file), into *run.
 * off + len <= im->size.  Not inlined: its 5 KiB of buffers must stay
 * out of the frames of the recursive walk. */
static int __attribute__ ((noinline))
lookup (struct image *im, uint64_t off, uint64_t len, struct run *run)
{
  unsigned cb = im->cluster_bits;
  uint64_t cl = off >> cb, last = (off + len - 1) >> cb;
  uint64_t l1i = cl >> im->l2_bits;
  uint64_t in_l2 = cl & ((1ull << im->l2_bits) - 1);
  uint32_t first = in_l2 & ((1u << im->slice_bits) - 1);
  uint64_t ent[LOOKUP_MAX];
  uint32_t n, k;
  struct run next;
  int r;

  assert (l1i < im->l1_size);   /* checked at open: L1 covers the size */
  if (im->l1[l1i] == 0) {
    run->kind = K_NONE;
    run->len = min64 (len, ((l1i + 1) << (cb + im->l2_bits)) - off);
    return 0;
  }
  n = (uint32_t) min64 (min64 (last - cl + 1, LOOKUP_MAX),
                        (1u << im->slice_bits) - first);
  r = l2_entries (im, l1i, in_l2 >> im->slice_bits, first, n, ent);
  if (r < 0)
    return r;
  if ((r = classify (im, ent[0], run)) < 0)
    return entry_error (im, off, ent[0], r);
  for (k = 1; k < n; k++) {
    uint64_t contiguous = run->host + ((uint64_t) k << cb);

    if (classify (im, ent[k], &next) < 0 || next.kind != run->kind ||
        (next.kind == K_DATA && next.host != contiguous))
      break;
  }
  run->host += off & ((1ull << cb) - 1);
  run->len = min64 (len, ((cl + k) << cb) - off);
  return 0;
}

/* ---- walking the chain --------------------------------------------------- */

/* A walk over [off, off+len) of the top image calls piece for each range
 * in order: which image decides it (depth), what it is, and for K_DATA
 * where it lies in that image's file.  K_NONE: no image allocates it (or
 * it lies past the end of a backing file); depth is the last image the
 * walk reached.  A non-zero return stops the walk. */
struct walker {
  int (*piece) (struct walker *w, unsigned depth, enum kind kind,
                uint64_t off, uint64_t len, uint64_t host);
  bool raw_holes;               /* split raw images at holes (SEEK_HOLE) */
};

static int walk (struct qcow2_chain *c, unsigned lvl, uint64_t off,
                 uint64_t len, struct walker *w);

/* Where the data or hole of a raw image at off ends (<= end), and which
 * it is.  A file system without SEEK_DATA reads as all data. */
static uint64_t
raw_extent (const struct image *im, uint64_t off, uint64_t end,
            enum kind *kind)
{
  off_t d = lseek (im->fd, (off_t) off, SEEK_DATA), h;

  *kind = K_ZERO;
  if (d < 0 && errno == ENXIO)                  /* a hole to the end */
    return end;
  if (d > (off_t) off)                          /* a hole up to d */
    return min64 (end, (uint64_t) d);
  *kind = K_DATA;
  h = d < 0 ? -1 : lseek (im->fd, (off_t) off, SEEK_HOLE);
  return h > (off_t) off ? min64 (end, (uint64_t) h) : end;
}

/* A raw image: all data, unless the walker wants its holes. */
static int
walk_raw (struct image *im, unsigned lvl, uint64_t off, uint64_t len,
          struct walker *w)
{
  uint64_t end = off + len;
  int r = 0;

  if (!w->raw_holes)
    return w->piece (w, lvl, K_DATA, off, len, off);
  while (r == 0 && off < end) {
    enum kind kind;
    uint64_t stop = raw_extent (im, off, end, &kind);

    r = w->piece (w, lvl, kind, off, stop - off, off);
    off = stop;
  }
  return r;
}

/* [off, off+len) is unallocated in image lvl: the image below decides,
 * up to its own size. */
static int
walk_below (struct qcow2_chain *c, unsigned lvl, uint64_t off, uint64_t len,
            struct walker *w)
{
  uint64_t inside = 0;
  int r = 0;

  if (lvl + 1 < c->n && off < c->img[lvl + 1].size)
    inside = min64 (len, c->img[lvl + 1].size - off);
  if (inside > 0)
    r = walk (c, lvl + 1, off, inside, w);
  if (r == 0 && inside < len)
    r = w->piece (w, lvl, K_NONE, off + inside, len - inside, 0);
  return r;
}

static int
walk (struct qcow2_chain *c, unsigned lvl, uint64_t off, uint64_t len,
      struct walker *w)
{
  struct image *im = &c->img[lvl];
  struct run run;
  int r;

  if (im->raw)
    return walk_raw (im, lvl, off, len, w);
  while (len > 0) {
    if ((r = lookup (im, off, len, &run)) < 0)
      return r;
    if (run.kind == K_NONE)
      r = walk_below (c, lvl, off, run.len, w);
    else
      r = w->piece (w, lvl, run.kind, off, run.len, run.host);
    if (r != 0)
      return r;
    off += run.len;
    len -= run.len;
  }
  return 0;
}

static int
check_range (const struct qcow2_chain *c, uint64_t off, uint64_t len)
{
  uint64_t end;

  if (__builtin_add_overflow (off, len, &end) || end > c->img[0].size)
    return cdp_set_error (-EINVAL, "%s: range %#" PRIx64 "+%#" PRIx64
                          " is past the end (%" PRIu64 " bytes)",
                          c->img[0].path, off, len, c->img[0].size);
  return 0;
}

/* ---- reads --------------------------------------------------------------- */

struct reader {
  struct walker w;
  struct qcow2_chain *c;
  uint8_t *buf;
  uint64_t start;
};

static int
read_piece (struct walker *w, unsigned depth, enum kind kind, uint64_t off,
            uint64_t len, uint64_t host)
{
  struct reader *rd = (struct reader *) w;
  uint8_t *p = rd->buf + (off - rd->start);
  int r;

  if (kind != K_DATA) {
    memset (p, 0, len);
    return 0;
  }
  r = pread_full (rd->c->img[depth].fd, p, len, host);
  if (r < 0)
    return cdp_set_error (r, "%s: reading %" PRIu64 " bytes at %#" PRIx64
                          ": %s", rd->c->img[depth].path, len, host,
                          errstr (r));
  return 0;
}

int
qcow2_pread (struct qcow2_chain *c, void *buf, uint64_t off, uint64_t len)
{
  struct reader rd = { .w.piece = read_piece, .c = c, .buf = buf,
                       .start = off };
  int r = check_range (c, off, len);

  return r < 0 || len == 0 ? r : walk (c, 0, off, len, &rd.w);
}

/* ---- allocation map ------------------------------------------------------ */

struct mapper {
  struct walker w;
  qcow2_map_fn fn;
  void *opaque;
  struct qcow2_extent pend;     /* not yet reported; len 0: none */
};

static int
map_piece (struct walker *w, unsigned depth, enum kind kind, uint64_t off,
           uint64_t len, uint64_t host)
{
  struct mapper *m = (struct mapper *) w;
  uint32_t flags = kind == K_DATA ? QCOW2_EXTENT_PRESENT :
    kind == K_ZERO ? QCOW2_EXTENT_ZERO | QCOW2_EXTENT_PRESENT :
    QCOW2_EXTENT_ZERO;
  int r = 0;

  if (m->pend.len > 0 && m->pend.flags == flags && m->pend.depth == depth) {
    m->pend.len += len;
    return 0;
  }
  if (m->pend.len > 0)
    r = m->fn (m->opaque, &m->pend);
  m->pend = (struct qcow2_extent) { .off = off, .len = len, .flags = flags,
                                    .depth = depth };
  return r;
}

int
qcow2_map (struct qcow2_chain *c, uint64_t off, uint64_t len,
           qcow2_map_fn fn, void *opaque)
{
  struct mapper m = { .w = { .piece = map_piece, .raw_holes = true },
                      .fn = fn, .opaque = opaque };
  int r = check_range (c, off, len);

  if (r == 0 && len > 0)
    r = walk (c, 0, off, len, &m.w);
  if (r == 0 && m.pend.len > 0)
    r = fn (opaque, &m.pend);
  return r;
}

static int
hole_piece (struct walker *w, unsigned depth, enum kind kind, uint64_t off,
            uint64_t len, uint64_t host)
{
  return kind == K_DATA;
}

bool
qcow2_is_hole (struct qcow2_chain *c, uint64_t off, uint64_t len)
{
  struct walker w = { .piece = hole_piece, .raw_holes = true };

  if (check_range (c, off, len) < 0)
    return false;
  return len == 0 || walk (c, 0, off, len, &w) == 0;
}

/* ---- opening and closing ------------------------------------------------- */

static int
open_qcow2 (struct image *im, char **next, enum fmt *next_fmt)
{
  CLEANUP_FREE uint8_t *hc = NULL;
  uint8_t b[V3_HEADER_LEN];
  struct header h;
  int r;

  r = pread_full (im->fd, b, sizeof b, 0);
  if (r < 0)
    return cdp_set_error (r, "%s: reading the header: %s", im->path,
                          errstr (r));
  if (im->file_size < V2_HEADER_LEN || be32_at (b) != QCOW2_MAGIC)
    return cdp_set_error (-EINVAL, "%s: not a qcow2 image", im->path);
  header_decode (b, &h);
  if ((r = check_header (im, &h)) < 0)
    return r;
  im->version = h.version;
  im->size = h.size;
  im->cluster_bits = h.cluster_bits;
  im->l2_bits = h.cluster_bits - 3;
  im->slice_bits = im->l2_bits < SLICE_MAX_BITS ? im->l2_bits : SLICE_MAX_BITS;
  hc = malloc ((size_t) 1 << h.cluster_bits);
  if (hc == NULL)
    return -ENOMEM;
  r = pread_full (im->fd, hc, 1ull << h.cluster_bits, 0);
  if (r < 0)
    return cdp_set_error (r, "%s: reading the header: %s", im->path,
                          errstr (r));
  if ((r = parse_extensions (im, hc, &h, next_fmt)) < 0 ||
      (r = backing_path (im, hc, &h, next)) < 0 ||
      (r = check_l1_geometry (im, &h)) < 0 ||
      (r = load_l1 (im, &h)) < 0)
    return r;
  return cache_init (im);
}

static int
probe (struct image *im, enum fmt *fmt)
{
  uint8_t b[4];
  int r = pread_full (im->fd, b, sizeof b, 0);

  if (r < 0)
    return cdp_set_error (r, "%s: %s", im->path, errstr (r));
  *fmt = be32_at (b) == QCOW2_MAGIC && im->file_size >= 4 ? FMT_QCOW2 : FMT_RAW;
  return 0;
}

/* Open im->path as fmt; *next: its backing file (NULL: none). */
static int
open_image (struct image *im, enum fmt fmt, char **next, enum fmt *next_fmt)
{
  struct stat st;
  off_t end;
  int r;

  *next = NULL;
  im->fd = open (im->path, O_RDONLY | O_CLOEXEC);
  if (im->fd < 0 || fstat (im->fd, &st) < 0 ||
      (end = lseek (im->fd, 0, SEEK_END)) < 0)
    return cdp_set_error (-errno, "%s: %s", im->path, errstr (-errno));
  im->dev = st.st_dev;
  im->ino = st.st_ino;
  im->file_size = (uint64_t) end;
  if (fmt == FMT_PROBE && (r = probe (im, &fmt)) < 0)
    return r;
  if (fmt == FMT_QCOW2)
    return open_qcow2 (im, next, next_fmt);
  im->raw = true;
  im->size = im->file_size;
  return 0;
}

static void
close_image (struct image *im)
{
  if (im->fd >= 0)
    close (im->fd);
  cache_free (im);
  free (im->l1);
  free (im->path);
}

/* Is the newest image of c a file already in the chain? */
static int
check_loop (const struct qcow2_chain *c)
{
  const struct image *im = &c->img[c->n - 1];

  for (unsigned i = 0; i + 1 < c->n; i++)
    if (c->img[i].dev == im->dev && c->img[i].ino == im->ino)
      return cdp_set_error (-ELOOP, "%s: backing file loop (%s is %s)",
                            c->img[0].path, im->path, c->img[i].path);
  return 0;
}

int
qcow2_open (const char *path, struct qcow2_chain **cp)
{
  struct qcow2_chain *c = calloc (1, sizeof *c);
  char *cur = strdup (path);
  enum fmt fmt = FMT_QCOW2;
  int r = 0;

  cdp_clear_error ();
  if (c == NULL || cur == NULL) {
    r = -ENOMEM;
    goto err;
  }
  while (cur != NULL && r == 0) {
    struct image *im;

    if (c->n == QCOW2_MAX_CHAIN) {
      r = cdp_set_error (-ELOOP, "%s: backing chain deeper than %d images",
                         path, QCOW2_MAX_CHAIN);
      break;
    }
    im = &c->img[c->n++];
    im->path = cur;
    r = open_image (im, fmt, &cur, &fmt);
    if (r == 0)
      r = check_loop (c);
  }
  if (r < 0)
    goto err;
  *cp = c;
  return 0;

 err:
  free (cur);
  qcow2_close (c);
  return r;
}

void
qcow2_close (struct qcow2_chain *c)
{
  if (c == NULL)
    return;
  for (unsigned i = 0; i < c->n; i++)
    close_image (&c->img[i]);
  free (c);
}

uint64_t
qcow2_size (const struct qcow2_chain *c)
{
  return c->img[0].size;
}

unsigned
qcow2_depth (const struct qcow2_chain *c)
{
  return c->n;
}

/* ---- as the base of a point ---------------------------------------------- */

static int
base_pread (void *h, void *buf, uint64_t off, uint64_t len)
{
  return qcow2_pread (h, buf, off, len);
}

static bool
base_is_hole (void *h, uint64_t off, uint64_t len)
{
  return qcow2_is_hole (h, off, len);
}

struct hole_map {
  point_hole_fn fn;
  void *opaque;
};

static int
hole_extent (void *opaque, const struct qcow2_extent *e)
{
  struct hole_map *hm = opaque;

  return e->flags & QCOW2_EXTENT_ZERO ? hm->fn (hm->opaque, e->off, e->len)
                                      : 0;
}

/* The holes from the L1/L2 tables (and SEEK_HOLE of a raw image). */
static int
base_holes (void *h, uint64_t off, uint64_t len, point_hole_fn fn,
            void *opaque)
{
  struct hole_map hm = { fn, opaque };

  return qcow2_map (h, off, len, hole_extent, &hm);
}

const struct point_base_ops qcow2_base_ops = {
  .pread = base_pread, .is_hole = base_is_hole, .holes = base_holes,
};
