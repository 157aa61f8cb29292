/* cdp recovery, file-level browse: internals shared by the parent side
 * (files-parent.c) and the sandboxed child (files-child.c and the
 * parsers it runs), grouped by defining file. */
#ifndef CDP_FILES_INTERNAL_H
#define CDP_FILES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "recovery/files/files.h"

/* ---- the wire between parent and child --------------------------------- *
 * A stream socket; each message is a struct fmsg and len bytes.  Native
 * byte order (both ends are this program on this machine). */

#define FM_MAX_PAYLOAD (1u << 20)     /* no message is longer */
#define FM_MAX_PREAD FM_MAX_PAYLOAD   /* the largest read the child may ask */

enum fm_type {
  /* parent -> child */
  FM_OPEN = 1,              /* u64 disk size */
  FM_STAT,                  /* u32 follow, path: ENTRY, DONE */
  FM_LIST,                  /* path: ENTRY..., DONE */
  FM_READ,                  /* path: ENTRY, EXTENT/ZERO/BYTES..., DONE */
  FM_WALK,                  /* path: ENTRY/LEAVE/data..., DONE */
  FM_DATA,                  /* reply to PREAD: i32 err, then the bytes */
  /* child -> parent */
  FM_PREAD = 16,            /* u64 off, u32 len */
  FM_ENTRY,                 /* struct fm_entry, name, target */
  FM_LEAVE,                 /* the directory last entered is done */
  FM_EXTENT,                /* u64 disk off, u64 len: file bytes on the disk */
  FM_ZERO,                  /* u64 len: file bytes that read as zero */
  FM_BYTES,                 /* file bytes (inline data) */
  FM_DONE,                  /* struct fm_done, message */
};

struct fmsg {
  uint32_t type;
  uint32_t len;
};

enum {
  FE_HARDLINK = 1,          /* walk: this inode was sent before, no data */
};

struct fm_entry {
  uint64_t ino, size;
  int64_t atime_ns, mtime_ns, ctime_ns;
  uint32_t mode, uid, gid, nlink;
  uint32_t name_len, target_len;
  uint32_t flags;
  char fs[16];
};

struct fm_done {
  int32_t err;              /* 0 or -errno */
  uint32_t part;            /* -ENOTSUP: the volume (see files_volume) */
  uint64_t off, size;
  char fs[16];
  uint32_t rest_len;        /* then: rest (path in the volume), message */
};

/* files-wire.c: whole messages on a blocking descriptor.  -EPIPE when
 * the other end is gone, -EPROTO for a malformed message. */
int fm_send (int fd, uint32_t type, const void *a, size_t alen,
             const void *b, size_t blen);
/* Receive one message; *buf (malloc'd, grown) holds len bytes. */
int fm_recv (int fd, struct fmsg *m, void **buf, size_t *cap);

/* ---- files-sandbox.c ----------------------------------------------------- */
/* In the child, before it reads anything: drop to nobody, no new
 * privileges, resource limits, then the seccomp filter that allows
 * read/write on sock (and write on stderr), memory management and exit.
 * Returns 0 or -errno (the child then exits without doing anything). */
int files_sandbox_enter (int sock);

/* ---- files-child.c ------------------------------------------------------- */
/* The child's main loop on sock; returns the exit status. */
int files_child_main (int sock);
/* Read [off, off+len) of the disk through the parent (0 or -errno). */
int child_pread (void *buf, uint64_t off, uint64_t len);
/* Emit file data events. */
int child_emit_extent (uint64_t off, uint64_t len);
int child_emit_zero (uint64_t len);
int child_emit_bytes (const void *buf, size_t len);
/* Set the message that goes with the current operation's error. */
void child_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

/* ---- files-part.c: partition tables -------------------------------------- */
struct fvol {
  unsigned part;            /* 1.. (Linux numbering); 0: the whole disk */
  uint64_t off, size;
};
DEFINE_VECTOR_TYPE (fvol_vector, struct fvol)
/* The partitions of the disk (MBR, extended MBR, GPT) into v; none when
 * the disk has no table (then it is one volume).  -EUCLEAN for a table
 * that is there but broken, with child_error set. */
int part_scan (uint64_t disk_size, fvol_vector *v);

/* ---- files-probe.c: what a volume holds ------------------------------------ */
/* "ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "exfat", "ntfs",
 * "lvm2", "swap", "iso9660", "luks", "linux_raid", ..., "empty" (zeros
 * where any would have its signature) or "unknown". */
const char *probe_fs (uint64_t off, uint64_t size);
/* Does sector 0 of the disk look like a file system's boot sector? */
bool probe_is_fs (uint64_t off, uint64_t size);

/* ---- the file system back ends (one file each) ----------------------------- */
struct fs_handle;
struct fs_ops {
  const char *name;
  /* Open the volume [off, off+size); fill *hp. */
  int (*open) (uint64_t off, uint64_t size, struct fs_handle **hp);
  void (*close) (struct fs_handle *h);
  /* Resolve path (absolute in the file system) to an inode. */
  int (*lookup) (struct fs_handle *h, const char *path, bool follow, uint64_t *ino);
  /* Attributes (and symlink target, malloc'd) of ino. */
  int (*getattr) (struct fs_handle *h, uint64_t ino, struct fm_entry *e,
                  char **target);
  /* fn(o, name, len, ino) for each entry but "." and "..". */
  int (*readdir) (struct fs_handle *h, uint64_t ino,
                  int (*fn) (void *o, const char *name, size_t len, uint64_t ino),
                  void *o);
  /* Emit the contents of regular file ino (child_emit_*). */
  int (*read) (struct fs_handle *h, uint64_t ino, uint64_t size);
};

/* files-jbd2.c: an ext3/4 journal replayed in memory: the blocks that
 * its committed transactions hold, sorted by block. */
struct replay_block {
  uint64_t fsblk;           /* the file system block */
  uint64_t src;             /* where its newest copy lies on the disk */
  bool escape;              /* the copy's first 4 bytes were escaped */
  size_t order;             /* place in the log (newest wins) */
};
struct replay {
  struct replay_block *blocks;
  size_t n;
  unsigned bs;
};
struct struct_ext2_filsys;
/* Replay the journal of fs (on the volume at vol_off) into *out; an
 * empty replay when the journal is clean. */
int jbd2_replay (struct struct_ext2_filsys *fs, uint64_t vol_off, struct replay *out);
/* Lay the replayed blocks over data = [off, off+len) of the volume. */
void replay_overlay (const struct replay *rp, uint64_t off, uint64_t len, uint8_t *data);
void replay_free (struct replay *rp);
/* The first replayed block in [from, to], or NULL. */
const struct replay_block *replay_next (const struct replay *rp, uint64_t from,
                                        uint64_t to);
/* Emit len bytes (at most a block) of file data from b's copy. */
int replay_emit (const struct replay *rp, const struct replay_block *b, uint64_t len);

/* files-ext.c */
extern const struct fs_ops ext_fs_ops;
bool ext_probe (const uint8_t *sb1024, const char **name);

#endif
