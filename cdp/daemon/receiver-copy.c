/* cdp: the receiver during a job's initial copy — journal only what
 * differs.
 *
 * While a disk's job makes its initial copy (protect_starting until
 * protect_ready), what arrives is the whole disk again, not history: a
 * VM that restarts, or a serve that restarts, gets a new job and a new
 * full copy.  Each write of the copy is compared, in 4 KiB blocks, with
 * the disk as the journal already holds it (the point at the last
 * indexed seq, on its newest base point), and only the blocks that
 * differ are journaled.
 *
 * Zeroes are not journaled as they come: QEMU's mirror first zeroes the
 * whole target when the target can unmap (QMP mode opens it so), then
 * copies the data over it, and journaling both would store every data
 * block twice.  A zeroed range is remembered instead; a later write of
 * the copy takes its range out again; what is left when the job is
 * READY is compared with the disk and journaled where it is not zero
 * already, before the RESUME record.  The point after the copy is the
 * same as if everything had been journaled in order.
 *
 * Order: copy requests take tickets under r->lock; a request waits
 * until every earlier one that overlaps it is durable and indexed, so
 * that it compares with what they left.  A write that follows the copy
 * (normal path) waits until no copy request is in flight.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/daemon/receiver-internal.h"
#include "recovery/history/fold.h"

#define COPY_BLOCK 4096u
#define FLUSH_CHUNK (4u << 20)

/* ---- range sets ----------------------------------------------------------- */

/* Add [off, end) to the sorted, disjoint set v. */
static void
runs_add (run_vector *v, uint64_t off, uint64_t end)
{
  size_t i = 0, k;

  while (i < v->len && v->ptr[i].end < off)
    i++;
  k = i;
  while (k < v->len && v->ptr[k].off <= end) {
    off = v->ptr[k].off < off ? v->ptr[k].off : off;
    end = v->ptr[k].end > end ? v->ptr[k].end : end;
    k++;
  }
  if (k == i) {
    if (run_vector_append (v, (struct run) { off, end }) < 0)
      return;
    memmove (&v->ptr[i + 1], &v->ptr[i], (v->len - 1 - i) * sizeof v->ptr[0]);
  }
  else {
    memmove (&v->ptr[i + 1], &v->ptr[k], (v->len - k) * sizeof v->ptr[0]);
    v->len -= k - i - 1;
  }
  v->ptr[i] = (struct run) { off, end };
}

/* Take [off, end) out of the set v. */
static void
runs_sub (run_vector *v, uint64_t off, uint64_t end)
{
  for (size_t i = 0; i < v->len; i++) {
    struct run x = v->ptr[i];
    if (x.end <= off || x.off >= end)
      continue;
    if (x.off < off && x.end > end) {            /* split in two */
      v->ptr[i].end = off;
      runs_add (v, end, x.end);
      return;
    }
    if (x.off < off)
      v->ptr[i].end = off;
    else if (x.end > end)
      v->ptr[i].off = end;
    else {
      run_vector_remove (v, i);
      i--;
    }
  }
}

/* ---- ordering --------------------------------------------------------------- */

/* Under r->lock: give b a ticket and count it in flight. */
static bool
busy_register (struct receiver *r, struct rdisk *rd, struct busy *b)
{
  for (size_t i = 0; i < r->busy.len;) {
    struct busy *x = r->busy.ptr[i];
    if (x->done && x->seq <= r->indexed) {
      busy_vector_remove (&r->busy, i);
      free (x);
    }
    else
      i++;
  }
  b->disk = rd->d->id;
  b->ticket = ++r->tickets;
  if (busy_vector_append (&r->busy, b) < 0)
    return false;
  atomic_fetch_add (&rd->copy_pending, 1);
  return true;
}

/* Under r->lock: wait for the earlier requests that overlap b; returns
 * the seq to compare at (all of them are indexed by then). */
static uint64_t
busy_wait (struct receiver *r, const struct busy *b)
{
  bool wait = true;

  while (wait && !(r->stop && r->queue.len == 0)) {
    wait = false;
    for (size_t i = 0; i < r->busy.len && !wait; i++) {
      const struct busy *x = r->busy.ptr[i];
      wait = x->ticket < b->ticket && x->disk == b->disk &&
             x->off < b->end && b->off < x->end &&
             !(x->done && x->seq <= r->indexed);
    }
    if (wait)
      indexer_wait_locked (r);
  }
  return r->indexed;
}

static void
busy_leave (struct rdisk *rd, struct busy *b, uint64_t seq)
{
  struct receiver *r = rd->r;

  pthread_mutex_lock (&r->lock);
  b->seq = seq;
  b->done = true;
  atomic_fetch_sub (&rd->copy_pending, 1);
  pthread_cond_broadcast (&r->cond);
  pthread_mutex_unlock (&r->lock);
}

void
copy_drained (struct rdisk *rd)
{
  struct receiver *r = rd->r;

  if (atomic_load (&rd->copy_pending) == 0)
    return;
  pthread_mutex_lock (&r->lock);
  while (atomic_load (&rd->copy_pending) > 0 && !r->stop)
    pthread_cond_wait (&r->cond, &r->lock);
  pthread_mutex_unlock (&r->lock);
}

void
copy_free (struct receiver *r)
{
  for (size_t i = 0; i < r->busy.len; i++)
    free (r->busy.ptr[i]);
  busy_vector_reset (&r->busy);
  for (size_t i = 0; i < r->t->disks.len; i++)
    run_vector_reset (&r->disks[i].deferred);
}

/* ---- comparing -------------------------------------------------------------- */

/* Reading the disk as journaled failed: the copy is journaled whole
 * there, never compared with bad bytes.  Damage is recorded; the log
 * says so once. */
static void
read_failed (struct rdisk *rd, int e, const struct base_catalog *cat)
{
  struct receiver *r = rd->r;
  char msg[512];

  if (e == -EUCLEAN &&
      integrity_read_failed (r->t, cat, "serve", msg, sizeof msg)) {
    if (!atomic_exchange (&rd->copy_read_failed, true))
      log_msg ("task %s disk %s: %s; the copy is journaled whole where it "
               "reads damaged history", r->t->name, rd->d->name, msg);
  }
  else if (!atomic_exchange (&rd->copy_read_failed, true))
    log_msg ("task %s disk %s: cannot read the disk as journaled (%s): the "
             "copy is journaled whole", r->t->name, rd->d->name, strerror (-e));
}

/* The disk as the journal holds it at seq: [off, off+len) into buf. */
static int
read_current (struct rdisk *rd, uint64_t seq, void *buf, uint64_t off,
              uint64_t len)
{
  struct receiver *r = rd->r;
  struct base_catalog cat;
  struct point p;
  char *dir = task_path (r->t, "base");
  int e = dir ? catalog_load (dir, false, &cat) : -ENOMEM;

  free (dir);
  if (e == 0) {
    /* A disk grown since seq reads as zero past the size it had. */
    uint64_t size = task_disk_size_at (rd->d, seq);
    uint64_t n = off >= size ? 0 : len < size - off ? len : size - off;
    memset ((uint8_t *) buf + n, 0, len - n);
    e = point_open (r->ix, r->jr, &cat, rd->d->id, size, seq, &p);
    if (e == 0) {
      e = n > 0 ? point_pread (&p, buf, off, n, NULL) : 0;
      point_close (&p);
    }
    if (e < 0)
      read_failed (rd, e, &cat);
    catalog_free (&cat);
  }
  else
    read_failed (rd, e, NULL);
  return e;
}

static bool
all_zero (const uint8_t *p, size_t n)
{
  return n == 0 || (p[0] == 0 && memcmp (p, p + 1, n - 1) == 0);
}

/* The runs of 4 KiB blocks (at absolute boundaries) of [off, off+len)
 * where what came (data, or zeroes when data is NULL) differs from the
 * disk at seq; all of it if the disk cannot be read. */
static void
diff_runs (struct rdisk *rd, uint64_t seq, const uint8_t *data, uint64_t off,
           uint64_t len, run_vector *runs)
{
  uint8_t *cur = malloc (len);
  uint64_t pos = off, end = off + len;
  bool open = false;

  if (cur == NULL || read_current (rd, seq, cur, off, len) < 0) {
    free (cur);
    run_vector_append (runs, (struct run) { off, end });
    return;
  }
  while (pos < end) {
    uint64_t bend = (pos / COPY_BLOCK + 1) * COPY_BLOCK;
    size_t at = pos - off;
    bool diff;
    if (bend > end)
      bend = end;
    diff = data ? memcmp (data + at, cur + at, bend - pos) != 0
                : !all_zero (cur + at, bend - pos);
    if (diff && open)
      runs->ptr[runs->len - 1].end = bend;
    else if (diff)
      open = run_vector_append (runs, (struct run) { pos, bend }) == 0;
    else
      open = false;
    pos = bend;
  }
  free (cur);
}

/* ---- writes of the copy ------------------------------------------------------- */

struct copy_req {
  struct nbd_request *req;
  struct rdisk *rd;
  struct busy *busy;
  atomic_int parts;                 /* appended parts not yet done, +1 */
  atomic_int err;
  _Atomic uint64_t seq;
};

static void
copy_finish (struct copy_req *c)
{
  int err = atomic_load (&c->err);

  busy_leave (c->rd, c->busy, atomic_load (&c->seq));
  if (err)
    log_msg ("task %s disk %s: copy write at %llu failed: %s",
             c->rd->r->t->name, c->rd->d->name,
             (unsigned long long) c->req->offset, strerror (-err));
  nbd_request_done (c->req, err);
  free (c);
}

static void
count_kept (struct rdisk *rd, const struct journal_record *rec)
{
  atomic_fetch_add (&rd->writes, 1);
  atomic_fetch_add (&rd->bytes, rec->length);
  atomic_fetch_add (&rd->copy_kept, rec->length);
  atomic_store (&rd->last_write_ns, rec->time_ns);
}

static void
copy_part_done (void *opaque, const struct journal_record *rec, int err)
{
  struct copy_req *c = opaque;

  if (err == 0) {
    indexer_push (c->rd->r, rec, NULL);
    count_kept (c->rd, rec);
    if (rec->seq > atomic_load (&c->seq))
      atomic_store (&c->seq, rec->seq);
  }
  else
    atomic_store (&c->err, err);
  if (atomic_fetch_sub (&c->parts, 1) == 1)
    copy_finish (c);
}

static void
copy_journal (struct copy_req *c, const run_vector *runs)
{
  const struct nbd_request *req = c->req;

  atomic_init (&c->parts, (int) runs->len + 1);
  for (size_t i = 0; i < runs->len; i++) {
    uint64_t len = runs->ptr[i].end - runs->ptr[i].off;
    struct journal_record e = {
      .type = JOURNAL_WRITE, .disk = c->rd->d->id, .offset = runs->ptr[i].off,
      .length = len, .payload_len = len,
    };
    const uint8_t *data = (const uint8_t *) req->data
                          + (runs->ptr[i].off - req->offset);
    int err = journal_append (c->rd->r->j, &e, data, copy_part_done, c);
    if (err < 0) {
      atomic_store (&c->err, err);
      atomic_fetch_sub (&c->parts, 1);
    }
  }
  if (atomic_fetch_sub (&c->parts, 1) == 1)
    copy_finish (c);
}

bool
copy_append (struct rdisk *rd, struct nbd_request *req, uint16_t type)
{
  struct receiver *r = rd->r;
  struct copy_req *c;
  struct busy *b;
  run_vector runs = empty_vector;
  uint64_t seq;

  if (!atomic_load (&rd->copying_hint))
    return false;
  c = calloc (1, sizeof *c);
  b = calloc (1, sizeof *b);
  pthread_mutex_lock (&r->lock);
  if (!rd->copying || c == NULL || b == NULL) {
    pthread_mutex_unlock (&r->lock);
    free (c);
    free (b);
    return false;
  }
  atomic_fetch_add (&rd->copy_bytes, req->count);
  if (type != JOURNAL_WRITE) {      /* zeroes: remembered, see above */
    runs_add (&rd->deferred, req->offset, req->offset + req->count);
    pthread_mutex_unlock (&r->lock);
    free (c);
    free (b);
    nbd_request_done (req, 0);
    return true;
  }
  runs_sub (&rd->deferred, req->offset, req->offset + req->count);
  *b = (struct busy) { .off = req->offset, .end = req->offset + req->count };
  if (!busy_register (r, rd, b)) {
    pthread_mutex_unlock (&r->lock);
    free (c);
    free (b);
    rx_append (rd, req, type);      /* out of memory: keep it all */
    return true;
  }
  seq = busy_wait (r, b);
  pthread_mutex_unlock (&r->lock);
  *c = (struct copy_req) { .req = req, .rd = rd, .busy = b };
  req->backend_data = rd;
  diff_runs (rd, seq, req->data, req->offset, req->count, &runs);
  copy_journal (c, &runs);
  run_vector_reset (&runs);
  return true;
}

/* ---- the end of the copy ------------------------------------------------------- */

/* Journal zeroes where the disk is not zero already in [b->off, b->end). */
static void
flush_range (struct rdisk *rd, struct busy *b)
{
  struct receiver *r = rd->r;
  uint64_t seq, last = 0;

  pthread_mutex_lock (&r->lock);
  seq = busy_wait (r, b);
  pthread_mutex_unlock (&r->lock);
  for (uint64_t off = b->off; off < b->end; off += FLUSH_CHUNK) {
    uint64_t len = b->end - off < FLUSH_CHUNK ? b->end - off : FLUSH_CHUNK;
    run_vector runs = empty_vector;
    diff_runs (rd, seq, NULL, off, len, &runs);
    for (size_t i = 0; i < runs.len; i++) {
      struct journal_record e = {
        .type = JOURNAL_WRITE_ZEROES, .disk = rd->d->id,
        .offset = runs.ptr[i].off, .length = runs.ptr[i].end - runs.ptr[i].off };
      int err = receiver_append_wait (r, &e, NULL, NULL);
      if (err < 0)
        log_msg ("task %s disk %s: cannot journal zeroes of the copy: %s",
                 r->t->name, rd->d->name, strerror (-err));
      else {
        count_kept (rd, &e);
        last = e.seq;
      }
    }
    run_vector_reset (&runs);
  }
  busy_leave (rd, b, last);
}

/* Journal the zeroes left of the copy; returns with the copy over (no
 * zero left, copying off), r->lock not held. */
static void
copy_end (struct rdisk *rd)
{
  struct receiver *r = rd->r;

  for (;;) {
    run_vector todo;
    struct busy **bs;
    size_t n = 0;

    pthread_mutex_lock (&r->lock);
    if (rd->deferred.len == 0) {
      rd->copying = false;
      atomic_store (&rd->copying_hint, false);
      pthread_mutex_unlock (&r->lock);
      return;
    }
    todo = rd->deferred;
    rd->deferred = (run_vector) empty_vector;
    bs = calloc (todo.len, sizeof *bs);
    for (size_t i = 0; bs && i < todo.len; i++) {
      struct busy *b = calloc (1, sizeof *b);
      if (b == NULL)
        break;
      *b = (struct busy) { .off = todo.ptr[i].off, .end = todo.ptr[i].end };
      if (!busy_register (r, rd, b)) {
        free (b);
        break;
      }
      bs[n++] = b;
    }
    pthread_mutex_unlock (&r->lock);
    for (size_t i = 0; i < n; i++)
      flush_range (rd, bs[i]);
    if (n < todo.len)
      log_msg ("task %s disk %s: out of memory: %zu zeroed ranges of the "
               "copy dropped", r->t->name, rd->d->name, todo.len - n);
    free (bs);
    run_vector_reset (&todo);
  }
}

void
receiver_copying (struct receiver *r, uint32_t disk, bool on)
{
  for (size_t i = 0; i < r->t->disks.len; i++) {
    struct rdisk *rd = &r->disks[i];
    if (rd->d->id != disk)
      continue;
    if (!on) {
      copy_end (rd);
      continue;
    }
    /* Compare with everything acknowledged before. */
    indexer_wait (r, journal_last_seq (r->j));
    pthread_mutex_lock (&r->lock);
    rd->copying = true;
    atomic_store (&rd->copying_hint, true);
    pthread_mutex_unlock (&r->lock);
  }
}

void
receiver_copy_stats (struct receiver *r, uint32_t disk, uint64_t *received,
                     uint64_t *kept)
{
  for (size_t i = 0; i < r->t->disks.len; i++)
    if (r->disks[i].d->id == disk) {
      *received = atomic_load (&r->disks[i].copy_bytes);
      *kept = atomic_load (&r->disks[i].copy_kept);
    }
}
