/* view_seconds lists exactly the seconds for which view_resolve says
 * VIEW_POINT (what cdp points --bucket counts and what --at takes):
 * synthetic histories of two disks, written in the journal's own
 * format, with seconds where other records follow a disk's last write
 * (the other disk's, bookmarks), gaps journaled at once and after the
 * fact, resumes, base points, locks and bookmarks at the very end of a
 * second, and the index forgetting the oldest records as retention
 * does; over the whole history and over ranges. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "common/crc32c.h"
#include "common/timeutil.h"
#include "journal/internal.h"
#include "recovery/history/basepoint.h"

#define NS 1000000000LL
#define SECONDS 600
#define SEG_BYTES (8u << 20)
#define ALIGN 512u

/* ---- a journal written record by record --------------------------------- */

struct gen {
  int dirfd, fd;
  uint64_t segment, seq;
  uint32_t pos;
  int64_t last_time;
  uint8_t buf[1 << 16];
  uint32_t blen, bstart;
};

static void
seg_start (struct gen *g)
{
  uint8_t page[SEG_HDR_SIZE] = { 0 };
  struct seg_hdr h = { .segment = g->segment + 1, .first_seq = g->seq,
                       .prev_segment = g->segment,
                       .prev_end = g->segment ? g->pos : 0,
                       .align = ALIGN, .size = SEG_BYTES, .inflight = 2 };
  char name[64];

  memcpy (h.uuid, "view-seconds-uni", 16);
  seg_hdr_seal (&h);
  memcpy (page, &h, sizeof h);
  if (g->fd >= 0)
    cr_assert_eq (close (g->fd), 0);
  g->segment++;
  snprintf (name, sizeof name, "seg-%016llx.cdpj", (unsigned long long) g->segment);
  g->fd = openat (g->dirfd, name, O_WRONLY | O_CREAT | O_EXCL, 0600);
  cr_assert_geq (g->fd, 0);
  cr_assert_eq (pwrite (g->fd, page, sizeof page, 0), (ssize_t) sizeof page);
  g->pos = SEG_HDR_SIZE;
}

static void
batch_end (struct gen *g)
{
  uint32_t padded = (g->blen + ALIGN - 1) / ALIGN * ALIGN;

  if (g->blen == 0)
    return;
  if (padded > g->blen) {
    struct rec_hdr *h = (struct rec_hdr *) (g->buf + g->blen);
    memset (h, 0, padded - g->blen);
    h->magic = REC_MAGIC;
    h->segment = g->segment;
    h->type = REC_PAD;
    h->payload_len = padded - g->blen - REC_HDR_SIZE;
    h->batch_start = g->bstart;
    h->crc = rec_crc (h, 0);
  }
  cr_assert_eq (pwrite (g->fd, g->buf, padded, g->pos), (ssize_t) padded);
  g->pos += padded;
  g->blen = 0;
}

/* One record, its own batch; returns its seq. */
static uint64_t
record (struct gen *g, uint16_t type, uint32_t disk, int64_t time,
        uint64_t off, uint64_t len, const char *label)
{
  static const uint8_t data[512];
  const void *payload = type == JOURNAL_WRITE ? (const void *) data : label;
  uint32_t plen = type == JOURNAL_WRITE ? (uint32_t) len
    : label ? (uint32_t) strlen (label) : 0;
  uint32_t size = rec_disk_size (plen);
  struct rec_hdr *h = (struct rec_hdr *) g->buf;

  cr_assert (time >= g->last_time);
  if (g->pos + size + ALIGN > SEG_BYTES)
    seg_start (g);
  g->bstart = g->pos;
  memset (h, 0, size);
  memcpy (g->buf + REC_HDR_SIZE, payload, plen);
  *h = (struct rec_hdr) { .magic = REC_MAGIC, .segment = g->segment,
                          .seq = g->seq++, .time_ns = time, .type = type,
                          .disk = disk, .offset = off, .length = len,
                          .payload_len = plen, .batch_start = g->bstart };
  h->crc = rec_crc (h, plen ? crc32c (payload, plen) : 0);
  g->blen = size;
  g->last_time = time;
  batch_end (g);
  return h->seq;
}

/* ---- the history ---------------------------------------------------------- */

static char root[] = "/tmp/cdp-view-seconds-XXXXXX";
static char store[128];
static uint64_t forget_at;          /* a base point of a at a record of b */

static void
write_file (const char *path, const char *text)
{
  FILE *f = fopen (path, "w");

  cr_assert_not_null (f);
  fputs (text, f);
  cr_assert_eq (fclose (f), 0);
}

static void
base (struct base_catalog *cat, uint32_t disk, uint64_t seq, int64_t t)
{
  struct base_point bp = { .disk = disk, .seq = seq, .time_ns = t, .depth = 1 };

  snprintf (bp.file, sizeof bp.file, "d%u-%llu.qcow2", disk, (unsigned long long) seq);
  cr_assert_eq (catalog_add (cat, &bp), 0);
}

/* A history of SECONDS seconds ending a minute ago, from seed. */
static void
make_history (unsigned seed)
{
  struct gen g = { .fd = -1, .seq = 1 };
  struct base_catalog cat = { 0 };
  struct task *t;
  int64_t t0 = (time_now_ns () / NS - SECONDS - 60) * NS;
  uint64_t last[2] = { 0, 0 };
  int64_t last_t[2] = { 0, 0 };
  char path[256], json[1024];

  cr_assert_not_null (mkdtemp (root));
  snprintf (store, sizeof store, "%s/store", root);
  snprintf (path, sizeof path, "%s", store);
  cr_assert_eq (mkdir (path, 0700), 0);
  snprintf (path, sizeof path, "%s/tasks", store);
  cr_assert_eq (mkdir (path, 0700), 0);
  snprintf (path, sizeof path, "%s/tasks/v", store);
  cr_assert_eq (mkdir (path, 0700), 0);
  snprintf (path, sizeof path, "%s/tasks/v/task.json", store);
  snprintf (json, sizeof json,
            "{\"name\":\"v\",\"mode\":\"manual\",\"listen\":\"unix:%s/rx.sock\","
            "\"max_connections\":32,\"disks\":[{\"name\":\"a\",\"id\":0,"
            "\"size\":1048576},{\"name\":\"b\",\"id\":1,\"size\":1048576}],"
            "\"policy\":{\"bp_interval_ns\":60000000000,"
            "\"journal_retention_ns\":86400000000000,"
            "\"bp_retention_ns\":604800000000000,\"max_chain\":16,"
            "\"verify_interval_ns\":604800000000000,\"rpo_ns\":0},"
            "\"created_ns\":%lld,\"version\":1}", root, (long long) t0);
  write_file (path, json);
  cr_assert_eq (task_load (store, "v", &t), 0);
  snprintf (path, sizeof path, "%s/tasks/v/journal", store);
  cr_assert_eq (mkdir (path, 0700), 0);
  g.dirfd = open (path, O_RDONLY | O_DIRECTORY);
  cr_assert_geq (g.dirfd, 0);
  seg_start (&g);
  snprintf (path, sizeof path, "%s/tasks/v/base", store);
  cr_assert_eq (catalog_load (path, false, &cat), 0);

  srand (seed);
  for (uint32_t d = 0; d < 2; d++) {
    record (&g, JOURNAL_GAP, d, t0 + 20 * d, 0, 0, "protection starting: initial copy");
    last[d] = record (&g, JOURNAL_RESUME, d, t0 + 20 * d + 10, 0, 0, "");
    base (&cat, d, last[d], t0 + 20 * d + 10);
  }
  for (int s = 1; s < SECONDS; s++) {
    int64_t at = t0 + s * NS;
    int n = rand () % 5;
    /* Gaps of disk a: one journaled at once, one after the fact (it
     * names an instant 10 s back); disk b: a short one. */
    if (s == 150)
      record (&g, JOURNAL_GAP, 0, at, 0, 0, "gap");
    if (s == 330)
      record (&g, JOURNAL_RESUME, 0, at + 1, 0, 0, "");
    if (s == 300)
      record (&g, JOURNAL_GAP, 0, at, (uint64_t) (at - 10 * NS), 0, "late gap");
    if (s == 400)
      record (&g, JOURNAL_GAP, 1, at, 0, 0, "gap");
    if (s == 401)
      record (&g, JOURNAL_RESUME, 1, at + 1, 0, 0, "");
    for (int k = 0; k < n; k++) {
      uint32_t d = (uint32_t) (rand () % 2);
      int64_t wt = at + 1000 + k * (NS / 8);
      last[d] = record (&g, JOURNAL_WRITE, d, wt, (uint64_t) (rand () % 2048) * 512, 512, NULL);
      last_t[d] = wt;
    }
    /* Records after a disk's last write of a second decide its point:
     * a resume, and a base point of a at a record of b. */
    if (s == 170)
      record (&g, JOURNAL_RESUME, 0, at + NS - NS / 10, 0, 0, "");
    if (s == 100) {
      last[0] = record (&g, JOURNAL_WRITE, 0, at + NS - NS / 10, 0, 512, NULL);
      forget_at = record (&g, JOURNAL_WRITE, 1, at + NS - NS / 20, 0, 512, NULL);
      base (&cat, 0, forget_at, at + NS - NS / 20);
      last_t[0] = at + NS - NS / 10;
    }
    if (rand () % 40 == 0)
      record (&g, JOURNAL_BOOKMARK, (uint32_t) (rand () % 2), at + NS / 2 + 1, 0, 0, "m");
    if (rand () % 60 == 0)        /* a bookmark at the very end of a second */
      record (&g, JOURNAL_BOOKMARK, UINT32_MAX, at + NS - 1, 0, 0, "end");
    if (s % 45 == 0)
      for (uint32_t d = 0; d < 2; d++)
        if (last[d] && rand () % 3)
          base (&cat, d, last[d], last_t[d]);
    /* Locks at the end of a second, one of them inside a gap of a. */
    if (s == 160 || s == 200 || s == 420)
      cr_assert_eq (locks_change (t, last[0], at + NS - 1, true), 0);
    if (s == 250)                   /* a lock with a base point of its own */
      {
        cr_assert_eq (locks_change (t, last[1], at + NS / 3, true), 0);
        base (&cat, 1, last[1], at + NS / 3);
      }
  }
  cr_assert_eq (close (g.fd), 0);
  close (g.dirfd);
  cr_assert_eq (catalog_save (&cat), 0);
  catalog_free (&cat);
  task_free (t);
}

/* ---- the comparison ------------------------------------------------------- */

DEFINE_VECTOR_TYPE (i64_vector, int64_t)

static int
collect (void *opaque, int64_t t, uint64_t seq)
{
  return i64_vector_append (opaque, t);
}

struct brute {
  struct task_view *v;
  const struct task_disk *d;
  int64_t from, to, now;
  i64_vector *out;
};

static int
brute_cb (void *opaque, int64_t sec, uint64_t seq)
{
  struct brute *b = opaque;
  int64_t t = (sec + 1) * NS - 1;
  uint64_t at;
  int r;

  if (t < b->from || t > b->to || t > b->now)
    return 0;
  r = view_resolve (b->v, b->d, t, &at);
  cr_assert_geq (r, 0);
  return r == VIEW_POINT ? i64_vector_append (b->out, t) : 0;
}

/* view_seconds over [from, to] against view_resolve of every second;
 * the number of points. */
static size_t
compare (struct task_view *v, const struct task_disk *d, int64_t from,
         int64_t to)
{
  i64_vector fast = empty_vector, slow = empty_vector;
  int64_t now = time_now_ns ();
  struct brute b = { v, d, from, to, now, &slow };
  size_t n;

  cr_assert_eq (view_seconds (v, d, from, to, now, collect, &fast), 0);
  cr_assert_eq (index_seconds (v->ix, d->id, 0, INT64_MAX, brute_cb, &b), 0);
  for (size_t i = 0; i < fast.len && i < slow.len; i++)
    cr_assert_eq (fast.ptr[i], slow.ptr[i],
                  "disk %s: point %zu at %lld, view_resolve's at %lld",
                  d->name, i, (long long) fast.ptr[i], (long long) slow.ptr[i]);
  cr_assert_eq (fast.len, slow.len, "disk %s: %zu points, view_resolve %zu",
                d->name, fast.len, slow.len);
  n = fast.len;
  i64_vector_reset (&fast);
  i64_vector_reset (&slow);
  return n;
}

static void
compare_all (struct task_view *v, size_t *points)
{
  int64_t t0 = v->task->created_ns;

  for (size_t i = 0; i < v->task->disks.len; i++) {
    const struct task_disk *d = &v->task->disks.ptr[i];
    points[i] = compare (v, d, 0, INT64_MAX);
    compare (v, d, t0 + 140 * NS + NS / 2, t0 + 335 * NS);
    compare (v, d, t0 + 201 * NS - 1, t0 + 201 * NS - 1);
    compare (v, d, t0 + 250 * NS, t0 + 259 * NS - 2);
  }
}

static void
check_seed (unsigned seed)
{
  struct task_view v;
  size_t before[2], after[2];
  char cmd[256];

  make_history (seed);
  cr_assert_eq (view_open (store, "v", &v), 0);
  compare_all (&v, before);
  cr_assert_gt (before[0], 100);
  cr_assert_gt (before[1], 100);
  /* Retention: the index forgets what lies before a base point of a
   * (b's points then stand on no base until its next). */
  cr_assert_eq (index_forget (v.ix, forget_at), 0);
  compare_all (&v, after);
  cr_assert_lt (after[0], before[0]);
  cr_assert_lt (after[1], before[1]);
  view_close (&v);
  snprintf (cmd, sizeof cmd, "rm -rf %s", root);
  cr_assert_eq (system (cmd), 0);
  strcpy (root, "/tmp/cdp-view-seconds-XXXXXX");
}

Test (view_seconds, same_as_view_resolve)
{
  for (unsigned seed = 1; seed <= 4; seed++)
    check_seed (seed);
}
