/* cdp archive: where an archive's objects live, a directory or an S3
 * bucket, behind one table of operations.
 *
 * An archive is a flat space of objects named by keys ("chunks/ab12/...",
 * "points/vm1/...": relative, '/'-separated, no "." or ".." parts).  The
 * format above (archive.h) only ever needs these operations, each of
 * which a directory and S3 both give atomically:
 *   - put: the whole object appears at once, or not at all (a directory
 *     writes a temporary file, fsyncs it, renames it and fsyncs the
 *     directory; S3's PUT is atomic), replacing an older one;
 *   - touch: set the object's time to the store's now, failing with
 *     -ENOENT if it does not exist (a directory: utimensat UTIME_NOW on
 *     mtime; S3: a copy of the object onto itself with
 *     x-amz-metadata-directive REPLACE, which sends no data);
 *   - list: keys under a prefix with size and time;
 *   - times are the store's own clock (the file server's mtime, the S3
 *     server's Last-Modified and Date), so that hosts whose clocks
 *     disagree still agree on which object is older.
 *
 * Every function is thread-safe on one struct archive_store (S3: one
 * curl handle per call or per thread).  Errors return -errno and set
 * the thread's error (common/error.h) with the key and the store's
 * reason (the S3 error code and message, the file and strerror).
 * -ENOENT: no such object; -EACCES: refused (403); -EIO: the store
 * failed or answered what cannot be; -ETIMEDOUT: no answer. */
#ifndef CDP_ARCHIVE_STORE_H
#define CDP_ARCHIVE_STORE_H

#include <stddef.h>
#include <stdint.h>

struct archive_store;

/* One object of a listing. */
struct archive_obj {
  const char *key;                  /* full key, valid during the callback */
  uint64_t size;
  int64_t mtime_ns;                 /* the store's time of its last put/touch */
};
/* 0 to go on, > 0 to stop (list returns 0), < 0 to fail with it. */
typedef int (*archive_list_fn) (void *opaque, const struct archive_obj *o);

struct archive_store_ops {
  const char *scheme;               /* "dir", "s3" */
  /* Read the whole object: *buf (malloc'd, the caller frees) and *len. */
  int (*get) (struct archive_store *s, const char *key, void **buf,
              size_t *len);
  /* Read [off, off+len) of the object into buf (exactly len bytes, or
   * -EIO when it is shorter). */
  int (*get_range) (struct archive_store *s, const char *key, void *buf,
                    uint64_t off, size_t len);
  /* Write the whole object atomically and durably (see above). */
  int (*put) (struct archive_store *s, const char *key, const void *buf,
              size_t len);
  /* Does the object exist: 0 with *size and *mtime_ns (either may be
   * NULL), -ENOENT, or another error. */
  int (*stat) (struct archive_store *s, const char *key, uint64_t *size,
               int64_t *mtime_ns);
  /* Set the object's time to the store's now; -ENOENT if it is gone. */
  int (*touch) (struct archive_store *s, const char *key);
  /* Remove the object; 0 also when it was not there. */
  int (*del) (struct archive_store *s, const char *key);
  /* Call fn for every object whose key starts with prefix (any depth),
   * in no particular order.  Objects put or removed during the listing
   * may or may not be seen. */
  int (*list) (struct archive_store *s, const char *prefix,
               archive_list_fn fn, void *opaque);
  /* The store's clock now (S3: the Date of an answer; a directory: the
   * mtime of a file written there now). */
  int (*now) (struct archive_store *s, int64_t *ns);
  void (*close) (struct archive_store *s);
};

struct archive_store {
  const struct archive_store_ops *ops;
  char *location;                   /* as the operator wrote it */
};

/* Open location: "s3://BUCKET[/PREFIX]" (S3, archive/store-s3.c) or a
 * directory path (archive/store-dir.c; created if missing, its parent
 * must exist).  S3 takes AWS_ENDPOINT_URL (default
 * https://s3.amazonaws.com), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN, AWS_DEFAULT_REGION / AWS_REGION (default
 * us-east-1), or the [default] (AWS_PROFILE) section of
 * ~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE); path-style
 * addressing.  0 or -errno with the error set. */
int archive_store_open (const char *location, struct archive_store **out);
void archive_store_close (struct archive_store *s);

/* Is location an S3 location (s3://...)? */
int archive_location_is_s3 (const char *location);

#endif
