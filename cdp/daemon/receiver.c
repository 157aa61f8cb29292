/* cdp: the receiver — the NBD export QEMU's mirror writes into.
 *
 * Every WRITE, WRITE_ZEROES and TRIM becomes one journal record; its NBD
 * reply is sent from the record's completion callback, that is only once
 * the record is durable.  A write the journal cannot store is answered
 * with its error and never acknowledged.  The same callbacks, which the
 * journal calls in sequence order, feed the indexer thread, which adds
 * them to the LMDB index in batches (one transaction per wake-up).
 * Reads (the receiver also serves the disk as it is now) wait until the
 * index holds every acknowledged write.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/daemon/daemon.h"
#include "common/error.h"
#include "cdp/hv/hv.h"
#include "common/timeutil.h"
#include "nbd-export/nbd-server.h"

#include "cdp/daemon/receiver-internal.h"

static void rx_sync_lost (struct receiver *r, int err, int64_t oldest_ns);

/* ---- the indexer --------------------------------------------------------- *
 *
 * The index holds durable records only.  At RPO 0 a record is durable
 * before its callback queues it; at an RPO above 0 it is queued once
 * the kernel has it, and the indexer takes the queue's durable prefix
 * (r->durable, which the journal thread keeps), woken by the journal's
 * durable callback.  So
 * the index never names a record a power loss can take, and no point
 * inside a lost page cache tail is ever offered. */

/* Index commits are spaced by INDEX_COMMIT_NS while nobody waits for
 * the index: each commit syncs the index file, a device flush next to
 * the journal's own.  At one commit per guest write that doubled the
 * flushes of a small-write workload; at one every 20 ms a durable
 * journal write that met one waited for it, about one QD 1 write in a
 * hundred at 7000 writes a second: the 99th percentile.  The records
 * are durable in the journal meanwhile (a crash loses nothing: the
 * index catches up from it), and a reader that needs them (indexer_wait,
 * an initial copy's ordering, each maintenance cycle) has them
 * committed at once. */
#define INDEX_COMMIT_NS (1000 * 1000 * 1000)
#define INDEX_COMMIT_MAX 8192           /* records; commit at once past it */

/* Journal thread: queue a durable record for the index. */
void
indexer_push (struct receiver *r, const struct journal_record *rec,
            const char *label)
{
  /* At RPO 0 the record is durable already: say so before it is seen. */
  atomic_store (&r->durable, journal_durable_seq (r->j));
  pthread_mutex_lock (&r->lock);
  if (rec_vector_append (&r->queue, *rec) == 0 &&
      string_vector_append (&r->labels, label ? strdup (label) : NULL) < 0)
    r->queue.len--;
  /* The indexer sleeps until its next commit is due; wake it only when
   * it may have something to do now (a record not durable yet, at an
   * RPO above 0, is nothing to do: the durable callback wakes it). */
  if (r->queue.len == 1 || r->queue.len >= INDEX_COMMIT_MAX ||
      (r->ix_waiters > 0 && rec->seq <= atomic_load (&r->durable)))
    pthread_cond_broadcast (&r->cond);
  pthread_mutex_unlock (&r->lock);
}

/* Under r->lock: may the indexer commit now? */
static bool
commit_due (struct receiver *r)
{
  return r->stop || r->ix_waiters > 0 || r->queue.len >= INDEX_COMMIT_MAX ||
         time_mono_ns () >= r->next_commit_ns;
}

/* Under r->lock: how many queued records, from the front, are durable;
 * 0 with the indexer marked as waiting for more. */
static size_t
durable_prefix (struct receiver *r)
{
  uint64_t lim = atomic_load (&r->durable);
  size_t n = r->queue.len;

  if (r->queue.ptr[n - 1].seq <= lim)
    return n;                       /* RPO 0: always */
  while (n > 0 && r->queue.ptr[n - 1].seq > lim)
    n--;
  if (n == 0) {
    /* Dekker with durable_advanced: it stores the seq, then reads the
     * flag; we store the flag, then read the seq again. */
    atomic_store (&r->ix_durable_wait, true);
    if (r->queue.ptr[0].seq <= atomic_load (&r->durable))
      atomic_store (&r->ix_durable_wait, false);
    else
      return 0;
    return durable_prefix (r);
  }
  return n;
}

/* Under r->lock: move the first n queued records into batch/labels. */
static int
take_prefix (struct receiver *r, size_t n, rec_vector *batch,
             string_vector *labels)
{
  size_t rest = r->queue.len - n;

  if (rest == 0) {
    rec_vector tq = r->queue; r->queue = *batch; *batch = tq;
    string_vector tl = r->labels; r->labels = *labels; *labels = tl;
    return 0;
  }
  if (rec_vector_reserve (batch, n) < 0 ||
      string_vector_reserve (labels, n) < 0)
    return -ENOMEM;
  memcpy (batch->ptr, r->queue.ptr, n * sizeof *batch->ptr);
  memcpy (labels->ptr, r->labels.ptr, n * sizeof *labels->ptr);
  batch->len = labels->len = n;
  memmove (r->queue.ptr, r->queue.ptr + n, rest * sizeof *r->queue.ptr);
  memmove (r->labels.ptr, r->labels.ptr + n, rest * sizeof *r->labels.ptr);
  r->queue.len = r->labels.len = rest;
  return 0;
}

static void *
indexer (void *arg)
{
  struct receiver *r = arg;
  rec_vector batch = empty_vector;
  string_vector labels = empty_vector;
  size_t n;
  int e;

  pthread_mutex_lock (&r->lock);
  while (!r->stop || r->queue.len > 0) {
    if (r->queue.len == 0) {
      pthread_cond_wait (&r->cond, &r->lock);
      continue;
    }
    if (!commit_due (r)) {
      struct timespec ts = { .tv_sec = r->next_commit_ns / 1000000000,
                             .tv_nsec = r->next_commit_ns % 1000000000 };
      pthread_cond_timedwait (&r->cond, &r->lock, &ts);
      continue;
    }
    n = durable_prefix (r);
    if (n == 0) {
      pthread_cond_wait (&r->cond, &r->lock);
      atomic_store (&r->ix_durable_wait, false);
      continue;
    }
    if (take_prefix (r, n, &batch, &labels) < 0) {
      /* Out of memory: try again soon (r->cond runs on CLOCK_MONOTONIC). */
      struct timespec ts = time_deadline (CLOCK_MONOTONIC, 1000000000LL);
      pthread_cond_timedwait (&r->cond, &r->lock, &ts);
      continue;
    }
    r->indexing = true;
    pthread_mutex_unlock (&r->lock);
    e = index_apply (r->ix, batch.ptr, (const char *const *) labels.ptr, batch.len);
    if (e < 0) {
      /* The journal has the records: catch up from it instead. */
      log_msg ("task %s: index update failed (%s); catching up from the journal",
               r->t->name, strerror (-e));
      journal_reader_refresh (r->jr);
      e = (int) index_catch_up (r->ix, r->jr);
    }
    for (size_t i = 0; i < labels.len; i++)
      free (labels.ptr[i]);
    pthread_mutex_lock (&r->lock);
    if (e >= 0) {
      r->indexed = batch.ptr[batch.len - 1].seq;
      r->indexed_ns = batch.ptr[batch.len - 1].time_ns;
    }
    r->indexing = false;
    r->next_commit_ns = time_mono_ns () + INDEX_COMMIT_NS;
    batch.len = labels.len = 0;
    pthread_cond_broadcast (&r->cond);
  }
  pthread_mutex_unlock (&r->lock);
  rec_vector_reset (&batch);
  string_vector_reset (&labels);
  return NULL;
}

/* Journal thread: durable records advanced to seq.  Wake the indexer
 * if it waits for them; a failed sync may have lost what the kernel
 * held: that is a gap in history, journaled at once. */
static void
durable_advanced (void *opaque, uint64_t seq, int err, int64_t oldest_ns)
{
  struct receiver *r = opaque;

  atomic_store (&r->durable, seq);
  if (err < 0)
    rx_sync_lost (r, err, oldest_ns);
  if (atomic_load (&r->ix_durable_wait)) {
    pthread_mutex_lock (&r->lock);
    pthread_cond_broadcast (&r->cond);
    pthread_mutex_unlock (&r->lock);
  }
}

/* Under r->lock: wait on r->cond as one who needs the durable records
 * in the index now. */
static void
indexer_wait_durable_locked (struct receiver *r)
{
  if (r->ix_waiters++ == 0)
    pthread_cond_broadcast (&r->cond);
  pthread_cond_wait (&r->cond, &r->lock);
  r->ix_waiters--;
}

/* Under r->lock: wait on r->cond as one who needs the index now. */
void
indexer_wait_locked (struct receiver *r)
{
  /* What it needs may be acknowledged but not durable yet: have the
   * journal sync now rather than at its next interval. */
  if (journal_durable_seq (r->j) < journal_last_seq (r->j))
    journal_flush (r->j, NULL, NULL);
  indexer_wait_durable_locked (r);
}

/* Wait until the index holds seq. */
void
indexer_wait (struct receiver *r, uint64_t seq)
{
  pthread_mutex_lock (&r->lock);
  while (r->indexed < seq && !(r->stop && r->queue.len == 0))
    indexer_wait_locked (r);
  pthread_mutex_unlock (&r->lock);
}

/* A gap appended from the journal thread, which must not wait for it. */
struct lost_gap {
  struct receiver *r;
  char label[160];
};

static void
lost_gap_done (void *opaque, const struct journal_record *rec, int err)
{
  struct lost_gap *g = opaque;

  if (err == 0)
    indexer_push (g->r, rec, g->label);
  else
    log_msg ("task %s: cannot journal the gap of a failed sync: %s",
             g->r->t->name, strerror (-err));
  free (g);
}

/* Journal thread: a sync failed: the records acknowledged since
 * oldest_ns may not be on disk.  Journal a gap from then on every disk
 * (a new copy of the disk restores fidelity, as after any gap). */
static void
rx_sync_lost (struct receiver *r, int err, int64_t oldest_ns)
{
  char when[64];

  format_time (oldest_ns, when, sizeof when);
  log_msg ("task %s: the journal could not be made durable (%s): writes "
           "acknowledged since %s may be lost; journaling a gap",
           r->t->name, strerror (-err), when);
  for (size_t i = 0; i < r->t->disks.len; i++) {
    struct lost_gap *g = calloc (1, sizeof *g);
    struct journal_record e = {
      .type = JOURNAL_GAP, .disk = r->t->disks.ptr[i].id,
      .offset = oldest_ns > 0 ? (uint64_t) oldest_ns : 0,
    };
    if (g == NULL)
      continue;
    g->r = r;
    snprintf (g->label, sizeof g->label, "journal sync failed: %s",
              strerror (-err));
    e.payload_len = strlen (g->label);
    if (journal_append (r->j, &e, g->label, lost_gap_done, g) < 0)
      free (g);
  }
}

/* ---- the NBD backend ---------------------------------------------------- */

static int
rx_open (void *opaque, const char *name, void **handle,
         struct nbd_export_info *info)
{
  struct receiver *r = opaque;

  for (size_t i = 0; i < r->t->disks.len; i++) {
    const struct task_disk *d = &r->t->disks.ptr[i];
    if (strcmp (name, d->name) == 0 || (*name == 0 && r->t->disks.len == 1)) {
      *handle = &r->disks[i];
      *info = (struct nbd_export_info) {
        .size = task_disk_size (d), .can_trim = true, .can_zero = true,
        .can_fast_zero = true, .can_flush = true, .can_fua = true,
        .can_multi_conn = true, .min_block = 1, .pref_block = 4096,
        .max_block = r->max_block, .description = "cdp receiver",
      };
      return 0;
    }
  }
  return -ENOENT;
}

static int
rx_list (void *opaque, struct nbd_export_list *l)
{
  struct receiver *r = opaque;
  int e = 0;

  for (size_t i = 0; e == 0 && i < r->t->disks.len; i++)
    e = nbd_export_list_add (l, r->t->disks.ptr[i].name, "cdp receiver");
  return e;
}

static int
rx_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
          struct nbd_extents *extents)
{
  struct rdisk *rd = handle;
  struct receiver *r = rd->r;
  uint64_t seq = journal_last_seq (r->j);
  struct point p = { .ix = r->ix, .jr = r->jr, .disk = rd->d->id,
                     .size = task_disk_size (rd->d), .seq = seq,
                     .base = &point_zero_base };

  indexer_wait (r, seq);
  return point_pread (&p, buf, offset, count, NULL);
}

/* A FLUSH, or a FUA write, once what it covers is durable. */
static void
request_flushed (void *opaque, int err)
{
  nbd_request_done (opaque, err);
}

/* Journal thread: the record of req is acknowledged (durable at RPO 0,
 * in the kernel's hands above), or failed. */
static void
rx_done (void *opaque, const struct journal_record *rec, int err)
{
  struct nbd_request *req = opaque;
  struct rdisk *rd = req->backend_data;
  struct receiver *r = rd->r;

  if (err == -ENOSPC && r->on_full && !r->stop) {
    /* Never fail a mirror write for want of space while old history can
     * still be reclaimed: QEMU would carry on with a hole in history. */
    pthread_mutex_lock (&r->stall_lock);
    err = req_vector_append (&r->stalled, req) == 0 ? 0 : -ENOSPC;
    pthread_mutex_unlock (&r->stall_lock);
    if (err == 0) {
      r->on_full (r->on_full_opaque);
      return;
    }
  }
  if (err == 0) {
    indexer_push (r, rec, NULL);
    atomic_fetch_add (&rd->writes, 1);
    atomic_fetch_add (&rd->bytes, rec->length);
    atomic_store (&rd->last_write_ns, rec->time_ns);
    /* FUA: durable before its reply, whatever the RPO. */
    if ((req->flags & NBD_CMD_FLAG_FUA) &&
        journal_durable_seq (r->j) < rec->seq) {
      err = journal_flush (r->j, request_flushed, req);
      if (err == 0)
        return;
    }
  }
  else
    log_msg ("task %s disk %s: write at %llu failed: %s", r->t->name,
             rd->d->name, (unsigned long long) req->offset, strerror (-err));
  nbd_request_done (req, err);
}

static uint16_t
journal_type_of (const struct nbd_request *req)
{
  return req->type == NBD_CMD_WRITE ? JOURNAL_WRITE
       : req->type == NBD_CMD_TRIM ? JOURNAL_TRIM : JOURNAL_WRITE_ZEROES;
}

void
rx_append (struct rdisk *rd, struct nbd_request *req, uint16_t type)
{
  struct journal_record e = {
    .type = type, .disk = rd->d->id, .offset = req->offset,
    .length = req->count,
    .payload_len = type == JOURNAL_WRITE ? req->count : 0,
  };
  int err;

  req->backend_data = rd;
  if (req->count == 0) {
    nbd_request_done (req, 0);
    return;
  }
  err = journal_append (rd->r->j, &e, req->data, rx_done, req);
  if (err < 0)
    nbd_request_done (req, err);
}

void
receiver_on_full (struct receiver *r, void (*fn) (void *), void *opaque)
{
  r->on_full_opaque = opaque;
  r->on_full = fn;
}

size_t
receiver_retry_stalled (struct receiver *r, int fail_with)
{
  req_vector v;
  size_t n;

  pthread_mutex_lock (&r->stall_lock);
  v = r->stalled;
  r->stalled = (req_vector) empty_vector;
  pthread_mutex_unlock (&r->stall_lock);
  for (size_t i = 0; i < v.len; i++) {
    struct nbd_request *req = v.ptr[i];
    if (fail_with) {
      struct rdisk *rd = req->backend_data;
      log_msg ("task %s disk %s: write at %llu failed: %s", r->t->name,
               rd->d->name, (unsigned long long) req->offset,
               strerror (-fail_with));
      nbd_request_done (req, fail_with);
    }
    else
      rx_append (req->backend_data, req, journal_type_of (req));
  }
  n = v.len;
  req_vector_reset (&v);
  return n;
}

static void
rx_dispatch (struct rdisk *rd, struct nbd_request *req, uint16_t type)
{
  if (req->count > 0 && copy_append (rd, req, type))
    return;
  copy_drained (rd);
  rx_append (rd, req, type);
}

static void rx_write (void *h, struct nbd_request *req) { rx_dispatch (h, req, JOURNAL_WRITE); }
static void rx_zero (void *h, struct nbd_request *req) { rx_dispatch (h, req, JOURNAL_WRITE_ZEROES); }
static void rx_trim (void *h, struct nbd_request *req) { rx_dispatch (h, req, JOURNAL_TRIM); }

/* Every write acknowledged before it durable, on every connection (the
 * journal is the task's): at RPO 0 that is so already. */
static void
rx_flush (void *h, struct nbd_request *req)
{
  struct rdisk *rd = h;
  int err = journal_flush (rd->r->j, request_flushed, req);

  if (err < 0)
    nbd_request_done (req, err);
}

static const struct nbd_backend_ops rx_ops = {
  .open = rx_open, .list = rx_list, .pread = rx_pread,
  .write = rx_write, .zero = rx_zero, .trim = rx_trim, .flush = rx_flush,
};

static void
rx_log (void *opaque, enum nbd_log_level level, const char *msg)
{
  struct receiver *r = opaque;

  if (level <= NBD_LOG_INFO)
    log_msg ("task %s: %s", r->t->name, msg);
}

/* ---- life cycle --------------------------------------------------------- */

static int
open_index (struct receiver *r)
{
  char *dir = task_path (r->t, "index");
  uint64_t s;
  int64_t n;
  int e;

  if (dir == NULL)
    return -ENOMEM;
  e = index_open (dir, &r->ix);

  if (e == -EIO || e == -EINVAL) {
    log_msg ("task %s: index damaged (%s): rebuilding from the journal",
             r->t->name, cdp_get_error ());
    index_remove (dir);
    e = index_open (dir, &r->ix);
  }
  free (dir);
  if (e < 0)
    return e;
  n = index_catch_up (r->ix, r->jr);
  if (n < 0)
    return (int) n;
  if (n > 0)
    log_msg ("task %s: index caught up %lld records from the journal",
             r->t->name, (long long) n);
  /* Durable, all of it: the journal was recovered before. */
  r->indexed = index_last_seq (r->ix);
  if (r->indexed > 0 && index_seq_at (r->ix, INT64_MAX, &s, &r->indexed_ns) < 0)
    r->indexed_ns = 0;
  return 0;
}

/* A socket file nobody listens on any more (a killed serve left it):
 * remove it.  A live one is left alone, and listening then fails. */
static void
remove_stale_socket (const char *addr)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  struct stat st;
  int fd;

  if (strncmp (addr, "unix:", 5) != 0 || strlen (addr + 5) >= sizeof sa.sun_path ||
      stat (addr + 5, &st) < 0 || !S_ISSOCK (st.st_mode))
    return;
  strcpy (sa.sun_path, addr + 5);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return;
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0 && errno == ECONNREFUSED)
    unlink (addr + 5);
  close (fd);
}

/* Where QEMU reaches the receiver: the address given at task creation
 * (manual mode, or a libvirt task whose hypervisor is elsewhere), else a
 * unix socket in the task, in the directory the task's driver places it
 * (hv.h socket_dir): run/receiver.sock (QMP mode: QEMU runs as root or
 * as whoever runs cdp), qemu/receiver.sock (libvirt mode: a directory
 * of its own, which receiver_grant opens to QEMU's user). */
static int
start_listening (struct receiver *r)
{
  char *dir = task_path (r->t, hv_of (r->t)->socket_dir);
  char *addr = NULL;
  int e;

  if (r->t->listen)
    addr = strdup (r->t->listen);
  else if (dir) {
    mkdir_p (dir, 0700);
    r->sock = path_join (dir, "receiver.sock");
    if (r->sock) {
      unlink (r->sock);
      if (asprintf (&addr, "unix:%s", r->sock) < 0)
        addr = NULL;
    }
  }
  free (dir);
  if (addr == NULL)
    return -ENOMEM;
  if (r->sock == NULL && strncmp (addr, "unix:", 5) == 0 &&
      (r->sock = strdup (addr + 5)) == NULL) {
    free (addr);
    return -ENOMEM;
  }
  remove_stale_socket (addr);
  e = nbd_server_new (&rx_ops, r, &r->srv);
  if (e == 0) {
    nbd_server_set_log (r->srv, rx_log, r);
    /* TLS and the bound on clients; it says what is wrong itself. */
    if (listen_apply (r->srv, addr, &r->t->lo) != 0)
      e = -ECANCELED;
  }
  if (e == 0)
    e = nbd_server_listen (r->srv, addr, NULL);
  free (addr);
  return e;
}

int
receiver_grant (struct receiver *r, uid_t uid, gid_t gid, char *why,
                size_t len)
{
  if (r->sock == NULL)
    return 0;
  return socket_grant (r->t->listen ? NULL : r->t->dir, r->sock, uid, gid,
                       why, len);
}

/* Segments of 256 MiB, smaller on a small file system (a 32nd of it, at
 * least 4 MiB) so that reclaiming frees space in useful steps. */
static uint32_t
segment_size_for (const struct task *t)
{
  struct statvfs sv;
  uint64_t fs, seg = 256u << 20;

  if (t->policy.segment_size)
    return t->policy.segment_size;
  if (statvfs (t->dir, &sv) == 0) {
    fs = (uint64_t) sv.f_blocks * sv.f_frsize;
    if (fs / 32 < seg)
      seg = fs / 32;
  }
  seg &= ~((1ull << 20) - 1);
  return seg < (4u << 20) ? 4u << 20 : (uint32_t) seg;
}

/* The largest request the receiver advertises (NBD_INFO_BLOCK_SIZE):
 * one NBD write is one journal record, so that no point ever holds
 * part of it, and a record must fit a segment.  At most an eighth of a
 * segment: a record that no longer fits at a segment's end starts the
 * next one, and the space it leaves behind stays under an eighth.
 * A power of two, 32 MiB (what clients assume without the option) for
 * segments of 256 MiB and more, 512 KiB for the smallest of 4 MiB. */
static uint32_t
max_request_for (uint32_t segment_size)
{
  uint32_t max = 32u << 20;

  while (max > segment_size / 8)
    max /= 2;
  assert (max <= journal_record_limit (segment_size));
  return max;
}

/* The journal was written through the page cache when the host went
 * down: what it acknowledged after its last surviving record may be
 * lost.  Journal a gap from that record on every disk (durably: the
 * journal still writes with O_DIRECT here), then let the journal forget
 * the evidence.  No point after it is exact until a new copy of the
 * disk (modes with an initial copy, hv.h, make one when protection
 * starts). */
static int
rx_journal_lost_tail (struct receiver *r)
{
  int64_t since;
  char when[64];
  int e = 0;

  if (!journal_lost_tail (r->j, &since))
    return 0;
  format_time (since, when, sizeof when);
  log_msg ("task %s: the host went down while writes after %s were not "
           "yet durable (the task's RPO is above 0): they may be lost; no "
           "point after it is exact until the next copy of each disk",
           r->t->name, when);
  for (size_t i = 0; e == 0 && i < r->t->disks.len; i++) {
    e = receiver_event (r, JOURNAL_GAP, r->t->disks.ptr[i].id,
                        "host went down within the RPO", since);
    /* Manual mode has no copy to end the gap: its writer is told to
     * write again what it wrote since its last FLUSH reply, as after a
     * disk that lost its volatile cache (docs/OPERATOR.md), and points
     * are offered again from here. */
    if (e == 0 && !hv_of (r->t)->initial_copy)
      e = receiver_event (r, JOURNAL_RESUME, r->t->disks.ptr[i].id,
                          "writer resumes after the host went down", 0);
  }
  if (e == 0)
    journal_forget_lost_tail (r->j);
  return e;
}

int
receiver_set_rpo (struct receiver *r, int64_t rpo_ns)
{
  return journal_set_sync_interval (r->j, rpo_ns);
}

int64_t
receiver_durability_lag (struct receiver *r)
{
  int64_t t = journal_unsynced_since (r->j), now;

  if (t == 0)
    return 0;
  now = time_now_ns ();
  return now > t ? now - t : 0;
}

int
receiver_start (struct task *t, struct receiver **rp)
{
  struct receiver *r = calloc (1, sizeof *r);
  struct journal_options jo = { .create = true,
                                .segment_size = segment_size_for (t) };
  char *jdir = task_path (t, "journal");
  int e;

  r->t = t;
  r->max_block = max_request_for (jo.segment_size);
  pthread_mutex_init (&r->lock, NULL);
  pthread_mutex_init (&r->stall_lock, NULL);
  {
    pthread_condattr_t ca;
    pthread_condattr_init (&ca);
    pthread_condattr_setclock (&ca, CLOCK_MONOTONIC);
    pthread_cond_init (&r->cond, &ca);
    pthread_condattr_destroy (&ca);
  }
  r->disks = calloc (t->disks.len, sizeof *r->disks);
  for (size_t i = 0; i < t->disks.len; i++) {
    r->disks[i].r = r;
    r->disks[i].d = &t->disks.ptr[i];
  }
  e = -ENOMEM;
  if (jdir == NULL)
    fail ("task %s: %s", t->name, strerror (ENOMEM));
  else if ((e = journal_open (jdir, &jo, &r->j)) < 0)
    fail ("task %s: cannot open journal %s: %s%s%s", t->name, jdir,
          strerror (-e), *cdp_get_error () ? ": " : "",
          cdp_get_error ());
  if (e == 0) {
    atomic_store (&r->durable, journal_durable_seq (r->j));
    journal_set_durable_cb (r->j, durable_advanced, r);
  }
  if (e == 0 && (e = journal_reader_open (jdir, &r->jr)) < 0)
    fail ("task %s: cannot read journal: %s", t->name, strerror (-e));
  free (jdir);
  if (e == 0 && (e = open_index (r)) < 0)
    fail ("task %s: cannot open index: %s", t->name, e == -EPROTONOSUPPORT
          ? cdp_get_error () : strerror (-e));
  if (e == 0 && (e = -pthread_create (&r->ixthread, NULL, indexer, r)) < 0)
    fail ("task %s: cannot start indexer", t->name);
  if (e == 0 && (e = rx_journal_lost_tail (r)) < 0)
    fail ("task %s: cannot journal the loss of the journal's tail: %s",
          t->name, strerror (-e));
  if (e == 0)
    e = receiver_set_rpo (r, t->policy.rpo);
  if (e == 0 && (e = start_listening (r)) < 0 && e != -ECANCELED)
    fail ("task %s: cannot listen on %s: %s", t->name,
          t->listen ? t->listen : r->sock ? r->sock : "its socket",
          strerror (-e));
  if (e < 0) {
    receiver_stop (r);
    return e;
  }
  *rp = r;
  return 0;
}

struct event_wait {
  pthread_mutex_t m;
  pthread_cond_t c;
  struct receiver *r;
  const char *label;
  bool done;
  int err;
  uint64_t seq;
};

static void
event_done (void *opaque, const struct journal_record *rec, int err)
{
  struct event_wait *w = opaque;

  if (err == 0)
    indexer_push (w->r, rec, w->label);
  pthread_mutex_lock (&w->m);
  w->done = true;
  w->err = err;
  w->seq = rec->seq;
  pthread_cond_signal (&w->c);
  pthread_mutex_unlock (&w->m);
}

int
receiver_append_wait (struct receiver *r, struct journal_record *e,
                      const void *payload, const char *label)
{
  struct event_wait w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                          r, label, false, 0, 0 };
  int err = journal_append (r->j, e, payload, event_done, &w);

  if (err < 0)
    return err;
  pthread_mutex_lock (&w.m);
  while (!w.done)
    pthread_cond_wait (&w.c, &w.m);
  pthread_mutex_unlock (&w.m);
  e->seq = w.seq;
  return w.err;
}

int
receiver_event (struct receiver *r, uint16_t type, uint32_t disk,
                const char *label, int64_t since_ns)
{
  struct journal_record e = { .type = type, .disk = disk,
                              .offset = since_ns > 0 ? (uint64_t) since_ns : 0,
                              .payload_len = label ? strlen (label) : 0 };
  int err = receiver_append_wait (r, &e, label, label);

  if (err == 0)
    indexer_wait (r, journal_last_seq (r->j));
  return err;
}

int
receiver_resized (struct receiver *r, uint32_t disk, uint64_t old_size,
                  uint64_t size, uint64_t *seq)
{
  uint64_t off = size;
  int err = 0;

  /* One record per request: the cut in pieces of the largest request. */
  while (err == 0 && off < old_size) {
    uint64_t n = old_size - off < r->max_block ? old_size - off : r->max_block;
    struct journal_record e = { .type = JOURNAL_TRIM, .disk = disk,
                                .offset = off, .length = n };
    err = receiver_append_wait (r, &e, NULL, NULL);
    off += n;
  }
  if (err == 0)
    indexer_wait (r, journal_last_seq (r->j));
  *seq = journal_last_seq (r->j) + 1;
  return err;
}

void
receiver_index_current (struct receiver *r)
{
  /* Until the indexer has tried, not until it succeeded: with the store
   * full the index cannot grow, and the caller is who frees space.
   * Durable records only, those the index may hold: the rest wait for
   * the journal's next sync, which this must not bring forward (the
   * maintenance cycle runs four times a second: any RPO would be a
   * quarter of a second, at a sync each time). */
  uint64_t target = atomic_load (&r->durable);

  /* What was durable when asked: under a steady writer the queue never
   * empties, and waiting for it would hold the caller for as long. */
  pthread_mutex_lock (&r->lock);
  while ((r->queue.len > 0 && r->queue.ptr[0].seq <= target) || r->indexing)
    indexer_wait_durable_locked (r);
  pthread_mutex_unlock (&r->lock);
}

void
receiver_durable_end (struct receiver *r, uint64_t *seq, int64_t *t)
{
  pthread_mutex_lock (&r->lock);
  *seq = r->indexed;
  *t = r->indexed_ns;
  pthread_mutex_unlock (&r->lock);
}

int64_t
receiver_open_end (struct receiver *r, uint32_t disk)
{
  uint64_t seq = index_last_seq (r->ix), s;
  int64_t t = 0;
  bool faithful = false;

  if (seq == 0 || index_faithful (r->ix, disk, seq, INT64_MAX, &faithful) < 0 ||
      !faithful || index_seq_at (r->ix, INT64_MAX, &s, &t) < 0)
    return 0;
  return t;
}

const char *
receiver_socket (struct receiver *r)
{
  return r->sock;
}

struct journal *
receiver_journal (struct receiver *r)
{
  return r->j;
}

struct cdp_index *
receiver_index (struct receiver *r)
{
  return r->ix;
}

void
receiver_reclaimed (struct receiver *r)
{
  journal_reader_refresh (r->jr);
}

void
receiver_stats (struct receiver *r, uint32_t disk, uint64_t *writes,
                uint64_t *bytes, int64_t *last_write_ns)
{
  for (size_t i = 0; i < r->t->disks.len; i++)
    if (r->disks[i].d->id == disk) {
      *writes = atomic_load (&r->disks[i].writes);
      *bytes = atomic_load (&r->disks[i].bytes);
      *last_write_ns = atomic_load (&r->disks[i].last_write_ns);
    }
}

void
receiver_stop (struct receiver *r)
{
  if (r == NULL)
    return;
  r->on_full = NULL;
  receiver_retry_stalled (r, -ESHUTDOWN);
  if (r->srv)
    nbd_server_free (r->srv);       /* answers what is in flight */
  if (r->j)
    journal_close (r->j);           /* drains: every callback has run */
  pthread_mutex_lock (&r->lock);
  r->stop = true;
  pthread_cond_broadcast (&r->cond);
  pthread_mutex_unlock (&r->lock);
  if (r->ixthread)
    pthread_join (r->ixthread, NULL);
  index_close (r->ix);
  journal_reader_close (r->jr);
  rec_vector_reset (&r->queue);
  string_vector_reset (&r->labels);
  copy_free (r);
  if (r->sock && r->t->listen == NULL)
    unlink (r->sock);
  free (r->sock);
  free (r->disks);
  free (r);
}
