/* cdp: checking what a task stores (cdp verify, and serve in the
 * background).
 *
 * Four checks, each reporting every problem it finds as a damage entry
 * (integrity.c) whose message says which points it affects:
 *
 *   journal   every record's CRC, in the range the check covers
 *             (journal_check), going on past damage;
 *   index     every extents and times entry against the record it names
 *             (same place, seq, type, disk, range), and every record of
 *             the range the index holds against its entries;
 *   catalog   every base point it names is a file, its parent is in the
 *             catalog, and the image's backing file is that parent;
 *   base      every base point image passes `qemu-img check`, and its
 *             data clusters match their CRC32C sums (basesum.c) where it
 *             has them.
 *
 * A check of one point covers the records of each disk's point after
 * its base point and the base points its chain reads; a check of the
 * task covers everything.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/task/verify.h"
#include "common/error.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"
#include "recovery/history/basesum.h"
#include "recovery/history/qcow2.h"
#include "recovery/history/qemu-tool.h"

#define MAX_REPORTS 20              /* of one kind; then a summary */
#define MAX_JRECS (1u << 20)        /* records held for the index check
                                       (56 MiB); past them it is partial */

/* A valid journal record, as the index must name it. */
struct jrec {
  uint64_t segment;
  uint32_t offset;
  uint16_t type;
  uint16_t state;                   /* 0 none, 1 valid, 2 damaged */
  uint32_t disk;
  uint32_t extents;                 /* extents entries naming it */
  uint32_t times;                   /* times entries naming it */
  uint64_t off, len;
  int64_t time_ns;
};
DEFINE_VECTOR_TYPE (jrec_vector, struct jrec)

struct vstate {
  const struct verify_source *src;
  const struct verify_opts *o;
  struct verify_result *res;
  jrec_vector recs;                 /* by seq - first */
  uint64_t first;                   /* seq of recs.ptr[0] */
  uint64_t from_seq, to_seq;        /* the journal range checked */
  bool partial;                     /* more records than MAX_JRECS */
  uint64_t read;                    /* records read so far (progress) */
  unsigned reports[4];              /* per kind: journal, index, catalog, base */
  unsigned dropped[4];
};

enum { K_JOURNAL, K_INDEX, K_CATALOG, K_BASE };
static const char *const kinds[] = { "journal", "index", "catalog", "base" };

static void
progress (const struct vstate *s, const char *phase, uint64_t done,
          int64_t total)
{
  if (s->o->progress)
    s->o->progress (s->o->progress_opaque, phase, done, total);
}

static bool
stopped (const struct vstate *s)
{
  return s->o->stop && atomic_load (s->o->stop);
}

/* Add a damage entry, or count it past MAX_REPORTS. */
static void
add_damage (struct vstate *s, int kind, json_object *entry)
{
  if (s->reports[kind]++ >= MAX_REPORTS) {
    s->dropped[kind]++;
    json_object_put (entry);
    return;
  }
  jf_append (s->res->damage, entry);
}

static void __attribute__ ((format (printf, 4, 5)))
damage (struct vstate *s, int kind, const char *where, const char *fmt, ...)
{
  char msg[768];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  add_damage (s, kind, integrity_entry (kinds[kind], where, msg,
                                        s->o->found_by));
}

static void __attribute__ ((format (printf, 2, 3)))
note (struct vstate *s, const char *fmt, ...)
{
  char msg[512];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  jf_append (s->res->notes, json_object_new_string (msg));
}

/* ---- journal ------------------------------------------------------------ */

static struct jrec *
jrec_at (struct vstate *s, uint64_t seq, bool grow)
{
  if (s->recs.len == 0 && grow)
    s->first = seq;
  if (seq < s->first)
    return NULL;
  while (grow && seq - s->first >= s->recs.len)
    if (jrec_vector_append (&s->recs, (struct jrec) { 0 }) < 0)
      return NULL;
  return seq - s->first < s->recs.len ? &s->recs.ptr[seq - s->first] : NULL;
}

static void
journal_damage_entry (struct vstate *s, const struct journal_damage *d)
{
  char msg[512], where[96], tb[64];

  if (!d->header_damaged) {
    add_damage (s, K_JOURNAL, integrity_journal_entry (s->src->t, s->src->cat,
                                                       d, s->o->found_by, msg,
                                                       sizeof msg));
    return;
  }
  snprintf (where, sizeof where, "segment %" PRIu64 " offset %" PRIu32,
            d->loc.segment, d->loc.offset);
  format_time (d->time_ns, tb, sizeof tb);
  damage (s, K_JOURNAL, where, "damaged journal at %s to offset %" PRIu32
          ": no record can be read there (record %" PRIu64 " was expected); "
          "points of every disk from %s on may read it", where, d->end,
          d->seq, tb);
}

static int
on_record (void *opaque, const struct journal_record *rec,
           const struct journal_damage *d)
{
  struct vstate *s = opaque;
  struct jrec *j;

  if (rec)
    progress (s, "journal", ++s->read, -1);
  if (d) {
    journal_damage_entry (s, d);
    if (!d->header_damaged && (j = jrec_at (s, d->seq, true)) != NULL)
      j->state = 2;
    return 0;
  }
  if (s->recs.len > 0 && rec->seq - s->first >= MAX_JRECS) {
    s->partial = true;              /* the journal is still checked */
    return 0;
  }
  j = jrec_at (s, rec->seq, true);
  if (j == NULL)
    return -ENOMEM;
  *j = (struct jrec) { .segment = rec->loc.segment, .offset = rec->loc.offset,
                       .type = rec->type, .state = 1, .disk = rec->disk,
                       .off = rec->offset, .len = rec->length,
                       .time_ns = rec->time_ns };
  return 0;
}

static int
check_journal (struct vstate *s)
{
  struct journal_check_opts jo = {
    .from_seq = s->from_seq, .to_seq = s->to_seq, .rate = s->o->rate,
    .stop = s->o->stop,
  };
  struct journal_check_stats st;
  int e;

  progress (s, "journal", 0, -1);
  e = journal_check (s->src->jr, &jo, on_record, s, &st);

  s->res->journal_segments = st.segments;
  s->res->journal_records = st.records;
  s->res->journal_bytes = st.bytes;
  return e;
}

/* ---- index -------------------------------------------------------------- */

static uint64_t
chunks_of (const struct jrec *j)
{
  if (j->len == 0)
    return 0;
  return (j->off + j->len - 1) / INDEX_CHUNK - j->off / INDEX_CHUNK + 1;
}

static bool
in_checked (const struct vstate *s, uint64_t seq)
{
  if (s->partial && (s->recs.len == 0 || seq >= s->first + s->recs.len))
    return false;
  return seq >= s->from_seq && (s->to_seq == 0 || seq <= s->to_seq);
}

static const char index_fix[] =
  "the index can be rebuilt from the journal: stop cdp serve, remove "
  "TASK/index, start it again";

static int
on_extent (void *opaque, const struct index_extent *x)
{
  struct vstate *s = opaque;
  struct jrec *j;
  char where[128];

  s->res->index_extents++;
  progress (s, "index", s->res->index_extents + s->res->index_times, -1);
  if (x->malformed) {
    damage (s, K_INDEX, "extents", "index: an extents entry of the wrong size; "
            "%s", index_fix);
    return 0;
  }
  if (!in_checked (s, x->seq))
    return 0;
  snprintf (where, sizeof where, "extents disk %" PRIu32 " chunk %" PRIu64
            " record %" PRIu64, x->disk, x->chunk, x->seq);
  j = jrec_at (s, x->seq, false);
  if (j && j->state == 2)
    return 0;                       /* the record's own damage says it */
  if (j == NULL || j->state == 0) {
    if (x->seq >= s->first)         /* older: reclaimed meanwhile */
      damage (s, K_INDEX, where, "index: %s names a record the journal does "
              "not hold; %s", where, index_fix);
    return 0;
  }
  j->extents++;
  if (j->segment != x->loc.segment || j->offset != x->loc.offset ||
      j->type != x->type || j->disk != x->disk || j->off != x->off ||
      j->len != x->len || x->chunk < j->off / INDEX_CHUNK ||
      x->chunk > (j->off + j->len - 1) / INDEX_CHUNK)
    damage (s, K_INDEX, where, "index: %s does not match the journal (it says "
            "segment %" PRIu64 " offset %" PRIu32 ", the record is at segment "
            "%" PRIu64 " offset %" PRIu32 "); points reading it read the wrong "
            "data; %s", where, x->loc.segment, x->loc.offset, j->segment,
            j->offset, index_fix);
  return 0;
}

static int
on_time (void *opaque, const struct index_time *x)
{
  struct vstate *s = opaque;
  struct jrec *j;
  char where[96];

  s->res->index_times++;
  progress (s, "index", s->res->index_extents + s->res->index_times, -1);
  if (x->malformed) {
    damage (s, K_INDEX, "times", "index: a times entry of the wrong size; %s",
            index_fix);
    return 0;
  }
  if (!in_checked (s, x->seq) || (j = jrec_at (s, x->seq, false)) == NULL ||
      j->state != 1)
    return 0;
  j->times++;
  snprintf (where, sizeof where, "times record %" PRIu64, x->seq);
  if (j->time_ns != x->time_ns || j->disk != x->disk || j->type != x->type)
    damage (s, K_INDEX, where, "index: the time of record %" PRIu64 " does not "
            "match the journal; points are resolved to the wrong records; %s",
            x->seq, index_fix);
  return 0;
}

static int
check_index (struct vstate *s)
{
  struct index_bounds b;
  uint64_t lo, hi;
  int e;

  progress (s, "index", 0, -1);
  e = index_walk (s->src->ix, on_extent, on_time, s, &b);

  if (e < 0)
    return e;
  /* Records the index should hold: from its first to its last seq. */
  lo = b.first_seq > s->first ? b.first_seq : s->first;
  hi = b.last_seq;
  for (uint64_t seq = lo; seq <= hi && seq - s->first < s->recs.len; seq++) {
    struct jrec *j = &s->recs.ptr[seq - s->first];
    char where[64];
    if (j->state != 1 || !in_checked (s, seq))
      continue;
    snprintf (where, sizeof where, "record %" PRIu64, seq);
    if ((j->type <= JOURNAL_TRIM && j->extents != chunks_of (j)) || j->times != 1)
      damage (s, K_INDEX, where, "index: record %" PRIu64 " of the journal "
              "(segment %" PRIu64 " offset %" PRIu32 ") is missing from it; "
              "points after it read older data there; %s", seq, j->segment,
              j->offset, index_fix);
  }
  if (s->partial)
    note (s, "the index was checked against the first %u records of the "
          "journal only (from record %" PRIu64 ")", MAX_JRECS, s->first);
  else if (b.last_seq && s->recs.len && b.last_seq > s->first + s->recs.len - 1 &&
           s->to_seq == 0)
    damage (s, K_INDEX, "last_seq", "index: it holds records up to %" PRIu64
            " but the journal ends at %" PRIu64 "; %s", b.last_seq,
            s->first + s->recs.len - 1, index_fix);
  return 0;
}

/* ---- catalog and base point images ---------------------------------------- */

/* The newest full base point of bp's disk after it, or NULL. */
static const struct base_point *
next_full (const struct base_catalog *cat, const struct base_point *bp)
{
  const struct base_point *best = NULL;

  for (size_t i = 0; i < cat->v.len; i++) {
    const struct base_point *x = &cat->v.ptr[i];
    if (x->disk == bp->disk && x->seq > bp->seq && x->depth == 1 &&
        (best == NULL || x->seq < best->seq))
      best = x;
  }
  return best;
}

void
verify_base_affects (const struct task *t, const struct base_catalog *cat,
                     const struct base_point *bp, char *buf, size_t len)
{
  const struct base_point *nf = next_full (cat, bp);
  const char *disk = "?";
  char from[64], to[64];

  for (size_t i = 0; i < t->disks.len; i++)
    if (t->disks.ptr[i].id == bp->disk)
      disk = t->disks.ptr[i].name;
  format_time (bp->time_ns, from, sizeof from);
  if (nf)
    format_time (nf->time_ns, to, sizeof to);
  snprintf (buf, len, "points of %s from %s %s%s that read base point %s",
            disk, from, nf ? "to before " : "on", nf ? to : "", bp->file);
}

/* The backing file name in the qcow2 header of path into name ("" if
 * none); 0, -EINVAL (not a qcow2 image), -errno. */
static int
backing_of (const char *path, char *name, size_t len)
{
  uint8_t h[20];
  uint64_t off = 0;
  uint32_t size = 0;
  int fd = open (path, O_RDONLY | O_CLOEXEC), e = 0;

  if (fd < 0)
    return -errno;
  if (pread (fd, h, sizeof h, 0) != (ssize_t) sizeof h ||
      memcmp (h, "QFI\xfb", 4) != 0)
    e = -EINVAL;
  for (int i = 0; e == 0 && i < 8; i++)
    off = off << 8 | h[8 + i];
  for (int i = 0; e == 0 && i < 4; i++)
    size = size << 8 | h[16 + i];
  if (e == 0 && (size >= len || (off == 0 && size != 0)))
    e = -EINVAL;
  if (e == 0 && size > 0 && pread (fd, name, size, (off_t) off) != (ssize_t) size)
    e = -EINVAL;
  if (e == 0)
    name[size] = 0;
  close (fd);
  return e;
}

/* What qemu-img check said, from its first whole ERROR line on, cut
 * short: its complaints about one damaged table run to pages. */
static const char *
short_why (char *why)
{
  char *first = strstr (why, "ERROR");

  if (first == NULL)
    first = why;
  if (strlen (first) > 200)
    strcpy (first + 196, " ...");
  return first;
}

/* qemu-img check of path: 0 clean (leaked clusters are only a note),
 * 1 damaged (why in buf), -errno when it cannot run. */
static int
qemu_img_check (const char *path, bool *leaks, char *why, size_t len)
{
  const char *argv[] = { "qemu-img", "check", "-U", "-q", "-f", "qcow2",
                         path, NULL };
  struct qemu_tool tool;
  int status = 0, e = qemu_tool_start (argv, -1, &tool);

  if (e < 0)
    return e;
  e = qemu_tool_wait (&tool, -1, &status);
  if (e == 0)
    qemu_tool_why (&tool, status, why, len);
  qemu_tool_kill (&tool);
  if (e < 0)
    return e;
  *leaks = WIFEXITED (status) && WEXITSTATUS (status) == 3;
  return WIFEXITED (status) && (WEXITSTATUS (status) == 0 ||
                                WEXITSTATUS (status) == 3) ? 0 : 1;
}

struct sum_check {
  struct vstate *s;
  const struct base_point *bp;
  const char *affects;
};

static int
bad_cluster (void *opaque, uint64_t cluster, bool missing)
{
  struct sum_check *sc = opaque;
  char where[320];
  uint64_t off = cluster * BASESUM_CLUSTER;

  snprintf (where, sizeof where, "%s offset %" PRIu64, sc->bp->file, off);
  damage (sc->s, K_BASE, where, "damaged base point %s: the data cluster at "
          "disk offset %" PRIu64 " %s; %s", sc->bp->file, off,
          missing ? "is held without a checksum (a changed L2 entry)"
                  : "fails its checksum", sc->affects);
  return 0;
}

/* The data clusters of bp against their sums, where it has them. */
static void
check_sums (struct vstate *s, const struct base_point *bp, const char *path,
            const char *affects)
{
  struct sum_check sc = { s, bp, affects };
  char *sp = basesum_path (path);
  struct qcow2_chain *c;
  struct basesum sums;
  uint64_t bytes = 0;
  int e = sp ? basesum_load (sp, &sums) : -ENOMEM;

  free (sp);
  if (e == -ENOENT) {
    s->res->base_unsummed++;
    note (s, "base point %s has no data checksums (made before cdp kept "
          "them): its metadata was checked, its data clusters cannot be",
          bp->file);
    return;
  }
  if (e < 0) {
    damage (s, K_BASE, bp->file, "base point %s: its checksum file %s (%s); "
            "its data clusters cannot be checked", bp->file,
            e == -EUCLEAN ? "is damaged" : "cannot be read", strerror (-e));
    return;
  }
  s->res->base_summed++;
  e = qcow2_open (path, &c);
  if (e == 0) {
    e = basesum_check (c, &sums, s->o->rate, s->o->stop, bad_cluster, &sc,
                       &bytes);
    qcow2_close (c);
  }
  s->res->base_checked_bytes += bytes;
  if (e < 0 && e != -ECANCELED)
    damage (s, K_BASE, bp->file, "base point %s cannot be read (%s: %s); %s",
            bp->file, strerror (-e), cdp_get_error (), affects);
  basesum_free (&sums);
}

static void
check_base (struct vstate *s, const struct base_point *bp)
{
  const struct base_catalog *cat = s->src->cat;
  char *path = catalog_path (cat, bp->file), why[512], affects[384];
  char backing[4096];
  const char *slash;
  struct stat st;
  bool leaks = false;
  int e;

  s->res->base_points++;
  if (path == NULL) {
    note (s, "base point %s was not checked: out of memory", bp->file);
    return;
  }
  verify_base_affects (s->src->t, cat, bp, affects, sizeof affects);
  if (stat (path, &st) < 0) {
    damage (s, K_CATALOG, bp->file, "catalog: base point %s is missing (%s); "
            "%s fail", bp->file, strerror (errno), affects);
    free (path);
    return;
  }
  s->res->base_bytes += (uint64_t) st.st_size;
  if (*bp->parent && catalog_by_file (cat, bp->parent) == NULL)
    damage (s, K_CATALOG, bp->file, "catalog: the parent of base point %s, "
            "%s, is not in the catalog; %s fail", bp->file, bp->parent, affects);
  e = backing_of (path, backing, sizeof backing);
  slash = strrchr (backing, '/');
  if (e < 0)
    damage (s, K_BASE, bp->file, "base point %s is not a qcow2 image (%s); %s "
            "fail", bp->file, strerror (-e), affects);
  else if (strcmp (slash ? slash + 1 : backing, bp->parent) != 0)
    damage (s, K_CATALOG, bp->file, "catalog: base point %s has %s%s%s as its "
            "backing file, the catalog says %s%s%s; %s read the wrong data",
            bp->file, *backing ? "'" : "", *backing ? backing : "none",
            *backing ? "'" : "", *bp->parent ? "'" : "",
            *bp->parent ? bp->parent : "none", *bp->parent ? "'" : "", affects);
  if (e == 0) {
    e = qemu_img_check (path, &leaks, why, sizeof why);
    if (e < 0)
      damage (s, K_BASE, bp->file, "base point %s: qemu-img check cannot run: "
              "%s", bp->file, strerror (-e));
    else if (e > 0)
      damage (s, K_BASE, bp->file, "base point %s fails qemu-img check (%s); "
              "%s", bp->file, short_why (why), affects);
    else if (leaks)
      note (s, "base point %s has leaked clusters (space only, no data lost)",
            bp->file);
  }
  if (e == 0)
    check_sums (s, bp, path, affects);
  free (path);
}

/* Does the check cover base point bp? */
static bool
base_in_scope (const struct vstate *s, const struct base_point *bp)
{
  const struct base_catalog *cat = s->src->cat;

  if (s->o->points == NULL)
    return true;
  for (size_t i = 0; i < s->o->npoints; i++) {
    const struct point *p = &s->o->points[i];
    const struct base_point *b = catalog_find (cat, p->disk, p->seq);
    /* The base the point reads, and every image below it. */
    while (b) {
      if (b == bp)
        return true;
      b = *b->parent ? catalog_by_file (cat, b->parent) : NULL;
    }
  }
  return false;
}

static void
check_bases (struct vstate *s)
{
  const struct base_catalog *cat = s->src->cat;
  uint64_t total = 0, done = 0;

  for (size_t i = 0; i < cat->v.len; i++)
    total += base_in_scope (s, &cat->v.ptr[i]);
  progress (s, "base", 0, (int64_t) total);
  for (size_t i = 0; i < cat->v.len && !stopped (s); i++)
    if (base_in_scope (s, &cat->v.ptr[i])) {
      check_base (s, &cat->v.ptr[i]);
      progress (s, "base", ++done, (int64_t) total);
    }
}

/* ---- the whole check ---------------------------------------------------- */

/* The journal range the points read: after the oldest base, to the
 * newest point. */
static void
journal_range (struct vstate *s)
{
  s->from_seq = 0;
  s->to_seq = s->o->upto_seq;
  if (s->o->points == NULL)
    return;
  s->to_seq = 0;
  s->from_seq = UINT64_MAX;
  for (size_t i = 0; i < s->o->npoints; i++) {
    const struct point *p = &s->o->points[i];
    if (p->base_seq + 1 < s->from_seq)
      s->from_seq = p->base_seq + 1;
    if (p->seq > s->to_seq)
      s->to_seq = p->seq;
  }
  if (s->to_seq < s->from_seq)      /* a base point itself: no journal */
    s->from_seq = s->to_seq = UINT64_MAX;
}

int
verify_run (const struct verify_source *src, const struct verify_opts *o,
            struct verify_result *res)
{
  struct vstate s = { .src = src, .o = o, .res = res };
  int64_t t0 = time_mono_ns ();
  int e = 0;

  memset (res, 0, sizeof *res);
  res->damage = json_object_new_array ();
  res->notes = json_object_new_array ();
  if (res->damage == NULL || res->notes == NULL) {
    verify_result_free (res);
    return -ENOMEM;
  }
  journal_range (&s);
  if (s.from_seq != UINT64_MAX)
    e = check_journal (&s);
  if (e == 0 && src->ix && s.from_seq != UINT64_MAX && !stopped (&s))
    e = check_index (&s);
  if (e == 0 && !stopped (&s))
    check_bases (&s);
  for (int k = 0; k < 4; k++)
    if (s.dropped[k]) {
      char msg[128];
      snprintf (msg, sizeof msg, "%s: %u more problems of this kind not listed",
                kinds[k], s.dropped[k]);
      jf_append (res->damage, integrity_entry (kinds[k], "more",
                                               msg, o->found_by));
    }
  res->seconds = (double) (time_mono_ns () - t0) / 1e9;
  jrec_vector_reset (&s.recs);
  if (e == 0 && (jf_failed (res->damage) || jf_failed (res->notes)))
    e = -ENOMEM;                /* a finding could not be recorded */
  return e;
}

void
verify_result_free (struct verify_result *res)
{
  json_object_put (res->damage);
  json_object_put (res->notes);
  memset (res, 0, sizeof *res);
}
