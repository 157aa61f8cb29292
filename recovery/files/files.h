/* cdp recovery: the files of a disk at a point, read without mounting.
 *
 * Every byte of a disk belongs to the guest, so everything that parses
 * it — the partition table (MBR with extended partitions, GPT), the file
 * system probe, ext2/3/4 through libext2fs — runs in a sandboxed child
 * process (files-sandbox.c): forked before the caller opens the store,
 * without privileges (nobody, no capabilities, no new privileges), with
 * a seccomp filter that leaves it read/write on one socket and memory
 * management, nothing else.  The child asks the parent for byte ranges
 * of the disk; the parent (this API) checks each against the disk's size
 * and reads it through the caller's reader (point_pread in cdp).  File
 * contents never pass through the child: it only names the disk ranges
 * (extents) and holes a file is made of, and the parent copies them.
 * Whatever the child sends is validated here; a child that crashes,
 * hangs up or lies ends the operation with an error, never more.
 *
 * Paths are absolute.  A disk with a partition table has a root that
 * lists its partitions as directories p1, p2, ... (Linux numbering: MBR
 * logical partitions from p5); paths inside a partition start with it.
 * A disk that is one file system has paths from its root.
 *
 * File systems the child cannot read (xfs, btrfs, ntfs, vfat, LVM, ...)
 * come back as -ENOTSUP with files_error() naming the file system and
 * files_unsupported() describing the volume, so that the caller may try
 * another way (libguestfs).
 *
 * A struct files is used by one thread at a time.  All calls return 0
 * or -errno; files_error() says what failed in words.
 */
#ifndef CDP_FILES_H
#define CDP_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/vector.h"

/* One file, directory, symlink, ... (ls -l's fields). */
struct files_entry {
  char *name;               /* last component; the partition name at "/" */
  char *target;             /* symlink target, else NULL */
  uint64_t ino;
  uint64_t size;
  int64_t atime_ns, mtime_ns, ctime_ns;
  uint32_t mode;            /* S_IFMT | permission bits */
  uint32_t uid, gid;
  uint32_t nlink;
  char fs[16];              /* at "/" of a partitioned disk: "ext4", "xfs", ... */
};
DEFINE_VECTOR_TYPE (files_entry_vector, struct files_entry)

void files_entry_clear (struct files_entry *e);
void files_entry_vector_clear (files_entry_vector *v);

/* What a file's contents are made of, in order. */
struct files_sink {
  /* len bytes of the file, already read. */
  int (*data) (void *o, const void *buf, size_t len);
  /* len bytes of zeroes (a hole); NULL: given to data as zeroes. */
  int (*hole) (void *o, uint64_t len);
};

/* Events of files_walk, depth first.  Each entry's name is one safe
 * component (not empty, ".", ".." and without '/'): files_walk checks;
 * the first one (the path itself) may be anything.  A regular file's
 * data follows its file() call through sink, then file_end(o, NULL);
 * hardlink() stands for a file already given whose inode is e->ino;
 * leave(o, NULL) closes the directory entered last. */
struct files_walk_ops {
  int (*enter) (void *o, const struct files_entry *dir);
  int (*leave) (void *o, const struct files_entry *dir);
  int (*file) (void *o, const struct files_entry *e);
  int (*file_end) (void *o, const struct files_entry *e);
  int (*hardlink) (void *o, const struct files_entry *e);
  int (*symlink) (void *o, const struct files_entry *e);
  int (*special) (void *o, const struct files_entry *e);
  struct files_sink sink;
};

/* How the caller reads the disk: [off, off+len) into buf, 0 or -errno. */
typedef int (*files_pread_fn) (void *h, void *buf, uint64_t off, uint64_t len);

struct files;

/* Fork the sandboxed child.  Call before opening anything the child must
 * not inherit (the store): the child closes every descriptor but its
 * socket and stderr.  Errors: -errno of socketpair/fork. */
int files_start (struct files **fp);

/* The disk the child reads: size bytes through pread(h, ...). */
int files_attach (struct files *f, uint64_t size, files_pread_fn pread, void *h);

/* lstat (follow: stat) of path.  -ENOENT, -ENOTDIR, -ELOOP, -EUCLEAN
 * (corrupt), -ENOTSUP (file system not readable here), -EIO, -EPROTO
 * (the child misbehaved or died). */
int files_stat (struct files *f, const char *path, bool follow,
                struct files_entry *e);

/* The entries of directory path (symlinks followed), appended to v; a
 * path that is not a directory gives its own entry (as ls does). */
int files_list (struct files *f, const char *path, files_entry_vector *v);

/* The contents of file path (symlinks followed) through sink; *e is
 * filled first (e may be NULL).  -EISDIR for a directory. */
int files_read (struct files *f, const char *path, const struct files_sink *sink,
                void *o, struct files_entry *e);

/* files_read of the bytes [off, off+len) of the file only, cut at its
 * end (none when off is at or past it).  The disk is read for those
 * bytes alone: the rest of the file's extents are named by the reader
 * and passed over. */
int files_read_range (struct files *f, const char *path, uint64_t off, uint64_t len,
                      const struct files_sink *sink, void *o, struct files_entry *e);

/* The tree at path (not followed if a symlink) through ops. */
int files_walk (struct files *f, const char *path,
                const struct files_walk_ops *ops, void *o);

/* The last failure in words ("" if none). */
const char *files_error (const struct files *f);

/* After -ENOTSUP: the volume the path lies on, for another reader. */
struct files_volume {
  char fs[16];              /* "xfs", "vfat", "lvm2", "unknown", ... */
  unsigned part;            /* partition number, 0: the whole disk */
  uint64_t off, size;       /* bytes on the disk */
  char rest[4096];          /* the path inside the volume ("/" ...) */
};
const struct files_volume *files_unsupported (const struct files *f);

/* ---- files-guestfs.c: other file systems through libguestfs ----------------
 * The volume (from files_unsupported) of the disk that the caller serves
 * as an NBD export on the unix socket sock.  rest is a path inside the
 * volume (files_volume.rest); on LVM, /VG/LV/path.  Messages through
 * files_gfs_error.  false/-ENOTSUP when cdp was built without it. */
struct files_gfs;
bool files_gfs_available (void);
int files_gfs_open (const char *sock, const struct files_volume *vol,
                    struct files_gfs **gp, char *msg, size_t len);
int files_gfs_list (struct files_gfs *g, const char *rest, files_entry_vector *v);
/* stat (followed) of rest into *e. */
int files_gfs_stat (struct files_gfs *g, const char *rest, struct files_entry *e);
/* [off, off+len) of the file, cut at its end, read in pieces of 1 MiB
 * (guestfs_pread): no temporary file. */
int files_gfs_read (struct files_gfs *g, const char *rest, uint64_t off, uint64_t len,
                    const struct files_sink *sink, void *o);
int files_gfs_walk (struct files_gfs *g, const char *rest,
                    const struct files_walk_ops *ops, void *o);
const char *files_gfs_error (const struct files_gfs *g);
void files_gfs_close (struct files_gfs *g);

/* ---- files-write.c: a walk written below a directory, and nowhere else ---
 * The walk of path (files_walk or files_gfs_walk with files_writer_ops
 * and w) is created as output, or as output/NAME (NAME the last
 * component of path) when output is a directory.  Nothing that exists is
 * replaced, no symlink is followed, device nodes and sockets are
 * skipped, set-user-ID/set-group-ID bits dropped, owners kept only as
 * root, modes and times kept.  files_writer_new allocates *wp even when
 * it fails (-EEXIST, -EINVAL, -errno), so that files_writer_error says
 * why; free it with files_writer_free. */
struct files_writer;
int files_writer_new (const char *output, const char *path, struct files_writer **wp);
extern const struct files_walk_ops files_writer_ops;
const char *files_writer_error (const struct files_writer *w);     /* "" if none */
struct files_counts;
void files_writer_counts (const struct files_writer *w, struct files_counts *c);
/* The path the walk is written to: output, or output/NAME. */
const char *files_writer_path (const struct files_writer *w);
/* Remove what the walk created (after a cancel): the tree below the
 * path, never following a symlink.  0 or -errno. */
int files_writer_remove (struct files_writer *w);
void files_writer_free (struct files_writer *w);

/* What a walk wrote (files_writer_counts, files_tar_counts). */
struct files_counts {
  unsigned files;                   /* regular files, with their data */
  unsigned directories, symlinks;
  unsigned skipped;                 /* device nodes and sockets */
  uint64_t bytes;                   /* the files' data */
  uint64_t members;                 /* tar: members (headers) written */
  uint64_t archive;                 /* tar: bytes of the archive written */
};

/* ---- files-tar.c: a walk as one tar archive on a descriptor -------------
 * The walk of path (files_walk or files_gfs_walk with files_tar_ops and
 * t) written to fd as it comes, in the POSIX pax format (ustar headers,
 * pax extended headers where ustar's fields cannot hold a name, link
 * target, size, owner or time exactly).  Members are named from path's
 * last component ("." for a root) down: "etc/", "etc/fstab", ...
 * Directories, regular files, hard links (to the first member of their
 * inode), symbolic links and fifos are stored; device nodes and sockets
 * are skipped and counted; set-user-ID/set-group-ID bits are dropped;
 * holes are written as zeros.  files_tar_finish writes the end of the
 * archive; without it the stream reads as truncated.  Memory does not
 * grow with the data, only with the depth of the tree and the number
 * of files with more than one link.  Calls return 0 or -errno, with
 * files_tar_error saying why when the archive's side failed (a write,
 * a file that gave other than its size).  files_tar_new allocates *tp
 * even when it fails (-ENOMEM); free it with files_tar_free. */
struct files_tar;
int files_tar_new (int fd, const char *path, struct files_tar **tp);
extern const struct files_walk_ops files_tar_ops;
int files_tar_finish (struct files_tar *t);
const char *files_tar_error (const struct files_tar *t);         /* "" if none */
void files_tar_counts (const struct files_tar *t, struct files_counts *c);
void files_tar_free (struct files_tar *t);

/* The header blocks of one member (a pax extended header first when
 * ustar cannot hold it): name as stored, type the ustar typeflag ('0'
 * file, '1' hard link, '2' symbolic link, '5' directory, '6' fifo), link
 * the target (types 1 and 2, else NULL), size the data bytes that will
 * follow; mode, uid, gid and mtime from e.  Written to buf when cap
 * holds them.  Returns their length (a multiple of 512; more than cap:
 * nothing written, call again with that much) or -EINVAL (an empty
 * name, a size above INT64_MAX). */
ssize_t files_tar_header (const struct files_entry *e, const char *name, char type,
                          const char *link, uint64_t size, void *buf, size_t cap);

/* The sandboxed child's process id (for tests). */
int files_pid (const struct files *f);

/* End the child and free f. */
void files_stop (struct files *f);

/* Mode as ls -l shows it: "drwxr-xr-x" (buf of 11 bytes). */
void files_mode_string (uint32_t mode, char buf[11]);
/* "file", "dir", "symlink", "chardev", "blockdev", "fifo", "socket". */
const char *files_type_name (uint32_t mode);
/* Is name one safe path component? */
bool files_name_safe (const char *name);

#endif
