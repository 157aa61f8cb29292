/* cdp journal: durability through the page cache (a sync interval > 0).
 *
 * At interval 0 every batch is written with O_DIRECT and RWF_DSYNC and
 * its records are acknowledged once that write completes (writer.c).
 * With an interval, a segment is written through the page cache: the
 * journal thread writes each batch with one pwrite, which returns once
 * the kernel holds the bytes, and acknowledges its records at once.  An
 * fdatasync of the segment, submitted on the journal's ring so that
 * writing goes on meanwhile, makes durable every record written before
 * it; one is started when the oldest acknowledged record not yet durable
 * is a quarter of the interval old, when SYNC_BYTES are waiting, when a
 * journal_flush asks, before a segment switch and at close.
 *
 * Durability order:
 *   1. the file "buffered" in the journal directory, holding the host's
 *      boot id, is durable (fio_replace) before the first record of a
 *      page cache segment is written;
 *   2. the segment's header says SEG_INFLIGHT_BUFFERED: after a power
 *      loss any part of it past its last sync may be missing, so an
 *      invalid record followed by valid ones is its torn tail and not
 *      corruption (scan.c);
 *   3. a segment is durable in full before the next one starts, so only
 *      the last segment can have lost records;
 *   4. the marker is removed (and the directory synced) only once every
 *      record is durable and the journal writes with O_DIRECT again, or
 *      at a clean close.
 * At open, a marker whose boot id is not the running host's means the
 * host went down while records may have been in its page cache only:
 * journal_lost_tail reports it, with the time of the last record that
 * survived, and the marker stays until the caller has journaled the
 * loss (journal_forget_lost_tail).  A marker from this boot means only
 * the process died: the page cache still held every record, and
 * finding the tail (tail.c) has made them durable.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/timeutil.h"
#include "journal/internal.h"

#define SYNC_BYTES (64u << 20)          /* written, not durable: sync now */
#define MARKER "buffered"
#define BOOT_ID "/proc/sys/kernel/random/boot_id"
#define LOST_SINCE "lost-since "          /* the marker's second line */

int
journal_set_sync_interval (struct journal *j, int64_t ns)
{
  if (ns < 0)
    return -EINVAL;
  atomic_store (&j->sync_ns, ns);
  journal_wake_thread (j);                             /* a sync may be due sooner now */
  return 0;
}

void
journal_set_durable_cb (struct journal *j, journal_durable_fn fn, void *opaque)
{
  j->durable_opaque = opaque;
  j->durable_cb = fn;
}

uint64_t
journal_durable_seq (struct journal *j)
{
  return atomic_load (&j->durable_seq);
}

int64_t
journal_unsynced_since (struct journal *j)
{
  return atomic_load (&j->unsynced_ns);
}

bool
journal_lost_tail (struct journal *j, int64_t *since_ns)
{
  if (j->lost_tail && since_ns)
    *since_ns = j->lost_since;
  return j->lost_tail;
}

int
journal_flush (struct journal *j, journal_flush_fn done, void *opaque)
{
  bool now = false;
  uint64_t target;
  int r = 0;

  pthread_mutex_lock (&j->lock);
  target = atomic_load (&j->acked_seq);
  if (target <= atomic_load (&j->durable_seq))
    now = true;
  else if (j->closing)
    r = -ESHUTDOWN;
  else {
    r = flush_vector_append (&j->flushes, (struct flush_wait) {
        .target = target, .done = done, .opaque = opaque });
    if (r == 0)
      atomic_fetch_add (&j->nflushes, 1);
  }
  pthread_mutex_unlock (&j->lock);
  if (now && done)
    done (opaque, 0);
  else if (!now && r == 0)
    journal_wake_thread (j);
  return r;
}

/* ---- the marker ------------------------------------------------------- */

static int
read_boot_id (char **id)
{
  size_t len;
  int r = fio_read (BOOT_ID, id, &len);

  if (r == 0 && len == 0) {
    free (*id);
    r = -EIO;
  }
  return r;
}

/* With marker_lock held: write the marker, this boot's id and, if
 * since is not 0, the line that keeps the time of a lost tail until it
 * is forgotten (across restarts).  A marker that is not a file (nothing
 * the journal writes) is removed first: the journal's own replaces it. */
static int
write_marker (struct journal *j, int64_t since)
{
  char *id = NULL, *text = NULL, *path = NULL;
  int r = read_boot_id (&id);

  if (r == 0 && asprintf (&path, "%s/" MARKER, j->dir) < 0)
    r = -ENOMEM;
  if (r == 0 && since &&
      asprintf (&text, "%s" LOST_SINCE "%" PRId64 "\n", id, since) < 0)
    r = -ENOMEM;
  if (r == 0) {
    const char *t = text ? text : id;
    r = fio_replace (path, t, strlen (t), 0600);
    if (r == -EISDIR && unlinkat (j->dirfd, MARKER, AT_REMOVEDIR) == 0)
      r = fio_replace (path, t, strlen (t), 0600);
    if (r < 0)
      set_last_error (r, "%s: cannot write: %s", path, strerror (-r));
  }
  free (id);
  free (text);
  free (path);
  return r;
}

int
sync_marker (struct journal *j, bool buffered)
{
  int r = 0;

  pthread_mutex_lock (&j->marker_lock);
  if (j->lost_tail || buffered == j->marker)
    goto out;                           /* the evidence stays, or no change */
  if (buffered)
    r = write_marker (j, 0);
  else if (unlinkat (j->dirfd, MARKER, 0) < 0 && errno != ENOENT)
    r = -errno;
  else if (fsync (j->dirfd) < 0)
    r = -errno;
  if (r == 0)
    j->marker = buffered;
  else if (!buffered)
    set_last_error (r, "%s/" MARKER ": cannot remove: %s", j->dir,
                    strerror (-r));
 out:
  pthread_mutex_unlock (&j->marker_lock);
  return r;
}

void
journal_forget_lost_tail (struct journal *j)
{
  pthread_mutex_lock (&j->marker_lock);
  if (j->lost_tail) {
    /* Replace the old boot's marker with this boot's, never leaving
     * none: the current segment may be written through the page cache
     * and hold records not yet durable.  The journal thread removes it
     * once it is not needed (sync_poll).  If it cannot be written, the
     * old one stays, and the next open reports the loss again. */
    j->lost_tail = false;
    j->lost_since = 0;
    write_marker (j, 0);
  }
  pthread_mutex_unlock (&j->marker_lock);
  journal_wake_thread (j);
}

bool
sync_marker_present (int dirfd)
{
  struct stat st;

  return fstatat (dirfd, MARKER, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
         errno != ENOENT;
}

/* The time a marker's lost-since line keeps (text after the boot id),
 * or 0. */
static int64_t
kept_since (const char *rest)
{
  char *end;
  long long t;

  if (strncmp (rest, LOST_SINCE, strlen (LOST_SINCE)) != 0)
    return 0;
  errno = 0;
  t = strtoll (rest + strlen (LOST_SINCE), &end, 10);
  return errno == 0 && t > 0 && *end == '\n' ? t : 0;
}

int
sync_check_marker (struct journal *j)
{
  char *old = NULL, *id = NULL, *path, *nl;
  size_t len = 0, idlen;
  int r;

  if (asprintf (&path, "%s/" MARKER, j->dir) < 0)
    return -ENOMEM;
  r = fio_read (path, &old, &len);
  free (path);
  if (r == -ENOENT)
    return 0;
  j->marker = true;
  /* A marker that cannot be read, or this host's boot id that cannot,
   * counts as a restart: the caller journals a loss that may not have
   * happened rather than miss one that did. */
  j->lost_tail = true;
  if (r == 0) {
    nl = memchr (old, '\n', len);
    idlen = nl ? (size_t) (nl - old) + 1 : len;
    j->lost_since = kept_since (old + idlen);
    if (j->lost_since == 0 && read_boot_id (&id) == 0 && len == idlen &&
        len == strlen (id) && memcmp (old, id, len) == 0)
      j->lost_tail = false;
  }
  free (old);
  free (id);
  if (!j->lost_tail || j->lost_since > 0)
    return 0;
  /* Found now: keep the time of the last record that survived, so that
   * a reopen before the loss is journaled reports the same time, not
   * that of records appended since. */
  j->lost_since = j->last_time > 0 ? j->last_time : 1;
  if (r < 0)
    return 0;                           /* kept as it is: unreadable */
  pthread_mutex_lock (&j->marker_lock);
  r = write_marker (j, j->lost_since);
  pthread_mutex_unlock (&j->marker_lock);
  return r;
}

/* ---- the journal thread ---------------------------------------------- */

bool
sync_pending (struct journal *j)
{
  return j->written_seq > atomic_load (&j->durable_seq);
}

bool
sync_mode_differs (struct journal *j)
{
  return (atomic_load (&j->sync_ns) > 0) != j->buffered ||
         (j->buffered && !j->marker && !j->lost_tail);
}

/* Rewrite the current (empty) segment's header for the other mode. */
static int
rewrite_header (struct journal *j, bool buffered)
{
  struct seg_hdr *h;
  struct iovec iov;
  int flags = fcntl (j->seg_fd, F_GETFL);
  ssize_t n;
  int r = 0;

  if (flags < 0 ||
      fcntl (j->seg_fd, F_SETFL,
             buffered ? flags & ~O_DIRECT : flags | O_DIRECT) < 0)
    return -errno;
  if (posix_memalign ((void **) &h, 4096, SEG_HDR_SIZE) != 0)
    return -ENOMEM;
  memset (h, 0, SEG_HDR_SIZE);
  *h = j->cur_hdr;
  h->inflight = buffered ? SEG_INFLIGHT_BUFFERED : WINDOW;
  seg_hdr_seal (h);
  iov = (struct iovec) { .iov_base = h, .iov_len = SEG_HDR_SIZE };
  n = pwritev2 (j->seg_fd, &iov, 1, 0, RWF_DSYNC);
  if (n < 0)
    r = -errno;
  else if (n != SEG_HDR_SIZE)
    r = -EIO;
  if (r == 0) {
    j->cur_hdr = *h;
    j->buffered = buffered;
  }
  free (h);
  return r;
}

int
sync_remode (struct journal *j)
{
  bool want = atomic_load (&j->sync_ns) > 0;
  int r;

  if (want == j->buffered) {            /* only the marker is missing */
    r = sync_marker (j, true);
    return r;
  }
  if (j->tail != SEG_HDR_SIZE || j->nflight > 0 || j->syncing ||
      sync_pending (j)) {
    j->seal = true;                     /* the next segment has the mode */
    return 0;
  }
  r = sync_marker (j, want);            /* before the first record */
  if (r == 0)
    r = rewrite_header (j, want);
  if (r == 0 && !want)
    r = sync_marker (j, false);
  return r;
}

void
sync_write_batch (struct journal *j, struct stage *s, size_t n, uint32_t len)
{
  const struct rec_hdr *first = (const struct rec_hdr *) s->buf;
  uint64_t first_seq = j->next_seq;
  int64_t t0 = first->time_ns;
  int err = fio_pwrite_all (j->seg_fd, s->buf, len, (off_t) j->tail);

  if (err == 0 && journal_batch_fault)
    err = journal_batch_fault (first_seq, n);
  if (err) {
    /* Part of it may be in the file: nothing more goes into this
     * segment, whose end the next one's header puts before it. */
    j->seal = true;
    j->failed_tail = true;
    batch_finish (j, s, n, 0, 0, err);
    return;
  }
  /* Stamps tell the durability lag; the monotonic clock times the
   * sync, so that a clock stepped back does not put it off. */
  if (j->syncing) {
    if (j->next_unsynced == 0) {
      j->next_unsynced = t0;
      j->next_unsynced_mono = time_mono_ns ();
    }
  }
  else if (atomic_load (&j->unsynced_ns) == 0) {
    atomic_store (&j->unsynced_ns, t0);
    j->unsynced_mono = time_mono_ns ();
  }
  j->tail += len;
  atomic_store_explicit (&j->tail_seen, j->tail, memory_order_relaxed);
  j->next_seq += n;
  j->written_seq = first_seq + n - 1;
  j->unsynced_bytes += len;
  s->sent = n;
  batch_finish (j, s, n, j->seg_number, len, 0);
}

void
sync_start (struct journal *j)
{
  struct io_uring_sqe *sqe = journal_sqe (j);
  int r;

  io_uring_prep_fsync (sqe, j->seg_fd, IORING_FSYNC_DATASYNC);
  io_uring_sqe_set_data64 (sqe, TAG_SYNC);
  j->syncing = true;
  j->sync_done = false;
  j->sync_err = 0;
  j->sync_seq = j->written_seq;
  j->next_unsynced = 0;
  j->next_unsynced_mono = 0;
  j->unsynced_bytes = 0;
  r = io_uring_submit (&j->ring);
  if (r < 0) {
    /* Not submitted: let it complete as a no-op that failed. */
    io_uring_prep_nop (sqe);
    j->sync_err = r;
  }
}

/* Call the journal_flush callers whose records are durable up to seq. */
static void
serve_flushes (struct journal *j, uint64_t seq, int err)
{
  flush_vector ready = empty_vector;
  size_t k = 0;

  if (atomic_load (&j->nflushes) == 0)
    return;
  pthread_mutex_lock (&j->lock);
  for (size_t i = 0; i < j->flushes.len; i++) {
    if (j->flushes.ptr[i].target <= seq) {
      if (flush_vector_append (&ready, j->flushes.ptr[i]) < 0)
        j->flushes.ptr[k++] = j->flushes.ptr[i];  /* next time */
    }
    else
      j->flushes.ptr[k++] = j->flushes.ptr[i];
  }
  j->flushes.len = k;
  atomic_store (&j->nflushes, k);
  pthread_mutex_unlock (&j->lock);
  for (size_t i = 0; i < ready.len; i++)
    if (ready.ptr[i].done)
      ready.ptr[i].done (ready.ptr[i].opaque, err);
  flush_vector_reset (&ready);
}

int64_t
sync_poll (struct journal *j)
{
  int64_t iv = atomic_load (&j->sync_ns), due, now;
  bool asked, closing;

  if (j->syncing)
    return -1;                          /* its completion wakes the thread */
  if (!sync_pending (j)) {
    /* Everything is durable: out of the page cache mode (at interval
     * 0, or in a segment written with O_DIRECT), no marker is needed.
     * A record written through the page cache again writes it first
     * (sync_mode_differs). */
    if (iv == 0 || !j->buffered)
      sync_marker (j, false);
    /* A flush that found its records not yet durable, and was queued
     * just after the sync that made them so had answered the queue. */
    serve_flushes (j, atomic_load (&j->durable_seq), 0);
    return -1;
  }
  pthread_mutex_lock (&j->lock);
  asked = j->flushes.len > 0;
  closing = j->closing;
  pthread_mutex_unlock (&j->lock);
  if (asked || closing || iv <= 0 || j->unsynced_bytes >= SYNC_BYTES) {
    sync_start (j);
    return -1;
  }
  due = j->unsynced_mono + iv / 4;
  now = time_mono_ns ();
  if (now >= due) {
    sync_start (j);
    return -1;
  }
  return due - now;
}

void
sync_complete (struct journal *j)
{
  int64_t oldest = atomic_load (&j->unsynced_ns);
  int err = j->sync_err;

  j->syncing = false;
  j->sync_done = false;
  if (err) {
    /* Some of what the kernel held may not have reached the disk, and
     * nothing says which: no more records go into this segment. */
    j->seal = true;
  }
  atomic_store (&j->durable_seq, j->sync_seq);
  atomic_store (&j->unsynced_ns, j->next_unsynced);
  j->unsynced_mono = j->next_unsynced_mono;
  sync_notify (j, j->sync_seq, err, oldest);
}

void
sync_notify (struct journal *j, uint64_t seq, int err, int64_t oldest)
{
  serve_flushes (j, seq, err);
  if (j->durable_cb)
    j->durable_cb (j->durable_opaque, seq, err, oldest);
}
