/* Helpers for the qcow2 reader's Criterion tests: a scratch directory,
 * images made and changed by the real qemu-img and qemu-io, and checks
 * of qcow2_pread / qcow2_map / qcow2_is_hole against what QEMU itself
 * reads (`qemu-img convert -O raw`) and maps (`qemu-img map`).
 * Failures cr_assert. */
#ifndef CDP_QCOW2_TEST_H
#define CDP_QCOW2_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "recovery/history/qcow2.h"

/* A scratch directory, removed by qt_cleanup. */
struct qt {
  char dir[64];
};
void qt_init (struct qt *t);
void qt_cleanup (struct qt *t);

/* dir/name, in a buffer that lives until qt_cleanup. */
const char *qt_path (struct qt *t, const char *name);

/* Run a shell command (printf-style); it must exit 0. */
void qt_sh (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

/* Apply nops random writes (pattern), write-zeroes (with and without
 * unmap) and discards to image img of format fmt and size bytes, with
 * qemu-io.  Same seed, same operations. */
void qt_random_ops (struct qt *t, const char *img, const char *fmt,
                    uint64_t size, int nops, unsigned seed);

/* A chain of six images with random content, paths[0] the bottom:
 *   base.raw  raw, 8 MiB
 *   l1.qcow2  64 KiB clusters, 8 MiB, backing base.raw (-F raw)
 *   l2.qcow2  2 MiB clusters, 12 MiB (its backing file is shorter)
 *   l3.qcow2  4 KiB clusters, version 2 (compat=0.10), 12 MiB
 *   l4.qcow2  512 B clusters, 12 MiB
 *   l5.qcow2  64 KiB clusters, 16 MiB (its backing file is shorter)
 * Backing file names are relative, as qemu-img create -b NAME writes
 * them. */
#define QT_CHAIN 6
void qt_mixed_chain (struct qt *t, const char *paths[QT_CHAIN], unsigned seed);

/* `qemu-img convert -O raw` of img, read into memory (free it). */
uint8_t *qt_qemu_read (struct qt *t, const char *img, uint64_t *size);

/* qcow2_pread of all of c, and of nranges random unaligned ranges, equal
 * ref. */
void qt_check_reads (struct qcow2_chain *c, const uint8_t *ref,
                     uint64_t size, int nranges, unsigned seed);

/* qcow2_map of all of c equals `qemu-img map --output=json` of img
 * (data, present and depth of each byte), and qcow2_is_hole agrees with
 * it on nranges random ranges. */
void qt_check_map (struct qt *t, struct qcow2_chain *c, const char *img,
                   int nranges, unsigned seed);

/* Open path, which must fail with err; returns cdp_get_error(). */
const char *qt_open_fails (const char *path, int err);

/* Overwrite len bytes at off of file path with data / a big-endian
 * integer. */
void qt_poke (const char *path, uint64_t off, const void *data, size_t len);
void qt_poke_be32 (const char *path, uint64_t off, uint32_t v);
void qt_poke_be64 (const char *path, uint64_t off, uint64_t v);
uint64_t qt_peek_be64 (const char *path, uint64_t off);

#endif
