/* cdp: full reads and writes (the one place that retries short ones and
 * EINTR), whole-file reads, and atomic replacement, for every file of the
 * store that is not the journal or the index.
 *
 * All functions return 0 (or a length) on success and -errno on failure;
 * none touches the global errno on success paths that matter to callers,
 * none prints or sets the thread's error (common/error.h): callers say
 * what failed.  Thread-safe: they share no state (but fio_remove_tree). */
#ifndef CDP_FILEIO_H
#define CDP_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Write all len bytes of buf to fd at its file position, retrying short
 * writes and EINTR.  0, or -errno (-EIO for a write that returned 0). */
int fio_write_all (int fd, const void *buf, size_t len);

/* The same at offset off (pwrite: the file position is not used, so
 * several threads may write one fd). */
int fio_pwrite_all (int fd, const void *buf, size_t len, off_t off);

/* Read len bytes into buf from fd at its position, retrying short reads
 * and EINTR: the number read, len unless the file (or stream) ended
 * first, or -errno.  Callers decide what a short count means (zeroes,
 * damage, a peer gone). */
ssize_t fio_read_all (int fd, void *buf, size_t len);

/* The same at offset off (pread).  Both: -EINVAL for a negative off or
 * a len past SSIZE_MAX. */
ssize_t fio_pread_all (int fd, void *buf, size_t len, off_t off);

/* Read fd to its end into a malloc'd, NUL-terminated buffer (*out), its
 * length in *len (may be NULL).  0, or -errno; *out is NULL then. */
int fio_read_fd (int fd, char **out, size_t *len);

/* Read the file at path whole (see fio_read_fd).  -ENOENT when it does
 * not exist: callers decide whether absence is allowed; a file that
 * exists but cannot be read is never reported as empty. */
int fio_read (const char *path, char **out, size_t *len);

/* fsync the directory that holds path (its dirname). */
int fio_sync_parent (const char *path);

/* Make the directory path (mode) unless it exists, then fsync its parent
 * (a new directory's entry survives a power loss only then; one that
 * existed may have been made by a process that died before that).  0, or
 * -errno. */
int fio_mkdir (const char *path, mode_t mode);

/* Replace path with len bytes of data, atomically and durably, in this
 * order: data written to PATH.tmp (created with mode, 0644 for a file
 * anyone may read, 0600 for one only its owner may), fsynced; renamed
 * over path; the directory fsynced.  After a crash path holds either the
 * old contents or the new, never a mix, and a 0 return means the new
 * contents survive a power loss.  PATH.tmp is removed on failure. */
int fio_replace (const char *path, const void *data, size_t len,
                 mode_t mode);

/* The same without the two syncs: atomic against a crash of the process
 * (path holds the old contents or the new), not of the host, after
 * which it may hold the old contents (or, on a file system that does
 * not order a rename after the data it names, not even those).  For
 * files that are a snapshot of the moment, such as a heartbeat, which
 * would otherwise cost the device a flush each time. */
int fio_replace_volatile (const char *path, const void *data, size_t len,
                          mode_t mode);

/* Remove path and everything below it, not following symbolic links
 * (nftw, depth first).  0 (also when path does not exist), or the
 * -errno of the first entry that could not be removed: the rest is
 * still tried.  Not thread-safe (nftw has no context argument). */
int fio_remove_tree (const char *path);

#endif
