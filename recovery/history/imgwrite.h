/* cdp recovery: writing a disk image with QEMU's own tools.
 *
 * An image writer creates one image file and fills it: base points (a
 * qcow2 overlay on the previous base point that holds only the clusters
 * that changed) and full restores (a standalone qcow2 or raw image).
 *
 * qcow2: the file is made by `qemu-img create -f qcow2 -o
 * cluster_size=65536,lazy_refcounts=off [-b BACKING -F qcow2]` and
 * written through a private `qemu-nbd` (socket activation on a unix
 * socket in a mode-0700 temporary directory, which is gone again once
 * connected; --cache=none, or writeback where the file system has no
 * O_DIRECT; --discard=unmap, --detect-zeroes=unmap)
 * by libnbd, with up to IMGW_SLOTS requests of at most IMGW_REQ_MAX
 * bytes in flight.  The data is copied, so the caller's buffer is free
 * again as soon as a call returns.  qemu-nbd gets PR_SET_PDEATHSIG, so
 * it dies with the thread that called imgw_create.
 *
 * raw: a sparse file of the given size written with pwrite(2); zeroes
 * punch holes.  No helper process.
 *
 * Durability order: imgw_finish waits for every write, flushes qemu-nbd
 * (qcow2 data and metadata reach the disk), stops it, fsyncs the file
 * and then its directory.  Only then is the image complete; a caller
 * that publishes it (rename, index record) does so after this returns.
 *
 * Errors: every function returns 0 or -errno, never prints and never
 * touches errno; the thread's error (common/error.h, cdp_get_error) then
 * says what failed in words (for a QEMU tool, the last line it wrote on
 * stderr).  imgw_create and imgw_open_device clear it first; the clean-up
 * of imgw_abort and of a failing imgw_finish never replaces it.  An error of an
 * asynchronous write is sticky: it is returned by the call that notices
 * it and by every later call, up to imgw_finish.
 *
 * Threads: a writer is used by one thread at a time (callers
 * serialize).  The thread that called imgw_create must live until
 * imgw_finish or imgw_abort (qemu-nbd's death signal follows that
 * thread), and the process must not reap children it did not start
 * (waitpid(-1, ...)): the writer waits for its own.
 */
#ifndef CDP_IMGWRITE_H
#define CDP_IMGWRITE_H

#include <stdint.h>

#define IMGW_CLUSTER (64u << 10)    /* qcow2 cluster size */
#define IMGW_REQ_MAX (4u << 20)     /* largest NBD write sent */
#define IMGW_SLOTS 16               /* NBD requests in flight */

struct imgw;

/* Create the image file path of size bytes and open it for writing.
 * A file already at path is unlinked first (a temporary name left by a
 * run that died): callers write to a name of their own and rename it
 * into place once imgw_finish succeeded.
 *   format   "qcow2" or "raw"
 *   size     virtual size; for qcow2 a multiple of 512
 *   backing  NULL, or a qcow2 image the new qcow2 overlays (what the
 *            overlay does not write reads from it); stored as given: a
 *            relative path is relative to the directory of path
 * The file is created with mode 0600 (minus umask).  On failure nothing
 * is left behind: no file, no process.
 * Errors: -EINVAL (unknown format, size 0 or too large, qcow2 size not
 * a multiple of 512, backing with raw), -EISDIR (path is a
 * directory), -ENOENT (its directory, or qemu-img/qemu-nbd, is missing), -EIO
 * (qemu-img or qemu-nbd failed: the backing is missing or not qcow2,
 * ...), -ENOMEM, or the errno of a failed system call. */
int imgw_create (const char *path, const char *format, uint64_t size,
                 const char *backing, struct imgw **wp);

/* Open the block device path to write an image of size bytes into it
 * (a restore onto an LV or a disk), instead of a new file: opened
 * exclusively (O_EXCL: not while mounted or claimed), never unlinked,
 * and left as it is on failure (holding part of the image).  raw: the
 * disk's bytes from offset 0, imgw_zero writes zeroes (the device is
 * not empty); qcow2: qemu-img create on the device, then as a file.
 * The device must hold the image: size bytes (raw), every cluster of a
 * fully allocated qcow2 (imgw_qcow2_max).
 * Errors: -ENOTBLK (not a block device), -EBUSY (in use), -EFBIG (the
 * device is too small), -EINVAL, and those of imgw_create. */
int imgw_open_device (const char *path, const char *format, uint64_t size,
                      struct imgw **wp);

/* The most bytes a qcow2 image of virtual size bytes can take, every
 * cluster allocated (IMGW_CLUSTER clusters, 16-bit refcounts). */
uint64_t imgw_qcow2_max (uint64_t size);

/* Write len bytes of buf at off.  May return before the data reached
 * qemu-nbd; buf is no longer used when it returns.
 * Errors: -EINVAL (range past the end), -ENOTCONN (qemu-nbd died), the
 * errno qemu-nbd or pwrite reported (-EIO, -ENOSPC, ...), or a sticky
 * earlier error. */
int imgw_write (struct imgw *w, const void *buf, uint64_t off, uint64_t len);

/* Make [off, off+len) read as zeroes.  In an overlay this is recorded
 * explicitly (qcow2 zero clusters, or zeroes written into partial
 * clusters), since the backing may hold data there; in a raw file the
 * range becomes a hole.  Errors as imgw_write. */
int imgw_zero (struct imgw *w, uint64_t off, uint64_t len);

/* Complete the image: wait for every write, flush, stop qemu-nbd,
 * fsync the file and its directory.  The image is durable when this
 * returns 0.  Frees w in every case; on failure the file is removed as
 * by imgw_abort.  Errors: a sticky write error, the flush's, -EIO
 * (qemu-nbd failed or did not exit), -ETIMEDOUT (qemu-nbd did not exit
 * within 60 s), fsync's. */
int imgw_finish (struct imgw *w);

/* Stop at once: kill qemu-nbd, remove the file, free w.  Never fails. */
void imgw_abort (struct imgw *w);

/* A raw writer's file, which callers may pwrite(2) from several threads
 * at once (between imgw_create and imgw_finish; imgw_finish still makes
 * it durable); -1 for qcow2. */
int imgw_raw_fd (const struct imgw *w);

#endif
