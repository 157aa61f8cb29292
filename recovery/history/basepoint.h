/* cdp recovery: base points — qcow2 images that fold history.
 *
 * A base point of a disk holds the disk as it was at one journal seq:
 * every record of that disk with a sequence number <= seq.  It is a qcow2
 * image in TASK/base/, either full (no backing file) or an overlay whose
 * backing file is an older base point of the same disk, holding only the
 * clusters that changed.  Base points form a tree (a locked point may
 * branch off an older one); reads never walk more than max-chain images.
 *
 * The catalog (TASK/base/catalog.json) lists the base points that are
 * complete and durable.  Durability order when one is made: the image is
 * written and fsynced under a *.tmp name, renamed, the directory fsynced,
 * and only then is the catalog rewritten (write, fsync, rename) to
 * include it.  A *.tmp file is unfinished: catalog_load deletes it.  A
 * complete image the catalog does not name (a crash between its rename
 * and the catalog's, or a catalog lost) is moved to TASK/base/quarantine/,
 * never deleted.  catalog.json carries a format "version" (common/jsonfile.h).
 *
 * Not thread-safe: one catalog per thread (the daemon's maintenance
 * thread owns the writable one; readers load their own copy).
 */
#ifndef CDP_BASEPOINT_H
#define CDP_BASEPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/vector.h"

#define BASE_NAME_MAX 64

struct base_point {
  uint32_t disk;
  uint64_t seq;
  int64_t time_ns;                  /* time of record seq */
  char file[BASE_NAME_MAX];         /* in the base directory */
  char parent[BASE_NAME_MAX];       /* backing file, "" if full */
  unsigned depth;                   /* images in its chain, itself included */
};
DEFINE_VECTOR_TYPE (base_vector, struct base_point)

struct base_catalog {
  char *dir;
  base_vector v;                    /* sorted by (disk, seq) */
  unsigned quarantined;             /* images catalog_load moved aside */
};

/* Load (creating the directory); when clean is true, delete unfinished
 * images and quarantine unlisted ones.  A missing catalog is an empty
 * one; an unreadable one is an error.  Errors: those of jf_load (-EUCLEAN
 * damaged, -EPROTONOSUPPORT newer format), -errno. */
int catalog_load (const char *dir, bool clean, struct base_catalog *c);
void catalog_free (struct base_catalog *c);
int catalog_save (const struct base_catalog *c);

/* Newest base point of disk with seq <= seq, or NULL. */
const struct base_point *catalog_find (const struct base_catalog *c,
                                       uint32_t disk, uint64_t seq);
/* Newest base point of disk with time <= t, or NULL. */
const struct base_point *catalog_find_time (const struct base_catalog *c,
                                            uint32_t disk, int64_t t);
const struct base_point *catalog_by_file (const struct base_catalog *c,
                                          const char *file);
/* How many base points have file as their parent. */
unsigned catalog_children (const struct base_catalog *c, const char *file);
int catalog_add (struct base_catalog *c, const struct base_point *bp);
void catalog_remove (struct base_catalog *c, const char *file);
/* Path of a file in the catalog's directory (malloc'd), or NULL when out
 * of memory. */
char *catalog_path (const struct base_catalog *c, const char *file);

#endif
