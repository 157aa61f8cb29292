/* cdp journal: internal declarations, grouped by defining file. */
#ifndef CDP_JOURNAL_INTERNAL_H
#define CDP_JOURNAL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <liburing.h>

#include "common/vector.h"
#include "journal/journal.h"

/* ---- format.c: the on-disk format (see docs/ARCHITECTURE.md) ---------- */

#define SEG_MAGIC "CDPJSEG1"
#define SEG_VERSION 1
#define SEG_HDR_SIZE 4096u          /* records start here */
#define REC_MAGIC 0x4a504443u       /* "CDPJ" little-endian */
#define REC_HDR_SIZE 64u
#define REC_ALIGN 64u               /* records start on 64-byte boundaries */
#define REC_PAD 0x8000u             /* padding record type (internal) */
/* seg_hdr.inflight of a segment written through the page cache: any
 * part of it past its last sync may be missing after a power loss. */
#define SEG_INFLIGHT_BUFFERED UINT32_MAX

struct seg_hdr {                    /* 128 bytes used of SEG_HDR_SIZE */
  char magic[8];
  uint32_t version;
  uint32_t crc;                     /* CRC32C of these 128 bytes, crc = 0 */
  uint8_t uuid[16];                 /* journal identity */
  uint64_t segment;
  uint64_t first_seq;               /* seq of the first record here */
  uint64_t prev_segment;            /* 0 if none */
  uint32_t prev_end;                /* previous segment's records end here */
  uint32_t align;                   /* batch alignment (O_DIRECT) */
  uint32_t size;                    /* file size */
  uint32_t inflight;                /* most batches in flight at once; 0 = 1;
                                       SEG_INFLIGHT_BUFFERED: page cache */
  int64_t created_ns;
  int64_t prev_last_time;           /* time of the previous segment's last record */
  uint8_t reserved[40];
};
_Static_assert (sizeof (struct seg_hdr) == 128, "segment header layout");

struct rec_hdr {
  uint32_t magic;
  uint32_t crc;                     /* CRC32C(payload, then header w/ crc=0) */
  uint64_t segment;
  uint64_t seq;                     /* 0 for padding */
  int64_t time_ns;
  uint16_t type;
  uint16_t flags;
  uint32_t disk;
  uint64_t offset;
  uint64_t length;
  uint32_t payload_len;
  uint32_t batch_start;             /* segment offset where its batch begins */
};
_Static_assert (sizeof (struct rec_hdr) == REC_HDR_SIZE, "record header layout");

static inline uint32_t
rec_disk_size (uint32_t payload_len)
{
  return REC_HDR_SIZE + ((payload_len + REC_ALIGN - 1) & ~(REC_ALIGN - 1));
}

void seg_hdr_seal (struct seg_hdr *h);
bool seg_hdr_valid (const struct seg_hdr *h);
bool seg_hdr_newer (const struct seg_hdr *h);
uint32_t rec_crc (const struct rec_hdr *h, uint32_t payload_crc);
/* Check a header read from segment `segment`; true if plausible and
 * inside [.., limit).  The CRC is checked separately. */
bool rec_hdr_plausible (const struct rec_hdr *h, uint64_t segment,
                        uint32_t pos, uint32_t limit);
void rec_to_record (const struct rec_hdr *h, uint64_t segment, uint32_t pos,
                    struct journal_record *rec);
/* Set the thread's error (common/error.h), forgetting the last damage;
 * returns err. */
int set_last_error (int err, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
/* Clear the thread's error and the last damage. */
void clear_last_error (void);
/* Set the error to the damaged record d (journal_last_damage). */
void set_last_damage (const struct journal_damage *d);
void clear_last_damage (void);

/* ---- segment.c: segment files in the directory ----------------------- */

struct seg_info {
  uint64_t number;
  uint64_t first_seq;
  uint32_t prev_end;                /* from the header */
};
DEFINE_VECTOR_TYPE (seg_vector, struct seg_info)

char *seg_name (uint64_t number);   /* "seg-%016llx.cdpj", malloc'd */
/* List segments with valid headers, sorted.  Removes nothing. */
int seg_list (int dirfd, seg_vector *out, uint8_t uuid[16], bool *have_uuid);
int seg_read_hdr (int fd, struct seg_hdr *h);
/* Read and verify the record at pos; payload may be NULL.  Returns 1 if
 * valid, 0 if not a valid record, -errno on I/O error. */
int seg_read_record (int fd, uint64_t segment, uint32_t pos, uint32_t limit,
                     struct rec_hdr *h, void *payload);
/* The record at pos did not check out: -ESTALE if the segment was
 * reclaimed (and reused) meanwhile, else -EUCLEAN with the place in the
 * last error. */
int seg_stale_or_corrupt (int fd, uint64_t number, uint32_t pos);

/* ---- window.c: buffered reads of a segment --------------------------- */

struct seg_window {
  int fd;
  uint8_t *buf;
  size_t cap;
  uint64_t base;
  size_t len;
};

void win_init (struct seg_window *w, int fd);
void win_free (struct seg_window *w);
int win_get (struct seg_window *w, uint64_t pos, size_t n, const uint8_t **p);
int win_record (struct seg_window *w, uint64_t segment, uint32_t pos,
                uint32_t limit, struct rec_hdr *h, const uint8_t **payload);

/* ---- reader.c ---------------------------------------------------------- */
/* The reader's directory fd, and a copy of its segment list (after a
 * refresh) into segs. */
int journal_reader_dirfd (struct journal_reader *r);
int journal_reader_segments (struct journal_reader *r, seg_vector *segs);

/* ---- vread.c: verified reads of payloads, and their cache ------------ */

#define VCACHE_DEFAULT (64u << 20)  /* bytes of checked payloads kept */

/* vmemo.c: records checked lately, read again without a check. */
#define VMEMO_TTL_S 60u             /* seconds a check is trusted */
#define VMEMO_SETS 16384u           /* x 4 ways: 64 Ki records, 1 MiB */
struct vmemo_entry;
struct vmemo {
  pthread_mutex_t lock;
  struct vmemo_entry *table;        /* NULL: nothing is remembered */
  size_t sets;
};
int vmemo_init (struct vmemo *m, size_t sets);
void vmemo_destroy (struct vmemo *m);
bool vmemo_fresh (struct vmemo *m, struct journal_loc loc);
void vmemo_add (struct vmemo *m, struct journal_loc loc);

struct vc_entry;
struct vcache {
  pthread_mutex_t lock;
  pthread_cond_t loaded;            /* an entry's load finished */
  struct vc_entry **buckets;        /* allocated on first use */
  struct vc_entry *head, *tail;     /* LRU list, newest first */
  size_t bytes, budget;
  struct vmemo memo;
};

void vc_init (struct vcache *c, size_t budget);
void vc_destroy (struct vcache *c);
/* Drop the entries of segments for which listed(opaque, number) is
 * false. */
void vc_drop_segments (struct vcache *c, bool (*listed) (void *, uint64_t),
                       void *opaque);
/* journal_pread_payload on the segment's fd. */
int vc_pread (struct vcache *c, int fd, struct journal_loc loc, uint32_t off,
              void *buf, uint32_t len);

/* ---- scan.c: walking a segment's records ------------------------------ */

struct seg_scan {
  uint32_t end;                     /* offset after the last valid record */
  uint64_t last_seq;                /* 0 if no record */
  int64_t last_time;
  uint32_t bad_pos;                 /* == end: where the scan stopped */
  bool corrupt;                     /* too many later batches follow */
};

/* Most batches a segment's writer had in flight, from its header. */
static inline uint32_t
seg_hdr_inflight (const struct seg_hdr *h)
{
  return h->inflight ? h->inflight : 1;
}

/* The `inflight` to judge the end of a last segment with header h by:
 * the header's, or for a page cache segment SEG_INFLIGHT_BUFFERED while
 * the marker file is there (any hole is its torn tail), 1 once it is
 * not (it was made durable in full).  marker: sync_marker_present. */
uint32_t seg_tail_window (const struct seg_hdr *h, bool marker);

/* Scan the records of segment `number` (open as fd) from SEG_HDR_SIZE up
 * to limit, stopping at the first invalid record.  expect_seq is the seq
 * the first record must carry (0: any).  seg_scan_ex with align != 0 also
 * looks past the stop for later batches, and sets corrupt if `inflight`
 * or more of them follow (cdp_get_error says where). */
int seg_scan (int fd, uint64_t number, uint64_t expect_seq, uint32_t limit,
              struct seg_scan *out);
/* Count the valid first records of batches that begin after bad, up to
 * want; *found is where the last one counted begins. */
int later_batches (struct seg_window *w, uint64_t number, uint32_t bad,
                   uint32_t align, uint32_t limit, uint32_t want,
                   uint32_t *found);
int seg_scan_ex (int fd, uint64_t number, uint64_t expect_seq, uint32_t limit,
                 uint32_t align, uint32_t inflight, struct seg_scan *out);

/* ---- append.c, writer.c, prep.c: the writer ---------------------------- */

#define WINDOW 2                    /* most batches in flight (writer.c) */
#define NSTAGE (WINDOW + 1)         /* stages: one filling, WINDOW written */
#define STAGE_SLACK 4096u           /* past cap: room for a padding record */
#define WAKE_NEVER UINT32_MAX       /* wake_bytes: the thread waits for I/O */

/* A journal_flush waiting for the records up to target. */
struct flush_wait {
  uint64_t target;
  journal_flush_fn done;
  void *opaque;
};
DEFINE_VECTOR_TYPE (flush_vector, struct flush_wait)

struct pending {
  uint32_t pos;                     /* offset of the header in the stage */
  uint32_t size;                    /* bytes on disk */
  journal_done_fn done;
  void *opaque;
};
DEFINE_VECTOR_TYPE (pending_vector, struct pending)

struct stage {
  uint8_t *buf;                     /* aligned; cap + slack for padding */
  uint32_t cap;
  uint32_t used;                    /* bytes reserved */
  uint32_t copying;                 /* appenders still copying into it */
  size_t sent;                      /* its first `sent` records are in flight */
  pending_vector recs;
};

/* One batch: a run of records written with one durable write. */
struct batch {
  struct stage *s;                  /* its records are the first n of s */
  size_t n;
  uint64_t segment;
  uint32_t start, len;              /* segment offset, bytes */
  uint64_t first_seq;
  bool done;                        /* its write has completed */
  int err;
};

struct journal {
  char *dir;
  int dirfd;
  int lockfd;
  struct journal_options opts;
  uint32_t align;
  uint8_t uuid[16];

  pthread_mutex_t lock;             /* protects the fields below it */
  pthread_cond_t space;             /* stage space freed / batch done */
  pthread_cond_t copied;            /* a taken stage's last copy is done */
  struct stage stage[NSTAGE];
  unsigned cur;                     /* stage appenders fill */
  uint32_t wake_bytes;              /* wake the thread when cur holds this */
  int64_t last_time;
  bool closing;
  uint64_t appended, completed;
  struct journal_stats stats;
  seg_vector segs;                  /* live segments, oldest first */

  /* Owned by the journal thread (set before it starts). */
  pthread_t thread;
  struct io_uring ring;
  int efd;
  uint64_t efd_buf;                 /* the ring's read of efd lands here */
  struct batch flight[WINDOW];      /* in flight, oldest at head */
  unsigned head, nflight;
  struct stage *rest;               /* taken; records wait for a segment */
  int fail_err;                     /* a batch failed: fail the later ones */
  int seg_fd;
  uint64_t seg_number;
  uint32_t tail;                    /* next batch goes here */
  uint64_t next_seq;                /* seq of the next batch's first record */
  bool seal;                        /* start a new segment before writing */
  bool failed_tail;                 /* sealed by a failed batch whose records
                                       may lie past the tail */
  _Atomic uint64_t durable_seq;
  _Atomic uint64_t oldest_seq;

  /* sync.c: durability through the page cache (journal_set_sync_interval).
   * The first three are shared; flushes is under lock; the rest belong
   * to the journal thread. */
  _Atomic int64_t sync_ns;          /* wanted interval; 0: durable writes */
  _Atomic uint64_t acked_seq;       /* newest record acknowledged */
  _Atomic int64_t unsynced_ns;      /* oldest acknowledged, not durable; 0 */
  flush_vector flushes;             /* journal_flush callers waiting */
  atomic_size_t nflushes;           /* flushes.len, read without the lock */
  pthread_mutex_t marker_lock;      /* the marker file and the two below */
  journal_durable_fn durable_cb;
  void *durable_opaque;
  bool lost_tail;                   /* journal_lost_tail */
  int64_t lost_since;
  bool marker;                      /* the "buffered" file exists */
  bool buffered;                    /* the current segment's mode */
  bool syncing;                     /* an fdatasync is in flight */
  bool sync_done;                   /* ... and has completed with sync_err */
  int sync_err;
  uint64_t written_seq;             /* newest record in the kernel's hands */
  uint64_t sync_seq;                /* what the sync in flight covers */
  int64_t next_unsynced;            /* first record written while syncing */
  int64_t unsynced_mono;            /* CLOCK_MONOTONIC of the two above, */
  int64_t next_unsynced_mono;       /* when written: what syncs are timed by */
  uint64_t unsynced_bytes;
  struct seg_hdr cur_hdr;           /* the current segment's header */

  /* prep.c: segment preparation (free pool and fresh files). */
  pthread_t prep_thread;
  pthread_cond_t prep_cond;
  int prep_fd;                      /* a ready file, or -1 */
  char prep_file[64];               /* its name, prep-N.cdpj */
  int prep_err;
  bool prep_stop;
  bool prep_hold;                   /* space is short: prepare on demand */
  atomic_bool prep_wanted;          /* the journal thread waits for it */
  _Atomic uint32_t tail_seen;       /* j->tail, for the prep thread's pace */
  _Atomic uint32_t batch_avg;       /* recent batches' mean bytes (prep.c) */
};

int prep_start (struct journal *j);
/* Journal thread: a batch of len bytes was submitted. */
void prep_note_batch (struct journal *j, uint32_t len);
void prep_stop (struct journal *j);
/* Take the prepared file (waits for it); returns fd or -errno, and its
 * name in name.  prep_rename gives it its segment name. */
int prep_take (struct journal *j, char name[64]);
int prep_rename (struct journal *j, const char *pname, uint64_t number);
/* Give back the space of the prepared file and of the free pool, and
 * prepare only on demand from now on. */
void prep_release (struct journal *j);
/* Hand a reclaimed segment to the pool (or delete it, if it cannot be). */
void prep_recycle (struct journal *j, uint64_t number);
/* Delete pool files past keep. */
void prep_trim (struct journal *j, uint32_t keep);

/* ---- append.c ------------------------------------------------------- */
/* Wake the journal thread (its eventfd): work or a setting changed. */
void journal_wake_thread (struct journal *j);

/* ---- dioalign.c: O_DIRECT alignment of a file ----------------------- */
uint32_t dio_align (int fd);

/* ---- writer.c: the journal thread and segment switches ---------------- */
void *journal_thread (void *arg);
/* Report the first n records of s done with err (written as len bytes
 * into segment if err is 0), and drop them from s. */
void batch_finish (struct journal *j, struct stage *s, size_t n,
                   uint64_t segment, uint32_t len, int err);
int seg_activate (struct journal *j);
/* For tests: called on the journal thread before each batch is
 * submitted; a return < 0 fails the batch with that error once its
 * writes have completed, as if the device had failed the flush after
 * the data landed. */
extern int (*journal_batch_fault) (uint64_t first_seq, size_t records);

/* ---- sync.c: writing through the page cache ---------------------------- */
#define TAG_EFD 0                   /* user_data of the eventfd read */
#define TAG_SYNC UINT64_MAX         /* ... of the fdatasync */
struct io_uring_sqe *journal_sqe (struct journal *j);
/* Journal thread: the segment about to be written has the wrong mode
 * (true): switch now if it is empty (0), else seal it. */
bool sync_mode_differs (struct journal *j);
int sync_remode (struct journal *j);
/* Write the first n records of s (len bytes) through the page cache and
 * acknowledge them. */
void sync_write_batch (struct journal *j, struct stage *s, size_t n,
                       uint32_t len);
/* Start an fdatasync if one is due; ns until the next is due (-1: none
 * is waiting). */
int64_t sync_poll (struct journal *j);
void sync_start (struct journal *j);
/* The fdatasync has completed: advance, call waiters. */
void sync_complete (struct journal *j);
/* Anything written but not durable? */
bool sync_pending (struct journal *j);
/* seg_activate: the marker file for a segment of mode buffered. */
int sync_marker (struct journal *j, bool buffered);
/* journal_find_tail: was a page cache tail lost with the host? */
int sync_check_marker (struct journal *j);
/* Is there a marker in dirfd (or one that cannot be looked at)? */
bool sync_marker_present (int dirfd);
/* Durable records advanced to seq: tell the durable callback. */
void sync_notify (struct journal *j, uint64_t seq, int err, int64_t oldest);

/* ---- tail.c: where the journal ends, on opening after a crash --------- */
int journal_find_tail (struct journal *j);

#endif
