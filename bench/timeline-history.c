/* timeline-history: give a task a synthetic history (bench/timeline.sh).
 *
 *   timeline-history STORE TASK [HOURS [WRITES_PER_SECOND]]
 *
 * Writes the task's journal as cdp's own format (journal/internal.h:
 * segment headers, records with their CRC32C, batches padded to their
 * alignment) with times from HOURS (default 24) ago up to now: WRITES
 * 512-byte writes (default 2) in every second, a gap of 5 minutes at
 * 40% of the span (gap, then resume), 6 bookmarks; base points every 20
 * minutes in base/catalog.json (catalog entries only: `cdp points` reads
 * no image); 3 locks (a second point, a bookmark, a base point).  Then
 * the index is built from the journal as any reader builds it (catch-up).
 * The task must exist (cdp task create) and have no history yet.
 */
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
#define SEG_BYTES (64u << 20)
#define ALIGN 512u
#define WRITE_LEN 512u

struct gen {
  const struct task *t;
  uint32_t disk;
  int dirfd;
  int fd;                       /* current segment */
  uint64_t segment;
  uint32_t pos;                 /* its tail */
  uint64_t seq;                 /* the next record's */
  int64_t last_time;
  uint8_t *buf;                 /* one batch */
  uint32_t blen;
  uint32_t bstart;              /* the batch's offset in the segment */
  uint8_t uuid[16];
};

static void
die (const char *what, int e)
{
  fprintf (stderr, "timeline-history: %s: %s\n", what, strerror (e));
  exit (1);
}

static void
seg_start (struct gen *g)
{
  struct seg_hdr h = { 0 };
  uint8_t page[SEG_HDR_SIZE] = { 0 };
  char name[64];

  h.segment = g->segment + 1;
  memcpy (h.uuid, g->uuid, 16);
  h.first_seq = g->seq;
  h.prev_segment = g->segment;
  h.prev_end = g->segment ? g->pos : 0;
  h.align = ALIGN;
  h.size = SEG_BYTES;
  h.inflight = 2;
  h.created_ns = g->last_time;
  h.prev_last_time = g->last_time;
  seg_hdr_seal (&h);
  memcpy (page, &h, sizeof h);
  if (g->fd >= 0 && (fsync (g->fd) < 0 || close (g->fd) < 0))
    die ("segment", errno);
  g->segment++;
  snprintf (name, sizeof name, "seg-%016llx.cdpj", (unsigned long long) g->segment);
  g->fd = openat (g->dirfd, name, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (g->fd < 0 || pwrite (g->fd, page, sizeof page, 0) != sizeof page)
    die (name, errno);
  g->pos = SEG_HDR_SIZE;
}

/* Pad the batch to the alignment and write it. */
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
  if (pwrite (g->fd, g->buf, padded, g->pos) != (ssize_t) padded)
    die ("journal write", errno ? errno : EIO);
  g->pos += padded;
  g->blen = 0;
}

/* One record into the batch; returns its seq. */
static uint64_t
record (struct gen *g, uint16_t type, int64_t time, uint64_t off,
        uint64_t len, const void *payload, uint32_t plen)
{
  uint32_t size = rec_disk_size (plen);
  struct rec_hdr *h;

  if (g->blen == 0 && g->pos + size + ALIGN > SEG_BYTES) {
    if (fsync (g->fd) < 0)
      die ("journal fsync", errno);
    seg_start (g);
  }
  if (g->blen == 0)
    g->bstart = g->pos;
  h = (struct rec_hdr *) (g->buf + g->blen);
  memset (h, 0, size);
  memcpy ((uint8_t *) h + REC_HDR_SIZE, payload, plen);
  h->magic = REC_MAGIC;
  h->segment = g->segment;
  h->seq = g->seq++;
  h->time_ns = time;
  h->type = type;
  h->disk = g->disk;
  h->offset = off;
  h->length = len;
  h->payload_len = plen;
  h->batch_start = g->bstart;
  h->crc = rec_crc (h, plen ? crc32c (payload, plen) : 0);
  g->blen += size;
  g->last_time = time;
  return h->seq;
}

static uint64_t
event (struct gen *g, uint16_t type, int64_t time, const char *label)
{
  uint64_t seq = record (g, type, time, 0, 0, label, (uint32_t) strlen (label));

  batch_end (g);
  return seq;
}

static void
add_base (struct base_catalog *cat, uint32_t disk, uint64_t seq, int64_t t)
{
  struct base_point bp = { .disk = disk, .seq = seq, .time_ns = t, .depth = 1 };
  int e;

  snprintf (bp.file, sizeof bp.file, "d%u-%llu.qcow2", disk, (unsigned long long) seq);
  if ((e = catalog_add (cat, &bp)) < 0)
    die ("catalog", -e);
}

int
main (int argc, char **argv)
{
  struct gen g = { .fd = -1, .seq = 1, .uuid = "timeline-bench!" };
  struct base_catalog cat = { 0 };
  struct task *t;
  struct task_view v;
  int hours = argc > 3 ? atoi (argv[3]) : 24;
  int writes = argc > 4 ? atoi (argv[4]) : 2;
  int64_t now = time_now_ns (), t0, span, gap_at, gap_end;
  uint64_t seq = 0, lock_second = 0;
  int64_t lock_second_t = 0, mark_t[6] = { 0 }, seq_t = 0;
  uint64_t mark_seq[6] = { 0 };
  uint8_t data[WRITE_LEN];
  char *dir;
  int e, nmark = 0;

  if (argc < 3 || hours < 1 || writes < 1 || writes > 1000) {
    fprintf (stderr, "usage: timeline-history STORE TASK [HOURS [WRITES_PER_SECOND]]\n");
    return 2;
  }
  if ((e = task_load (argv[1], argv[2], &t)) < 0)
    die (argv[2], -e);
  g.t = t;
  g.disk = t->disks.ptr[0].id;
  span = (int64_t) hours * 3600;
  t0 = (now / NS - span) * NS;
  gap_at = span * 2 / 5;
  gap_end = gap_at + 300;
  if ((dir = task_path (t, "journal")) == NULL || mkdir (dir, 0700) < 0 ||
      (g.dirfd = open (dir, O_RDONLY | O_DIRECTORY)) < 0)
    die ("journal directory", errno);
  free (dir);
  if ((g.buf = malloc (1 << 20)) == NULL)
    die ("memory", ENOMEM);
  memset (data, 0x5a, sizeof data);
  seg_start (&g);
  if ((dir = task_path (t, "base")) == NULL ||
      (e = catalog_load (dir, false, &cat)) < 0)
    die ("base/catalog.json", dir ? -e : ENOMEM);
  free (dir);

  /* Protection starts: the initial copy is the first base point. */
  event (&g, JOURNAL_GAP, t0, "protection starting: initial copy");
  seq = event (&g, JOURNAL_RESUME, t0 + 1000, "");
  add_base (&cat, g.disk, seq, t0 + 1000);
  for (int64_t s = 1; s < span; s++) {
    int64_t base = t0 + s * NS;
    if (s == gap_at)
      event (&g, JOURNAL_GAP, base, "cdp serve did not stop cleanly");
    if (s == gap_end)
      event (&g, JOURNAL_RESUME, base, "");
    for (int k = 0; k < writes; k++) {
      uint64_t off = (uint64_t) ((s * 7919 + k * 104729) % 2000000) * WRITE_LEN;
      seq = record (&g, JOURNAL_WRITE, base + 1000 + k * (NS / writes - 1000) / writes,
                    off, WRITE_LEN, data, WRITE_LEN);
      seq_t = g.last_time;
    }
    batch_end (&g);
    if (s == span / 3) {
      lock_second = seq;
      lock_second_t = base + NS - 1;
    }
    if (s % (span / 6) == span / 12 && nmark < 6) {
      char label[32];
      snprintf (label, sizeof label, "mark-%d", nmark);
      mark_t[nmark] = base + NS / 2;
      mark_seq[nmark++] = event (&g, JOURNAL_BOOKMARK, base + NS / 2, label);
    }
    if (s % 1200 == 0)
      add_base (&cat, g.disk, seq, seq_t);
  }
  if (fsync (g.fd) < 0 || close (g.fd) < 0 || fsync (g.dirfd) < 0)
    die ("journal", errno);
  close (g.dirfd);
  if ((e = catalog_save (&cat)) < 0)
    die ("base/catalog.json", -e);
  /* In a short history two of them may be one point: locked once. */
  if ((e = locks_change (t, lock_second, lock_second_t, true)) < 0 ||
      ((e = locks_change (t, mark_seq[1], mark_t[1], true)) < 0 &&
       e != -EEXIST) ||
      ((e = locks_change (t, cat.v.ptr[cat.v.len / 2].seq,
                          cat.v.ptr[cat.v.len / 2].time_ns, true)) < 0 &&
       e != -EEXIST))
    die ("locks.json", -e);
  catalog_free (&cat);
  free (g.buf);
  /* The index, as the first reader makes it. */
  if (view_open (argv[1], argv[2], &v) != 0)
    return 1;
  printf ("%llu records, %d hours, %d writes a second\n",
          (unsigned long long) (g.seq - 1), hours, writes);
  view_close (&v);
  task_free (t);
  return 0;
}
