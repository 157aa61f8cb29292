/* cdp recovery: a read-only reader of qcow2 backing chains.
 *
 * Base points are qcow2 images that QEMU's tools write: bp-N.qcow2 whose
 * backing file is bp-(N-1).qcow2, and so on down to a full image (qcow2
 * or raw).  This module reads such a chain directly, without an NBD hop:
 * a guest cluster comes from the topmost image that allocates it, reads
 * as zeroes where that image holds a zero cluster, and reads as zeroes
 * where no image allocates it or a backing file is shorter than the
 * image above it.
 *
 * Supported: qcow2 versions 2 and 3, cluster sizes 512 B to 2 MiB, any
 * refcount order, standard L2 entries, zero clusters (v3), a raw image
 * at the bottom of the chain, backing file names relative to the
 * directory of the image that names them (as QEMU resolves them; a
 * "file:" prefixed name, as QEMU does, relative to the working
 * directory), a
 * backing format given by the header extension or probed from the
 * file's magic when absent.  The dirty bit is ignored (reads only).
 *
 * Refused with -ENOTSUP: encryption, external data files, extended L2
 * entries (subclusters), incompatible feature bits this reader does not
 * know, backing files that are not local files (protocols, json:), and
 * compressed clusters (when a read meets one).  An image marked corrupt
 * is refused with -EUCLEAN.
 *
 * Every offset and size read from an image is checked before use: a
 * damaged or hostile image gives -EUCLEAN (or -EINVAL when the file is
 * not a qcow2 image at all), never a read outside the file or a buffer.
 *
 * Thread rules: after qcow2_open returns, every call except qcow2_close
 * may run from any number of threads at once on the same chain.  Reads
 * use pread(2) only (no shared file offset).  Each image keeps a small
 * cache of L2 table slices (at most 1 MiB) that readers use without a
 * lock; filling it takes a mutex per image, never held across I/O.
 *
 * Functions return 0 or -errno, never print and never touch errno.  After
 * a failure, the thread's error (common/error.h, cdp_get_error) says what
 * failed, on which file ("bp-3.qcow2: L2 entry for offset 0x10000 points
 * past the end of the file"); qcow2_open clears it first.
 */
#ifndef CDP_QCOW2_H
#define CDP_QCOW2_H

#include <stdbool.h>
#include <stdint.h>

#include "recovery/history/point.h"

/* Deepest chain qcow2_open accepts (the top image counts). */
#define QCOW2_MAX_CHAIN 64

struct qcow2_chain;

/* Open the qcow2 image at path and its whole backing chain, read-only.
 *
 *   path   the top image; it must be qcow2 (a raw file is refused).
 *   cp     on success, the chain; free it with qcow2_close.
 *
 * Errors: -ENOENT, -EACCES (a file of the chain cannot be opened),
 * -EINVAL (a file that should be qcow2 is not), -ENOTSUP (a feature or
 * backing file this reader does not support, see above), -EUCLEAN (a
 * damaged header, L1 table or backing file name; an image marked
 * corrupt), -ELOOP (a backing loop, or a chain deeper than
 * QCOW2_MAX_CHAIN), -ENOMEM, -EIO. */
int qcow2_open (const char *path, struct qcow2_chain **cp);

/* Close every file of the chain and free it.  NULL is allowed.  No other
 * call on c may be running or follow. */
void qcow2_close (struct qcow2_chain *c);

/* Virtual size of the top image in bytes. */
uint64_t qcow2_size (const struct qcow2_chain *c);

/* Number of images in the chain (1 = no backing file). */
unsigned qcow2_depth (const struct qcow2_chain *c);

/* Read [off, off+len) of the top image, as QEMU would, into buf.
 *
 * Errors: -EINVAL (the range goes past qcow2_size), -EUCLEAN (an L2
 * entry or table that points outside its file or is misaligned),
 * -ENOTSUP (a compressed cluster), -EIO and other pread errors.  On
 * error the contents of buf are unspecified.  Thread-safe. */
int qcow2_pread (struct qcow2_chain *c, void *buf, uint64_t off,
                 uint64_t len);

/* One extent of the chain's allocation map, like an entry of
 * `qemu-img map --output=json` (without the host offset). */
struct qcow2_extent {
  uint64_t off;
  uint64_t len;
  uint32_t flags;           /* QCOW2_EXTENT_* */
  uint32_t depth;           /* image that decides it: 0 = top; for a range
                               that nothing allocates, the last image the
                               lookup reached */
};
/* Reads as zeroes and holds no data: a zero cluster, a hole of a raw
 * file, or a range that no image allocates (qemu-img map "data": false). */
#define QCOW2_EXTENT_ZERO    1u
/* Allocated (as data or as a zero cluster) in some image of the chain,
 * including any range of a raw image (qemu-img map "present"). */
#define QCOW2_EXTENT_PRESENT 2u

/* Called with extents in order; adjacent ranges with equal flags and
 * depth are merged.  Return 0 to go on, anything else to stop the walk:
 * qcow2_map then returns that value. */
typedef int (*qcow2_map_fn) (void *opaque, const struct qcow2_extent *e);

/* Report the allocation of [off, off+len) of the top image through fn.
 * Errors as qcow2_pread, or fn's non-zero return.  Thread-safe. */
int qcow2_map (struct qcow2_chain *c, uint64_t off, uint64_t len,
               qcow2_map_fn fn, void *opaque);

/* Does all of [off, off+len) read as zeroes without data behind it
 * (every extent QCOW2_EXTENT_ZERO)?  False on any error, and for a range
 * past the end.  True for len == 0.  Thread-safe. */
bool qcow2_is_hole (struct qcow2_chain *c, uint64_t off, uint64_t len);

/* The chain as the base of a point: the handle is a struct qcow2_chain *
 * (point.base = &qcow2_base_ops, point.base_h = chain). */
extern const struct point_base_ops qcow2_base_ops;

#endif
