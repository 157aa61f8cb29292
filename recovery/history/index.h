/* cdp recovery: the LMDB index over a task's journal.
 *
 * The journal is the source of truth; the index makes it searchable in
 * five databases (index_open opens them; layouts in index-internal.h and
 * docs/ARCHITECTURE.md):
 *   extents: (disk, 64 KiB chunk, ~seq) -> where the record's data is and
 *            which byte range it covers; a record has one entry per chunk
 *            it touches, so a read looks only at the chunks it reads.
 *   times:   (time, seq) -> disk, type and byte range, one entry per
 *            record: the point at T is the largest seq whose time <= T,
 *            in one cursor step.
 *   seconds: (disk, second) -> the last seq of that second that changed
 *            the disk (cdp points lists seconds from it).
 *   events:  seq -> bookmark, fidelity gap or resume, with its label.
 *   meta:    the last journal seq the index holds and where its record
 *            is, the first seq from which it holds every record, and the
 *            format version.
 * It runs with MDB_NOMETASYNC (data pages synced at commit, meta pages
 * not: a crash loses at most the last commits, never integrity) and is
 * written in batches.  On open it catches up from the journal; a missing
 * or damaged index is rebuilt from it.
 *
 * One writer thread per index at a time (LMDB serializes writers across
 * processes); any number of readers in any process.  Functions return
 * 0 or -errno (LMDB errors map to -EIO/-ENOSPC/-ENOMEM) and never print;
 * an LMDB error and a format version refused also set the thread's error
 * (common/error.h), which index_open clears first.
 */
#ifndef CDP_INDEX_H
#define CDP_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "journal/journal.h"

#define INDEX_CHUNK (64u << 10)

struct cdp_index;

/* Open (creating) the index in directory dir. */
int index_open (const char *dir, struct cdp_index **ip);
void index_close (struct cdp_index *ix);

/* Remove the index files in dir (for a rebuild). */
int index_remove (const char *dir);

/* The last journal sequence number the index holds (0: none). */
uint64_t index_last_seq (struct cdp_index *ix);
/* The oldest seq from which the index holds every record (0: none
 * forgotten yet, or an index of an older version).  Never below the
 * journal's first after a catch-up. */
uint64_t index_first_seq (struct cdp_index *ix);
/* The last seq and where its record is (segment 0: not known). */
int index_last_loc (struct cdp_index *ix, uint64_t *seq,
                    struct journal_loc *loc);

/* Add records, in sequence order, in one write transaction.  Records at
 * or below the index's last seq are skipped (another process may have
 * caught up meanwhile); a gap in sequence numbers is -EINVAL. */
int index_apply (struct cdp_index *ix, const struct journal_record *recs,
                 const char *const *labels, size_t n);

/* Read the journal from the index's last seq and add what is missing.
 * Records older than the journal's first are gone: the index forgets
 * whatever it still holds of them (a reclaim whose index_forget was lost
 * with a crash) and starts at the journal's first record.  Records past
 * the journal's last are gone too (a page cache tail lost with the
 * host): the index forgets them first.  Returns the number added. */
int64_t index_catch_up (struct cdp_index *ix, struct journal_reader *r);

/* Drop every entry with seq < before (after journal reclaim). */
int index_forget (struct cdp_index *ix, uint64_t before);

/* Drop every entry with seq > after: the journal lost its newest records
 * (a page cache tail, with the host) and will hand their sequence
 * numbers out again.  index_catch_up calls it when the journal ends
 * before the index does; that catch-up must come before the writer
 * appends again (the daemon catches up when it opens the journal). */
int index_forget_after (struct cdp_index *ix, uint64_t after);

/* The point at time t: the largest seq with time <= t, or 0 if none. */
int index_seq_at (struct cdp_index *ix, int64_t t, uint64_t *seq,
                  int64_t *time);

/* The byte ranges of disk that records with from < seq <= to changed
 * (writes, zeroes, trims), oldest first; from_time must be the time of
 * record from (or earlier).  fn returns 0 to go on. */
typedef int (*index_change_fn) (void *opaque, uint64_t off, uint64_t len);
int index_changes (struct cdp_index *ix, uint32_t disk, uint64_t from,
                   int64_t from_time, uint64_t to, index_change_fn fn,
                   void *opaque);

/* ---- walking all of it (cdp verify) ------------------------------------ */

/* An extents entry: record seq of disk touches chunk; where the record
 * is and what it is.  malformed: the entry's key or value has the wrong
 * size (nothing else is filled). */
struct index_extent {
  uint32_t disk;
  uint64_t chunk;
  uint64_t seq;
  struct journal_loc loc;
  uint16_t type;
  uint64_t off, len;
  bool malformed;
};
/* A times entry: record seq at time_ns, and what it changed. */
struct index_time {
  int64_t time_ns;
  uint64_t seq;
  uint32_t disk;
  uint16_t type;
  uint64_t off, len;
  bool malformed;
};
struct index_bounds {
  uint64_t first_seq;       /* the index holds every record from here */
  uint64_t last_seq;        /* ... to here */
};
typedef int (*index_extent_fn) (void *opaque, const struct index_extent *x);
typedef int (*index_time_fn) (void *opaque, const struct index_time *x);

/* Call ext_fn for every extents entry (by disk, chunk, newest first),
 * then time_fn for every times entry (by time), all in one read
 * transaction, and fill *b.  0, a callback's non-zero return, or
 * -errno. */
int index_walk (struct cdp_index *ix, index_extent_fn ext_fn,
                index_time_fn time_fn, void *opaque, struct index_bounds *b);

/* Time of the oldest and newest record the index holds (0, 0: none). */
int index_span (struct cdp_index *ix, int64_t *first, int64_t *last);

/* ---- reading the disk at a point -------------------------------------- */

/* One piece of a resolved read: [off, off+len) of the disk comes from
 * the record at loc (payload byte loc_off on), or reads as zeroes
 * (zero == true; trim == true where it was discarded). */
struct index_piece {
  uint64_t off;
  uint64_t len;
  bool zero;
  bool trim;
  struct journal_loc loc;
  uint32_t loc_off;
};

/* Called with pieces newest first; ranges never overlap.  Return 0 to go
 * on, or -errno to stop the walk with that error. */
typedef int (*index_piece_fn) (void *opaque, const struct index_piece *p);

/* Walk the records of disk at point seq (and newer than base_seq) that
 * decide bytes of [off, off+len).  Bytes no piece covers come from the
 * base (no record after base_seq touched them).  -ESTALE when the
 * index no longer holds every record after base_seq (index_forget, or a
 * catch-up that found the journal's start reclaimed).  Thread-safe. */
int index_resolve (struct cdp_index *ix, uint32_t disk, uint64_t seq,
                   uint64_t base_seq, uint64_t off, uint64_t len,
                   index_piece_fn fn, void *opaque);

/* ---- events and points ------------------------------------------------ */

struct index_event {
  uint64_t seq;
  int64_t time_ns;          /* a gap: when fidelity was lost, which may be
                               before the record (see JOURNAL_GAP) */
  uint16_t type;            /* JOURNAL_BOOKMARK, JOURNAL_GAP, JOURNAL_RESUME */
  uint32_t disk;
  char label[256];
};

/* Events with from <= seq <= to, oldest first; fn returns 0 to go on. */
typedef int (*index_event_fn) (void *opaque, const struct index_event *e);
int index_events (struct cdp_index *ix, uint64_t from, uint64_t to,
                  index_event_fn fn, void *opaque);

/* Distinct seconds in [from_ns, to_ns] in which disk changed (any disk
 * if disk == UINT32_MAX), with the last seq of each second. */
typedef int (*index_second_fn) (void *opaque, int64_t second, uint64_t seq);
int index_seconds (struct cdp_index *ix, uint32_t disk, int64_t from_ns,
                   int64_t to_ns, index_second_fn fn, void *opaque);

/* Is the history of disk exact at seq, the point of time t?  False
 * inside a fidelity gap: the newest gap/resume event at or before seq is
 * a gap, or the first one after seq is a gap whose fidelity was lost at
 * or before t (a gap journaled after the fact). */
int index_faithful (struct cdp_index *ix, uint32_t disk, uint64_t seq,
                    int64_t t, bool *faithful);

#endif
