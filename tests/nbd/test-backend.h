/* A test backend for the NBD server: one disk in a file descriptor
 * (a regular file or a memfd), sparse-aware, optionally read-only,
 * with writes completed synchronously or on an I/O thread.
 *
 * Reads report every all-zero 4 KiB block as a hole; block status
 * reports the file's own holes (SEEK_HOLE/SEEK_DATA).  All exports
 * named in the config serve the same disk; with none, any name works.
 */
#ifndef CDP_TEST_BACKEND_H
#define CDP_TEST_BACKEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "nbd-export/nbd-server.h"

#define TB_MAX_EXPORTS 16

struct tb_config {
  int fd;                       /* the disk; owned by the backend */
  uint64_t size;                /* 0: the file's size */
  bool read_only;
  bool async;                   /* complete writes on an I/O thread */
  bool no_fast_zero;            /* fail every FAST_ZERO with ENOTSUP */
  uint32_t min_block, max_block;
  const char *names[TB_MAX_EXPORTS];        /* NULL-terminated */
  const char *descriptions[TB_MAX_EXPORTS];
};

struct tb_stats {
  atomic_uint opens, closes;
  atomic_uint reads, writes, zeroes, trims, flushes, fua;
  atomic_uint fast_zero_refused, no_hole;
};

struct tb_disk;

extern const struct nbd_backend_ops tb_ops;

/* Create the disk; the server_opaque for tb_ops.  Returns 0 or -errno. */
int tb_new (const struct tb_config *cfg, struct tb_disk **dp);
/* Wait for outstanding writes, stop the I/O thread, close the fd. */
void tb_free (struct tb_disk *d);
struct tb_stats *tb_stats (struct tb_disk *d);
int tb_fd (struct tb_disk *d);

/* A memfd of size bytes (sparse, reads as zeroes).  Returns fd or -errno. */
int tb_memfd (uint64_t size);

#endif
