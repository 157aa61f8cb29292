/* cdp archive: the long-term tier.  Points of a task's disks kept as
 * fixed-size chunks named by their SHA-256, shared by every point, task
 * and store that writes to the same location (store.h), compressed with
 * zstd when that makes them smaller; all-zero chunks are not stored.
 *
 * Objects (docs/ARCHITECTURE.md, "The archive", has the byte layout):
 *   cdp-archive.json               the manifest: format version, chunk size
 *   chunks/XXXX/<64 hex>           a chunk (XXXX: its first 4 hex digits)
 *   points/TASK/<time>-<store>.idx the index of one archived point: task,
 *                                  time, kind, where from, and per disk its
 *                                  name, size and chunk list; checksummed
 *   writers/<id>                   the lease of a push in progress
 *   gc/<host>-<pid>                the record of a collection (running
 *                                  or ended), read by pushes
 *
 * A point exists exactly when its index does: push puts (and touches)
 * every chunk first and the index last, so a crash leaves chunks and no
 * point, and the next push of the same point uploads only what is
 * missing.  Garbage collection deletes only chunks that no index names
 * and whose time is older than its start (less a grace for clocks) and
 * than every live lease's start: a push touches each chunk it reuses,
 * so a chunk a running push relies on is never collected; and a push
 * that a collection overlapped checks its chunks again, after the
 * collection, before its index.
 *
 * Errors: -errno with the thread's error set (common/error.h); a chunk
 * or index that fails its checksum is -EUCLEAN and never reaches a
 * reader. */
#ifndef CDP_ARCHIVE_H
#define CDP_ARCHIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/vector.h"
#include "recovery/archive/store.h"
#include "recovery/history/point.h"

#define ARCHIVE_FORMAT_VERSION 1
#define ARCHIVE_CHUNK_SIZE (4u << 20)

struct archive;                     /* an open archive (thread-safe) */

/* Open location (store.h) as an archive.  A location with no manifest
 * is an empty archive: it is created by the first push (create true) or
 * reported as -ENOENT ("no archive at LOCATION").  A manifest of a newer
 * format version is refused (-EPROTO). */
int archive_open (const char *location, bool create, struct archive **out);
void archive_close (struct archive *a);
const char *archive_location (const struct archive *a);

/* ---- points ------------------------------------------------------------ */

struct archive_disk {
  char *name;                       /* the task's disk name ("vda") */
  uint64_t size;                    /* bytes */
  uint32_t nchunks;                 /* ceil(size / chunk size) */
  uint8_t (*sums)[32];              /* per chunk; all zero bytes: a zero chunk */
};

struct archive_point {
  char *key;                        /* its index's key */
  char *task;
  int64_t time_ns;                  /* the point's time */
  char *kind;                       /* "base", "lock", "bookmark", "push" */
  char *label;                      /* a bookmark's label, or NULL */
  char *host;                       /* gethostname of the pushing store */
  char *store;                      /* the pushing store's path */
  char *store_id;                   /* a short id of host:store (the key's) */
  int64_t pushed_ns;                /* when the push completed */
  uint64_t stored_bytes;            /* compressed bytes of its chunks */
  uint32_t chunk_size;
  size_t ndisks;
  struct archive_disk *disks;       /* in a listing (archive_points): names
                                       and sizes, sums NULL */
};
DEFINE_VECTOR_TYPE (archive_point_vector, struct archive_point)
void archive_point_free (struct archive_point *p);      /* its members */
void archive_points_reset (archive_point_vector *v);

/* The points of task (NULL: every task), oldest first, from their keys
 * and indexes' metadata (disks with names and sizes, sums NULL; the
 * index's checksum is checked by archive_point_load).  0, -EUCLEAN
 * (an index whose metadata cannot be read), or -errno. */
int archive_points (struct archive *a, const char *task,
                    archive_point_vector *out);
/* Load the index of the point of task at time_ns exactly (with disks):
 * 0, -ENOENT (none), -EUCLEAN (damaged), -errno. */
int archive_point_load (struct archive *a, const char *task, int64_t time_ns,
                        struct archive_point *out);
/* Remove a point (its index only; archive_gc frees its chunks). */
int archive_point_forget (struct archive *a, const struct archive_point *p);

/* ---- push --------------------------------------------------------------- */

struct archive_push_disk {
  const char *name;
  const struct point *p;            /* what to read: point_pread, and
                                       point_block_status for its holes */
};

struct archive_push {
  const char *task;
  int64_t time_ns;
  const char *kind, *label;
  const char *store;                /* the pushing store's path */
  size_t ndisks;
  const struct archive_push_disk *disks;
  uint64_t bandwidth;               /* bytes uploaded per second, 0: no bound */
  unsigned threads;                 /* reading, hashing, compressing, uploading;
                                       0: 4 for a directory, 8 for S3 */
  /* Optional: called now and then with bytes of the disks done so far
   * and their total; a non-zero return cancels (-ECANCELED). */
  int (*progress) (void *opaque, uint64_t done, uint64_t total);
  void *opaque;
  const volatile int *cancel;       /* optional: non-zero cancels */
};

struct archive_push_stats {
  uint64_t chunks;                  /* chunks of the point, zero ones too */
  uint64_t zero_chunks;
  uint64_t new_chunks;              /* uploaded by this push */
  uint64_t new_bytes;               /* their stored (compressed) size */
  uint64_t read_bytes;              /* read from the point */
  char key[256];                    /* the index written */
};

/* Archive the point: when its index exists already (same task, time and
 * store) nothing is done and 0 returned with stats->new_chunks 0.
 * 0 or -errno (-ECANCELED: cancelled; chunks put so far stay for the
 * next push or for gc). */
int archive_push (struct archive *a, const struct archive_push *o,
                  struct archive_push_stats *stats);

/* ---- reading ------------------------------------------------------------ */

/* A reader of one disk of a loaded point: the base of a struct point
 * (point.h) with no journal above it.  Reads fetch chunks in parallel,
 * ahead of sequential reads, keep recent ones in memory, and check each
 * chunk against its name (-EUCLEAN, the error names the chunk). */
struct archive_reader;
int archive_reader_open (struct archive *a, const struct archive_point *pt,
                         size_t disk, struct archive_reader **out);
void archive_reader_close (struct archive_reader *r);
extern const struct point_base_ops archive_base_ops;   /* h: the reader */
/* Fill *p as a point of the reader's disk (ix and jr NULL, base the
 * reader): every point_pread and point_block_status works on it. */
void archive_reader_point (struct archive_reader *r, struct point *p);

/* ---- checking and collecting ---------------------------------------------- */

struct archive_verify_stats {
  uint64_t points;                  /* indexes read (damaged ones too) */
  uint64_t chunks;                  /* checked (each distinct chunk once) */
  uint64_t bad;                     /* missing or failing their sum */
  uint64_t bytes;
};
/* Read every chunk of point p (loaded, with disks) — or of every point
 * of task (NULL: all) when p is NULL — and check it against its name.
 * bad(opaque, key, why) is called for each missing or damaged one.  A
 * damaged chunk is moved to bad/ (the same name under it), so that the
 * next push of that data puts a good copy, which heals every point
 * naming it; why says so.  0 when all are good, -EUCLEAN when some are not, -errno. */
int archive_verify (struct archive *a, const struct archive_point *p,
                    const char *task, unsigned threads,
                    void (*bad) (void *opaque, const char *key, const char *why),
                    void *opaque, struct archive_verify_stats *stats);

struct archive_gc_stats {
  uint64_t points;                  /* indexes read */
  uint64_t chunks;                  /* chunks seen */
  uint64_t removed;                 /* chunks removed */
  uint64_t removed_bytes;
  uint64_t kept_young;              /* unreferenced but too young */
};
/* Mark and sweep: remove chunks no index references that are older than
 * the collection's start (the store's clock) minus grace_ns and than
 * every live lease.  Safe while other hosts push and collect.  cancel
 * (optional): once non-zero, the collection stops between two objects
 * with -ECANCELED, as safely as a killed one. */
int archive_gc (struct archive *a, int64_t grace_ns,
                const volatile int *cancel, struct archive_gc_stats *stats);

/* ---- keeping ------------------------------------------------------------ */

struct archive_keep {
  unsigned daily, weekly, monthly;  /* newest point of each of the last N
                                       days / ISO weeks / months (UTC) */
};
/* Which of a task's points (oldest first) the policy keeps: keep[i] set
 * for each kept point.  Points whose time is in pinned (locks and
 * bookmarks of the task, npinned of them) are always kept, and so is
 * the newest point.  Pure. */
void archive_keep_select (const struct archive_point *pts, size_t n,
                          const struct archive_keep *k, const int64_t *pinned,
                          size_t npinned, bool *keep);

#endif
