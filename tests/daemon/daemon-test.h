/* Helpers for the daemon's Criterion tests: a manual-mode task in a
 * temporary store, made and saved as `cdp task create` makes it, its
 * receiver started in-process on a unix socket, libnbd clients of it,
 * and the journal read back as a reader in another process would.
 * Failures cr_assert. */
#ifndef CDP_DAEMON_TEST_H
#define CDP_DAEMON_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libnbd.h>
#include <pthread.h>

#include "cdp/task/task.h"
#include "cdp/daemon/daemon.h"
#include "common/error.h"

struct dt {
  char store[64];               /* a new directory under /var/tmp */
  char sock[96];                /* the receiver's unix socket */
  struct task *t;               /* as task_load read it back */
  struct receiver *r;
};

/* Create the store and task "t" (manual mode, one disk "disk0" of size
 * bytes, journal segments of segment_size bytes, default policies) and
 * load it as serve does. */
void dt_task (struct dt *d, uint64_t size, uint32_t segment_size);
/* receiver_start on it. */
void dt_start (struct dt *d);
/* dt_task, then dt_start. */
void dt_setup (struct dt *d, uint64_t size, uint32_t segment_size);
/* Stop the receiver (if started), free the task, remove the store. */
void dt_teardown (struct dt *d);

/* Mount a tmpfs of size (mount's "size=" syntax) on dir, in a mount
 * namespace of the test's own, so that it goes away with the test
 * process even when the test fails (needs root, as CI is). */
void dt_mount_tmpfs (const char *dir, const char *size);

/* A libnbd client of export disk0. */
struct nbd_handle *dt_connect (struct dt *d);
/* The same, with libnbd's own checks off: it sends what it is told. */
struct nbd_handle *dt_connect_lax (struct dt *d);

/* NBD_CMD_DISC, then close. */
void dt_disconnect (struct nbd_handle *h);

/* Read record seq back from the task's journal with a reader of its
 * own, its CRC checked; payload (if not NULL) gets up to cap bytes of
 * it.  false if the journal holds no record seq. */
bool dt_record (struct dt *d, uint64_t seq, struct journal_record *rec,
                void *payload, size_t cap);
/* The newest record of the journal, read back as dt_record does
 * (0: the journal is empty). */
uint64_t dt_last_record (struct dt *d);

/* A buffer of len bytes, each byte (i + seed) % 251 + 1 (never zero). */
void *dt_pattern (size_t len, unsigned seed);

/* Add a base point to an in-memory catalog (no image behind it). */
void dt_catalog_add (struct base_catalog *c, uint32_t disk, uint64_t seq,
                     int64_t time_ns, const char *file, const char *parent);

/* A condition one thread waits on and another sets. */
struct dt_flag {
  pthread_mutex_t m;
  pthread_cond_t c;
  unsigned count;
};
#define DT_FLAG_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 }
void dt_flag_raise (struct dt_flag *f);
/* Wait until the flag has been raised more than seen times; its count. */
unsigned dt_flag_wait (struct dt_flag *f, unsigned seen);

#endif
