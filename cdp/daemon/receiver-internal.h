/* cdp: the receiver's insides, shared by receiver.c (the NBD target,
 * the indexer, the life cycle) and receiver-copy.c (initial copies,
 * journaled only where they differ). */
#ifndef CDP_RECEIVER_INTERNAL_H
#define CDP_RECEIVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cdp/task/task.h"
#include "cdp/daemon/daemon.h"
#include "nbd-export/nbd-server.h"

/* A byte range [off, end). */
struct run {
  uint64_t off, end;
};
DEFINE_VECTOR_TYPE (run_vector, struct run)

struct rdisk {
  struct receiver *r;
  const struct task_disk *d;
  _Atomic uint64_t writes, bytes;
  _Atomic int64_t last_write_ns;
  /* Initial copy (receiver-copy.c).  copying and deferred are changed
   * under r->lock; copying_hint is its lock-free shadow. */
  bool copying;
  atomic_bool copying_hint;
  atomic_uint copy_pending;         /* copy requests not yet durable */
  run_vector deferred;              /* zeroes of the copy, not journaled yet */
  atomic_bool copy_read_failed;     /* said so once */
  _Atomic uint64_t copy_bytes, copy_kept;
};

/* A copy request being compared or journaled.  Requests are ordered by
 * ticket: one waits until every earlier overlapping one is durable and
 * indexed, so that it compares with what those left. */
struct busy {
  uint32_t disk;
  uint64_t off, end;
  uint64_t ticket;
  uint64_t seq;                     /* its last record; 0: none */
  bool done;                        /* every part durable (or none needed) */
};

DEFINE_VECTOR_TYPE (rec_vector, struct journal_record)
DEFINE_VECTOR_TYPE (req_vector, struct nbd_request *)
DEFINE_VECTOR_TYPE (busy_vector, struct busy *)

struct receiver {
  struct task *t;
  struct journal *j;
  struct journal_reader *jr;
  struct cdp_index *ix;
  struct nbd_server *srv;
  char *sock;
  uint32_t max_block;               /* largest request advertised */

  pthread_t ixthread;
  pthread_mutex_t lock;
  pthread_cond_t cond;              /* queue filled / index advanced /
                                       copy request done */
  rec_vector queue;
  string_vector labels;             /* parallel to queue (NULL for data) */
  uint64_t indexed;                 /* last seq in the index */
  int64_t indexed_ns;               /* its time: of a durable record */
  int64_t next_commit_ns;           /* CLOCK_MONOTONIC: the indexer's next
                                       commit, unless someone waits */
  unsigned ix_waiters;              /* threads that need the index now */
  bool indexing;                    /* the indexer is applying a batch */
  atomic_bool ix_durable_wait;      /* the indexer waits for durability */
  _Atomic uint64_t durable;         /* journal_durable_seq, as the journal
                                       thread last told it: what the
                                       indexer reads, never the journal,
                                       which receiver_stop closes (frees)
                                       while the indexer runs on */
  bool stop;
  busy_vector busy;                 /* copy requests in flight */
  uint64_t tickets;

  /* Writes the journal had no room for: held (unanswered) until the
   * maintenance thread has reclaimed space, then appended again. */
  pthread_mutex_t stall_lock;
  req_vector stalled;
  void (*on_full) (void *opaque);
  void *on_full_opaque;

  struct rdisk *disks;
};

/* receiver.c */
/* Journal thread: queue a durable record for the indexer. */
void indexer_push (struct receiver *r, const struct journal_record *rec,
                 const char *label);
/* Wait until the index holds seq. */
void indexer_wait (struct receiver *r, uint64_t seq);
/* Under r->lock: wait on r->cond as one who needs the index now (the
 * indexer commits without its usual spacing). */
void indexer_wait_locked (struct receiver *r);
/* Journal req as one record; its reply once durable. */
void rx_append (struct rdisk *rd, struct nbd_request *req, uint16_t type);
/* Append e (payload, label) and wait until it is durable. */
int receiver_append_wait (struct receiver *r, struct journal_record *e,
                          const void *payload, const char *label);

/* receiver-copy.c */
/* If disk rd is in an initial copy, take req (true); else false. */
bool copy_append (struct rdisk *rd, struct nbd_request *req, uint16_t type);
/* Wait until no copy request of rd is in flight (a write that follows
 * the copy must be journaled after everything of it). */
void copy_drained (struct rdisk *rd);
void copy_free (struct receiver *r);

#endif
