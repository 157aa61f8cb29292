/* cdp recovery: CRC32C sums of a base point's data clusters.
 *
 * Every base point image d<disk>-<seq>.qcow2 made since sums exist has a
 * sidecar d<disk>-<seq>.sums: the CRC32C of every 64 KiB guest cluster
 * the image itself holds (data, or zeroes an overlay records), as the
 * guest reads it (the last cluster of a disk whose size is not a
 * multiple of 64 KiB: its bytes up to the size).  qemu-img check
 * validates an image's metadata, not its data: the sums do.  The file
 * (all integers little-endian):
 *
 *   0   8  magic "CDPSUMS1"
 *   8   4  version (1)
 *   12  4  cluster size (65536)
 *   16  8  virtual size of the image
 *   24  8  number of entries N
 *   32  4  CRC32C of the entries
 *   36  4  CRC32C of these 64 bytes with this field 0
 *   40 24  zero
 *   64 12N entries, by cluster: cluster number (u64), CRC32C (u32)
 *
 * Written by fold (before the image gets its name, so before the
 * catalog names it) and again by retention after a rebase changed the
 * image's clusters (before the rebased copy is renamed over it: the new
 * sums are a superset of the old ones, so either image matches them).
 * A cluster the image holds without a sum is damage (a changed L2
 * entry); a sum for a cluster it does not hold is ignored.  Images made
 * before sums existed have no sidecar and are not checked.
 *
 * Functions return 0 or -errno, never print; basesum_last_damage says
 * what the last -EUCLEAN found, in this thread.
 */
#ifndef CDP_BASESUM_H
#define CDP_BASESUM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vector.h"
#include "recovery/history/point.h"

#define BASESUM_CLUSTER (64u << 10)

struct basesum_entry {
  uint64_t cluster;
  uint32_t crc;
};
DEFINE_VECTOR_TYPE (basesum_vector, struct basesum_entry)

struct basesum {
  uint64_t size;                    /* virtual size */
  basesum_vector v;                 /* sorted by cluster */
};

/* The sums file of image path (.qcow2 replaced by .sums); malloc'd. */
char *basesum_path (const char *image);

/* Load; -ENOENT: the image has none; -EUCLEAN: the file is damaged. */
int basesum_load (const char *path, struct basesum *s);
/* Replace the file durably (fio_replace: data, fsync, rename, dir). */
int basesum_save (const char *path, const struct basesum *s);
void basesum_free (struct basesum *s);

/* Add the sum of cluster n, whose bytes (up to BASESUM_CLUSTER, fewer
 * only for the last one) are data; clusters must come in order. */
int basesum_add (struct basesum *s, uint64_t n, const void *data, size_t len);
/* The sum of cluster n, or NULL. */
const uint32_t *basesum_find (const struct basesum *s, uint64_t n);

struct qcow2_chain;

/* Compute the sums of the image open as c (the clusters its top image
 * holds, read through the chain) into out.  If old is not NULL, each of
 * its entries for a cluster the image holds must match: -EUCLEAN
 * otherwise (basesum_last_damage).  bytes (may be NULL) counts the data
 * read. */
int basesum_compute (struct qcow2_chain *c, const struct basesum *old,
                     struct basesum *out, uint64_t *bytes);

/* Check the clusters of the image open as c against s: fn is called
 * with each cluster that does not match (or that the image holds with
 * no sum); a non-zero return stops the check with it.  rate: bytes per
 * second at most (0: no limit); stop (may be NULL): when set, the check
 * ends with -ECANCELED.  bytes counts the data read. */
typedef int (*basesum_bad_fn) (void *opaque, uint64_t cluster, bool missing);
int basesum_check (struct qcow2_chain *c, const struct basesum *s,
                   uint64_t rate, const atomic_bool *stop, basesum_bad_fn fn,
                   void *opaque, uint64_t *bytes);

/* A base read that checks every cluster it reads of an image that has
 * sums (the chain's images, top first, with their sums or NULL). */
struct basesum_chain;
int basesum_chain_open (struct qcow2_chain *c, char *const *names,
                        struct basesum *const *sums, size_t n,
                        struct basesum_chain **bcp);
/* Frees the sums it was given and closes c too. */
void basesum_chain_close (struct basesum_chain *bc);
extern const struct point_base_ops basesum_base_ops;

/* A base point cluster that failed its sum. */
struct basesum_damage {
  char file[256];                   /* the image */
  uint64_t offset;                  /* of the cluster on the disk */
  bool missing;                     /* held without a sum */
};
/* After -EUCLEAN from a read through basesum_base_ops or from
 * basesum_compute, on the same thread: true and *d filled.  Cleared by
 * the next read through basesum_base_ops. */
bool basesum_last_damage (struct basesum_damage *d);

#endif
