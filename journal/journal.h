/* cdp journal: a timestamped, append-only, crash-safe record log.
 *
 * One journal is a directory of segment files written with io_uring and
 * O_DIRECT.  Every record carries a dense 64-bit sequence number, a
 * CLOCK_REALTIME timestamp in nanoseconds that never decreases within the
 * journal, a type, a disk id, a byte range and (for writes and bookmarks)
 * a payload, all covered by CRC32C.  See docs/ARCHITECTURE.md for the
 * on-disk format and the durability order.
 *
 * Writer: one process at a time (journal_open takes an exclusive lock on
 * the directory).  journal_append may be called from any thread; it
 * stamps the time, queues the record and returns at once.  The journal's
 * own thread lays records out, writes them in group-commit batches and
 * calls each record's completion callback once the record is durable (or
 * has failed).  A record is durable when its callback reports err == 0:
 * it survives a crash or power loss from then on.  (With a sync interval
 * above 0, see "Durability" below, the callback means the kernel has the
 * record, and durability follows within the interval.)
 *
 * Readers (struct journal_reader) may live in any process, also while a
 * writer appends; they see records as they become durable.
 *
 * Every function returns 0 (or a count) on success and -errno on failure;
 * none prints or touches errno.  Where a function says so, a failure
 * also sets the thread's error (common/error.h, cdp_get_error) to a line
 * saying where; journal_open and journal_reader_open clear it first.
 */
#ifndef CDP_JOURNAL_H
#define CDP_JOURNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Record types.  Values are part of the on-disk format. */
enum journal_type {
  JOURNAL_WRITE = 1,        /* payload = data at [offset, offset+length) */
  JOURNAL_WRITE_ZEROES = 2, /* [offset, offset+length) reads as zeroes */
  JOURNAL_TRIM = 3,         /* [offset, offset+length) discarded (reads 0) */
  JOURNAL_BOOKMARK = 4,     /* payload = label (UTF-8, no NUL) */
  JOURNAL_GAP = 5,          /* fidelity lost from here; payload = reason;
                               offset, if not 0: the earlier instant (ns)
                               fidelity was lost at, for a gap journaled
                               after the fact (a daemon that crashed) */
  JOURNAL_RESUME = 6,       /* fidelity restored from here; payload = reason */
  JOURNAL_TYPE_MAX = 0x7fff,
};

/* Largest payload one record may carry. */
#define JOURNAL_MAX_PAYLOAD (64u << 20)

/* Largest payload a record may carry in a journal of segments of
 * segment_size bytes (a record never spans segments). */
uint32_t journal_record_limit (uint32_t segment_size);

/* Where a record lives: segment number and byte offset of its header. */
struct journal_loc {
  uint64_t segment;
  uint32_t offset;
};

/* A record as callers see it. */
struct journal_record {
  uint64_t seq;
  int64_t time_ns;
  uint16_t type;            /* enum journal_type */
  uint16_t flags;           /* free for callers; stored as given */
  uint32_t disk;
  uint64_t offset;
  uint64_t length;
  uint32_t payload_len;
  struct journal_loc loc;
};

struct journal_options {
  uint32_t segment_size;    /* bytes; 0 = default (256 MiB); 1 MiB..2 GiB */
  uint32_t batch_bytes;     /* staging buffer; 0 = default (8 MiB) */
  uint32_t free_segments;   /* reclaimed segments kept for reuse, at most;
                               0 = as many as a reclaim drops (what the
                               journal fills until the next one), at
                               least 2 */
  bool create;              /* create the journal if the directory is empty */
};

struct journal;

/* Called on the journal thread once the record is durable (err == 0) or
 * has failed (err = -ENOSPC, -EIO, ...; rec->seq is then 0 and the record
 * is not in the journal).  Must not block; may call journal_append. */
typedef void (*journal_done_fn) (void *opaque,
                                 const struct journal_record *rec, int err);

/* Open the journal in dir for writing and start its thread.  Finds its
 * end after a crash: a torn tail of the last segment is cut at the last
 * valid record (nothing before it is lost) and writing continues in a new
 * segment.  Errors: -ENOENT (no journal and !create), -EBUSY (another
 * writer holds it), -EUCLEAN (corruption before the tail; see
 * cdp_get_error for segment and offset), -ENOMEM, -EIO, -ENOSPC. */
int journal_open (const char *dir, const struct journal_options *opts,
                  struct journal **jp);

/* Drain: wait until every appended record has completed, stop the
 * thread, release everything.  Safe on NULL. */
void journal_close (struct journal *j);

/* Queue one record.  e->seq, e->time_ns, e->loc are ignored: the journal
 * assigns them.  payload is copied before return (payload_len bytes; 0
 * for zeroes/trim).  Blocks only while the staging buffer is full.
 * Errors: -EINVAL (bad type, payload too large, write without payload),
 * -ESHUTDOWN (journal closing). */
int journal_append (struct journal *j, const struct journal_record *e,
                    const void *payload, journal_done_fn done, void *opaque);

/* ---- Durability ------------------------------------------------------
 *
 * By default (sync interval 0) a record's callback reports err == 0 only
 * once the record is durable, every batch being written with O_DIRECT
 * and RWF_DSYNC.  With a sync interval > 0 the journal writes through
 * the page cache instead: a record's callback runs once the record is in
 * the kernel's hands (it survives a crash of the process, not of the
 * host), and the journal makes it durable within the interval (one
 * fdatasync covers every record written before it).  A power loss of the
 * host may then lose the records acknowledged since the last sync; the
 * next journal_open finds out (journal_lost_tail).  A change of the
 * interval takes effect at the next batch, in a segment of its own (an
 * unwritten one is kept); leaving the page cache makes everything
 * written durable first. */

/* Set the sync interval (ns; 0: every record durable before its
 * callback).  Any thread, any time.  -EINVAL if ns < 0. */
int journal_set_sync_interval (struct journal *j, int64_t ns);

/* Called once every record acknowledged before journal_flush was called
 * is durable (err == 0), or could not be made so (err < 0, the sync
 * failed: see journal_set_durable_cb). */
typedef void (*journal_flush_fn) (void *opaque, int err);

/* Ask for every record acknowledged so far to be made durable now, and
 * call done (if not NULL) when it is: at once, on the calling thread,
 * when it is already so, else on the journal thread.  May be called
 * from a record's callback.  -ESHUTDOWN (closing), -ENOMEM. */
int journal_flush (struct journal *j, journal_flush_fn done, void *opaque);

/* Called on the journal thread each time the durable records advance
 * (journal_durable_seq), after their callbacks; err < 0 when a sync
 * failed: the records acknowledged since the oldest_ns reported with it
 * may not be on disk (the journal goes on; the caller journals the
 * loss).  Must not block.  Set before appending. */
typedef void (*journal_durable_fn) (void *opaque, uint64_t durable_seq,
                                    int err, int64_t oldest_ns);
void journal_set_durable_cb (struct journal *j, journal_durable_fn fn,
                             void *opaque);

/* Newest record that is durable (<= journal_last_seq). */
uint64_t journal_durable_seq (struct journal *j);

/* Time stamp of the oldest acknowledged record not yet durable, 0 if
 * every acknowledged record is durable. */
int64_t journal_unsynced_since (struct journal *j);

/* After journal_open: true when the journal was last written through
 * the page cache and the host has been restarted since (a power loss
 * or a crash of the host), so records acknowledged after *since_ns (the
 * time of the last record that survived) may be lost.  A clean close
 * makes everything durable and forgets the page cache mode; so does a
 * switch back to interval 0. */
bool journal_lost_tail (struct journal *j, int64_t *since_ns);

/* The loss journal_lost_tail reported is journaled: forget it (the
 * evidence, a marker file, is kept until then, across restarts, and
 * every open until then reports the same since_ns). */
void journal_forget_lost_tail (struct journal *j);

/* Block until every record appended before this call has completed. */
void journal_wait (struct journal *j);

/* Sequence number of the newest acknowledged record (durable, at sync
 * interval 0; see journal_durable_seq) (0 if none), and of the oldest
 * record still in the journal. */
uint64_t journal_last_seq (struct journal *j);
uint64_t journal_first_seq (struct journal *j);

/* Drop every segment whose records all have seq < before.  The newest
 * segment is never dropped.  Returns the number of segments dropped. */
int journal_reclaim (struct journal *j, uint64_t before);

/* Counters since open, for status output and benchmarks. */
struct journal_stats {
  uint64_t records;         /* made durable */
  uint64_t batches;         /* O_DIRECT writes that made them durable */
  uint64_t payload_bytes;   /* payload bytes of those records */
  uint64_t written_bytes;   /* bytes written: headers, payload, padding */
  uint64_t failed;          /* records that failed */
  uint64_t segments;        /* segments started */
};
void journal_stats (struct journal *j, struct journal_stats *st);

/* Space is short: delete the segment files kept ready for reuse and the
 * one prepared ahead, and from now on prepare segments only when one is
 * needed (until the next call of journal_reclaim). */
void journal_release_spare (struct journal *j);

/* Bytes the journal's segments occupy on disk (the spare ones, kept
 * for reuse and given back by journal_release_spare, not counted). */
uint64_t journal_disk_usage (struct journal *j);
/* The same for the journal in dir, open or not, and the spare segments'
 * bytes apart (spare may be NULL).  0 or -errno. */
int journal_dir_usage (const char *dir, uint64_t *in_use, uint64_t *spare);

/* ---- Reading ---------------------------------------------------------- */

struct journal_reader;

/* Open dir for reading.  Errors: -ENOENT, -EUCLEAN (bad segment header),
 * -ENOMEM, -EIO. */
int journal_reader_open (const char *dir, struct journal_reader **rp);
void journal_reader_close (struct journal_reader *r);

/* Pick up segments added or dropped since open. */
int journal_reader_refresh (struct journal_reader *r);

/* Oldest sequence number still present (0 if the journal is empty). */
uint64_t journal_reader_first_seq (struct journal_reader *r);

/* Iterate records in sequence order starting at the first record with
 * seq >= from.  journal_iter_next returns 1 with *rec filled, 0 at the
 * end of the durable records, -EUCLEAN on corruption (segment and offset
 * in cdp_get_error), -ESTALE if the segment was reclaimed meanwhile.
 * The iterator holds no locks; one iterator per thread. */
struct journal_iter;
int journal_iter_new (struct journal_reader *r, uint64_t from,
                      struct journal_iter **itp);
/* The same, told where record from - 1 is (its loc, as the index keeps
 * it): the scan starts right after it instead of at the top of its
 * segment.  A hint that does not hold (another segment, another record)
 * is ignored. */
int journal_iter_new_at (struct journal_reader *r, uint64_t from,
                         struct journal_loc hint, struct journal_iter **itp);
int journal_iter_next (struct journal_iter *it, struct journal_record *rec);
void journal_iter_free (struct journal_iter *it);

/* Sequence number of the first record with time_ns >= t (1 past the last
 * record if none); 0 if the journal is empty.  Errors as iteration. */
int journal_find_time (struct journal_reader *r, int64_t t, uint64_t *seq);

/* Read one whole record at loc, verifying its CRC; payload (may be NULL)
 * must hold rec->payload_len bytes: call with payload == NULL to learn
 * the header first.  Errors: -EUCLEAN, -ESTALE, -ENOENT (no such
 * segment), -EIO. */
int journal_read_record (struct journal_reader *r, struct journal_loc loc,
                         struct journal_record *rec, void *payload);

/* Read len bytes of the payload of the record at loc starting at byte
 * off of the payload.  Nothing unchecked is returned: the record's CRC
 * (over its whole payload and header) is verified first.  A read of a
 * whole payload is checked in buf; a read of part of one loads and
 * checks the whole record once and keeps its payload in the reader's
 * cache (bounded, see journal_reader_cache_limit), from which later
 * reads of it are copied.  Thread-safe; concurrent reads of a record
 * being loaded wait for that one load.  Errors: -EUCLEAN (the record
 * fails its check, or its header is not a record's: journal_last_damage
 * names it in the first case), -ESTALE, -ENOENT, -EIO, -ENOMEM, -EINVAL
 * (range outside the payload). */
int journal_pread_payload (struct journal_reader *r, struct journal_loc loc,
                           uint32_t off, void *buf, uint32_t len);

/* Bytes of checked payloads the reader keeps (default 64 MiB).  A record
 * larger than that is read and checked whole for every partial read. */
void journal_reader_cache_limit (struct journal_reader *r, size_t bytes);

/* A record that failed its CRC check: where, and what its header says
 * (the CRC covers the header too, so these may be the damaged part). */
struct journal_damage {
  struct journal_loc loc;
  uint64_t seq;
  int64_t time_ns;
  uint32_t disk;
  uint64_t offset;          /* byte range on the disk */
  uint64_t length;
  uint32_t end;             /* journal_check: the damage ends here */
  bool header_damaged;      /* journal_check: no record could be read at
                               loc; seq is the one expected there, time
                               that of the last valid record before it,
                               disk and range unknown */
};

/* After an -EUCLEAN from journal_pread_payload, on the same thread:
 * true and *d filled (d may be NULL) when a record failed its CRC check.
 * Any later journal error on the thread clears it.  Thread-local. */
bool journal_last_damage (struct journal_damage *d);

/* Walk every record of every segment and check CRCs, sequence density
 * and segment continuity.  Returns the number of records, or -EUCLEAN
 * with the place in cdp_get_error. */
int64_t journal_verify (struct journal_reader *r);

/* ---- Checking ------------------------------------------------------- */

struct journal_check_opts {
  uint64_t from_seq;        /* check records with from_seq <= seq */
  uint64_t to_seq;          /* ... <= to_seq (0: to the end) */
  uint64_t rate;            /* bytes read per second at most; 0: no limit */
  const atomic_bool *stop;  /* may be NULL: set it to end the check early */
};

struct journal_check_stats {
  uint64_t segments;        /* segments read */
  uint64_t records;         /* valid records in the range */
  uint64_t bytes;           /* bytes of records read */
  uint64_t damaged;         /* damage reports */
};

/* Called for each valid record in the range (d NULL) and for each damage
 * found (rec NULL), in journal order.  Return 0 to go on, non-zero to
 * stop the check. */
typedef int (*journal_check_fn) (void *opaque,
                                 const struct journal_record *rec,
                                 const struct journal_damage *d);

/* Read every record of the range and check its CRC, going on past
 * damage: a record that fails its check, bytes where no record can be
 * read before the end its segment's successor names (or, in the last
 * segment, before valid records of as many later batches as its writer
 * had in flight), and sequence numbers that do not run on from one
 * segment to the next are each reported once.  0 (damage or not), or
 * -errno when the journal cannot be read (-ENOMEM, -EIO). */
int journal_check (struct journal_reader *r,
                   const struct journal_check_opts *o, journal_check_fn fn,
                   void *opaque, struct journal_check_stats *st);

#endif
