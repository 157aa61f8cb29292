/* cdp: the maintenance thread of a served task — base points, retention,
 * locks, and reclaiming space before the store fills up.
 *
 * Every few seconds (or when asked) it:
 *   1. folds the journal into a new base point of each disk when
 *      --bp-interval has passed since the last one and the disk changed
 *      (and at once for a disk with no base point yet);
 *   2. reclaims journal segments older than --journal-retention that base
 *      points cover, first making base points at every locked point and
 *      bookmark the reclaim would otherwise lose;
 *   3. removes base points older than --bp-retention that are not locked,
 *      not bookmarks and not the newest of their disk: each child is
 *      rebased onto the removed point's parent (on a copy, renamed over
 *      it, so readers with the old file open are undisturbed), then the
 *      point's image goes;
 *   4. when the store's file system runs low, does 2 and 3 early (oldest
 *      history first) so that the receiver keeps acknowledging writes,
 *      and logs how much history that cost.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/daemon/daemon.h"
#include "cdp/daemon/maint-policy.h"
#include "common/cleanup.h"
#include "common/error.h"
#include "cdp/hv/hv.h"
#include "common/jsonfile.h"
#include "cdp/task/verify.h"
#include "common/timeutil.h"
#include "recovery/history/basesum.h"
#include "recovery/history/fold.h"
#include "recovery/history/qcow2.h"

#define PERIOD_NS (250 * 1000000LL)
/* How often a cycle has the indexer commit what it holds (it commits at
 * most once a second by itself): each time costs the device a flush in
 * the middle of the journal's writes. */
#define INDEX_CURRENT_NS (10 * 1000000000LL)

struct maint {
  struct task *t;
  struct receiver *rx;
  struct cdp_index *ix;
  struct journal_reader *jr;
  struct base_catalog cat;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool stop, fold_now, full;
  uint64_t fold_done;               /* folds requested and finished */
  int64_t lost_until;               /* emergency reclaim: history lost before */
  char blocked[1024];               /* why retention waits ("": it does not) */
  char damaged[320];                /* the damaged place last logged */
  struct bgverify *bv;              /* the background check (bgverify.c) */
  struct archiver *ar;              /* the archive's thread (archiver.c) */
  int64_t damaged_retry;            /* no fold before this (damage found) */
  int64_t index_due;                /* CLOCK_MONOTONIC: next index_current */
};

#define DAMAGED_RETRY_NS (60 * 1000000000LL)

/* ---- folding ---------------------------------------------------------- */

static int
stop_at_first (void *opaque, uint64_t off, uint64_t len)
{
  *(bool *) opaque = true;
  return 1;
}

/* Did disk change in (bp->seq, seq]? */
static bool
changed_since (struct maint *m, const struct task_disk *d,
               const struct base_point *bp, uint64_t seq)
{
  bool changed = false;

  if (bp == NULL)
    return true;
  index_changes (m->ix, d->id, bp->seq, bp->time_ns, seq, stop_at_first,
                 &changed);
  return changed;
}

static int
fold_at_chain (struct maint *m, const struct task_disk *d, uint64_t seq,
               int64_t t, unsigned max_chain);

/* A fold read damaged history: record it, log it once, and try again
 * only after a while (every attempt reads what it folds). */
static void
fold_damaged (struct maint *m, const struct task_disk *d, const char *tb)
{
  char msg[512];
  json_object *o = integrity_read_entry (m->t, &m->cat, "serve", msg,
                                         sizeof msg), *arr;
  const char *where;

  m->damaged_retry = time_now_ns () + DAMAGED_RETRY_NS;
  if (o == NULL) {
    log_msg ("task %s disk %s: base point at %s failed: %s", m->t->name,
             d->name, tb, cdp_get_error ());
    return;
  }
  where = json_object_get_string (json_object_object_get (o, "where"));
  if (strcmp (where, m->damaged) != 0) {
    snprintf (m->damaged, sizeof m->damaged, "%s", where);
    log_msg ("task %s disk %s: base point at %s not made: %s", m->t->name,
             d->name, tb, msg);
  }
  arr = json_object_new_array ();
  jf_append (arr, o);
  integrity_change (m->t, arr, false, NULL);
  json_object_put (arr);
}

static int
fold_at (struct maint *m, const struct task_disk *d, uint64_t seq, int64_t t)
{
  return fold_at_chain (m, d, seq, t, task_policy (m->t).max_chain);
}

static int
fold_at_chain (struct maint *m, const struct task_disk *d, uint64_t seq,
               int64_t t, unsigned max_chain)
{
  struct fold_source src = { m->ix, m->jr, &m->cat };
  struct fold_stats st;
  char tb[64], sz[32];
  int r;

  if (time_now_ns () < m->damaged_retry)
    return -EUCLEAN;
  journal_reader_refresh (m->jr);
  r = fold_disk (&src, d->id, task_disk_size_at (d, seq), seq, t, max_chain,
                 &st);
  format_time (t, tb, sizeof tb);
  if (r == -EUCLEAN)
    fold_damaged (m, d, tb);
  else if (r < 0)
    log_msg ("task %s disk %s: base point at %s failed: %s", m->t->name,
             d->name, tb, cdp_get_error ());
  else if (st.ranges > 0) {
    format_size (st.bytes_written, sz, sizeof sz);
    log_msg ("task %s disk %s: base point at %s (%s of data)", m->t->name,
             d->name, tb, sz);
  }
  return r;
}


static void initial_base (struct maint *m, const struct task_disk *d,
                          bool force, uint64_t seq, int64_t t);


/* The newest point a base point may hold: at most the receiver's last
 * durable record.  The index may name newer ones, not yet durable (at
 * an RPO above 0, when another process caught it up from the journal
 * as the page cache holds it): a base point made of them would outlive
 * them at a power loss, and hold writes its history no longer has. */
static int
durable_seq_at (struct maint *m, int64_t now, uint64_t *seq, int64_t *t)
{
  uint64_t dseq;
  int64_t dt;
  int e = index_seq_at (m->ix, now, seq, t);

  if (e < 0)
    return e;
  receiver_durable_end (m->rx, &dseq, &dt);
  if (*seq > dseq) {
    *seq = dseq;
    *t = dt;
  }
  return 0;
}

static void
fold_due (struct maint *m, int64_t now, bool force)
{
  uint64_t seq;
  int64_t t;

  if (durable_seq_at (m, now, &seq, &t) < 0 || seq == 0)
    return;
  for (size_t i = 0; i < m->t->disks.len; i++) {
    const struct task_disk *d = &m->t->disks.ptr[i];
    const struct base_point *bp = catalog_find (&m->cat, d->id, UINT64_MAX);
    if (!maint_fold_due (bp, seq, now, force, task_policy (m->t).bp_interval))
      continue;
    if (bp == NULL && hv_of (m->t)->initial_copy) {
      initial_base (m, d, force, seq, t);
      continue;
    }
    if (changed_since (m, d, bp, seq))
      fold_at (m, d, seq, t);
  }
}

struct first_resume {
  uint32_t disk;
  struct index_event ev;
  bool have;
};

static int
first_resume_cb (void *opaque, const struct index_event *e)
{
  struct first_resume *f = opaque;

  if (e->type == JOURNAL_RESUME && e->disk == f->disk) {
    f->ev = *e;
    f->have = true;
    return 1;
  }
  return 0;
}

/* The first base point of a mirrored disk holds its initial copy: the
 * disk as it was when the mirror first reported READY.  Before that no
 * point is exact, so the journal up to it is reclaimed right away
 * (initial_reclaim) instead of being kept for --journal-retention. */
static void
initial_base (struct maint *m, const struct task_disk *d, bool force,
              uint64_t seq, int64_t t)
{
  struct first_resume f = { .disk = d->id };

  index_events (m->ix, 0, UINT64_MAX, first_resume_cb, &f);
  if (f.have)
    fold_at (m, d, f.ev.seq, f.ev.time_ns);
  else if (force)
    fold_at (m, d, seq, t);
}


/* ---- journal retention ------------------------------------------------- */

static int
bookmark_cb (void *opaque, const struct index_event *e)
{
  if (e->type == JOURNAL_BOOKMARK)
    kept_vector_append (opaque, (struct kept) { e->seq, e->time_ns, e->disk });
  return 0;
}

/* Locked points and bookmarks: points kept past every retention.  When
 * either cannot be read, -errno with why filled: then nothing may be
 * reclaimed, since what must be kept is not known. */
static int
kept_points (struct maint *m, kept_vector *out, char *why, size_t len)
{
  lock_vector locks = empty_vector;
  int e;

  out->len = 0;
  e = locks_load (m->t, &locks);
  if (e < 0) {
    snprintf (why, len, "cannot read %s/locks.json: %s", m->t->dir,
              jf_strerror (e));
    return e;
  }
  for (size_t i = 0; i < locks.len; i++)
    kept_vector_append (out, (struct kept) { locks.ptr[i].seq,
                                             locks.ptr[i].time_ns, UINT32_MAX });
  lock_vector_reset (&locks);
  cdp_clear_error ();
  e = index_events (m->ix, 0, UINT64_MAX, bookmark_cb, out);
  if (e < 0)
    snprintf (why, len, "cannot read the bookmarks from the index: %s",
              *cdp_get_error () ? cdp_get_error () : strerror (-e));
  return e < 0 ? e : 0;
}

/* Say once (and again when it changes or clears) why retention waits. */
static void
retention_blocked (struct maint *m, const char *why)
{
  if (strcmp (why, m->blocked) == 0)
    return;
  if (*why)
    log_msg ("task %s: %s: no history is reclaimed until it is repaired "
             "(see docs/OPERATOR.md)", m->t->name, why);
  else
    log_msg ("task %s: locks and bookmarks readable again: retention "
             "resumes", m->t->name);
  snprintf (m->blocked, sizeof m->blocked, "%s", why);
}

static bool
changed_cb (void *opaque, const struct task_disk *d,
            const struct base_point *bp, uint64_t seq)
{
  return changed_since (opaque, d, bp, seq);
}

/* The newest seq <= limit up to which base points of every disk cover
 * the history (nothing of the disk changed after its base point). */
static uint64_t
covered_until (struct maint *m, uint64_t limit, int64_t limit_t)
{
  return maint_covered_until (&m->cat, &m->t->disks, limit, limit_t,
                              changed_cb, m);
}

/* Base points at every kept point in the range about to be reclaimed. */
static int
fold_kept (struct maint *m, const kept_vector *k, uint64_t upto)
{
  uint64_t first = journal_first_seq (receiver_journal (m->rx));

  for (size_t i = 0; i < k->len; i++)
    for (size_t n = 0; n < m->t->disks.len; n++) {
      const struct task_disk *d = &m->t->disks.ptr[n];
      if (maint_kept_needs_fold (&m->cat, &k->ptr[i], d->id, first, upto) &&
          fold_at (m, d, k->ptr[i].seq, k->ptr[i].time) < 0)
        return -1;
    }
  return 0;
}

/* The oldest record the index must keep once the journal before keep
 * + 1 is reclaimed (maint-policy.c says why). */
static uint64_t
first_needed (struct maint *m, uint64_t keep)
{
  return maint_first_needed (&m->cat, &m->t->disks, keep,
                             journal_first_seq (receiver_journal (m->rx)));
}

/* Reclaim the journal before the point (seq, t), where covered. */
static void
reclaim_before (struct maint *m, uint64_t seq, int64_t t, const kept_vector *k)
{
  struct journal *j = receiver_journal (m->rx);
  uint64_t keep = covered_until (m, seq, t);
  int n;

  if (keep == 0 || keep < journal_first_seq (j) || fold_kept (m, k, keep) < 0)
    return;
  n = journal_reclaim (j, keep + 1);
  if (n > 0) {
    index_forget (m->ix, first_needed (m, keep));
    journal_reader_refresh (m->jr);
    receiver_reclaimed (m->rx);
    log_msg ("task %s: reclaimed %d journal segment%s", m->t->name, n,
             n == 1 ? "" : "s");
  }
}

static void
journal_retention (struct maint *m, int64_t now, const kept_vector *k)
{
  uint64_t seq;
  int64_t t;

  if (index_seq_at (m->ix, now - task_policy (m->t).journal_retention, &seq,
                    &t) < 0 || seq == 0)
    return;
  reclaim_before (m, seq, t, k);
}

/* ---- base point retention ---------------------------------------------- */

static int
run_qemu_img_rebase (const char *dir, const char *file, const char *backing)
{
  pid_t pid = fork ();
  int status;

  if (pid == 0) {
    int nul = open ("/dev/null", O_WRONLY);
    if (chdir (dir) < 0)
      _exit (126);
    dup2 (nul, 1);
    if (*backing)
      execlp ("qemu-img", "qemu-img", "rebase", "-q", "-f", "qcow2",
              "-F", "qcow2", "-b", backing, file, (char *) NULL);
    else
      execlp ("qemu-img", "qemu-img", "rebase", "-q", "-f", "qcow2",
              "-b", "", file, (char *) NULL);
    _exit (127);
  }
  if (pid < 0 || waitpid (pid, &status, 0) < 0)
    return -errno;
  return WIFEXITED (status) && WEXITSTATUS (status) == 0 ? 0 : -EIO;
}

static int
copy_file (const char *from, const char *to)
{
  int in = open (from, O_RDONLY | O_CLOEXEC), out;
  ssize_t n = 1;
  int r = 0;

  if (in < 0)
    return -errno;
  out = open (to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) {
    r = -errno;
    close (in);
    return r;
  }
  while (n > 0)
    n = copy_file_range (in, NULL, out, NULL, 1 << 30, 0);
  if (n < 0 || fsync (out) < 0)
    r = -errno;
  close (in);
  close (out);
  return r;
}

/* The rebased copy tmppath of the child at path holds more clusters
 * than the child: give it sums for all of them (the child's own must
 * still match) under the child's sums name, before the copy replaces
 * the child.  A superset of the old sums, so they hold for either
 * image.  A child without sums (made before them) stays without. */
static int
resum_child (struct maint *m, const char *path, const char *tmppath,
             const char *file)
{
  char *sp = basesum_path (path), msg[512];
  struct basesum old, fresh;
  struct basesum_damage d;
  struct qcow2_chain *c;
  int r = sp ? basesum_load (sp, &old) : -ENOMEM;

  if (r == -ENOENT) {
    free (sp);
    return 0;
  }
  if (r == 0 && (r = qcow2_open (tmppath, &c)) == 0) {
    r = basesum_compute (c, &old, &fresh, NULL);
    qcow2_close (c);
    if (r == 0)
      r = basesum_save (sp, &fresh);
    if (r == 0)
      basesum_free (&fresh);
  }
  if (r == 0 || r == -ENOENT)
    basesum_free (&old);
  if (r == -EUCLEAN && basesum_last_damage (&d)) {
    json_object *arr = json_object_new_array ();
    snprintf (msg, sizeof msg, "base point %s: the data cluster at disk offset "
              "%" PRIu64 " fails its checksum (found while rebasing it)",
              file, d.offset);
    jf_append (arr, integrity_entry ("base", file, msg, "serve"));
    integrity_change (m->t, arr, false, NULL);
    json_object_put (arr);
    log_msg ("task %s: %s", m->t->name, msg);
  }
  free (sp);
  return r;
}

/* Make child stand on the parent of the base point it stands on now. */
static int
rebase_child (struct maint *m, struct base_point *child, const char *newparent)
{
  CLEANUP_FREE char *path = catalog_path (&m->cat, child->file);
  CLEANUP_FREE char *tmp = NULL, *tmppath = NULL;
  int r;

  if (asprintf (&tmp, "%s.rebase.tmp", child->file) < 0)
    tmp = NULL;
  else
    tmppath = catalog_path (&m->cat, tmp);
  if (path == NULL || tmppath == NULL)
    return -ENOMEM;
  r = copy_file (path, tmppath);
  if (r == 0)
    r = run_qemu_img_rebase (m->cat.dir, tmp, newparent);
  if (r == 0)
    r = resum_child (m, path, tmppath, child->file);
  if (r == 0 && rename (tmppath, path) < 0)
    r = -errno;
  if (r < 0)
    unlink (tmppath);
  else
    snprintf (child->parent, sizeof child->parent, "%s", newparent);
  return r;
}

static void
remove_sums (const char *image)
{
  char *sp = basesum_path (image);

  if (sp)
    unlink (sp);
  free (sp);
}

/* Remove the image of a base point the catalog no longer names, and its
 * sums (out of memory: they stay, named by no entry of the catalog). */
static void
remove_files (struct maint *m, const char *file)
{
  CLEANUP_FREE char *path = catalog_path (&m->cat, file);

  if (path) {
    unlink (path);
    remove_sums (path);
  }
}

static void
recompute_depths (struct base_catalog *c)
{
  for (int pass = 0; pass < 64; pass++)
    for (size_t i = 0; i < c->v.len; i++) {
      const struct base_point *p = *c->v.ptr[i].parent
        ? catalog_by_file (c, c->v.ptr[i].parent) : NULL;
      c->v.ptr[i].depth = p ? p->depth + 1 : 1;
    }
}

static int
drop_base (struct maint *m, size_t idx)
{
  struct base_point p = m->cat.v.ptr[idx];
  int r = 0;

  for (size_t i = 0; r == 0 && i < m->cat.v.len; i++)
    if (strcmp (m->cat.v.ptr[i].parent, p.file) == 0)
      r = rebase_child (m, &m->cat.v.ptr[i], p.parent);
  if (r < 0) {
    log_msg ("task %s: cannot remove base point %s: rebase failed", m->t->name,
             p.file);
    return r;
  }
  catalog_remove (&m->cat, p.file);
  recompute_depths (&m->cat);
  r = catalog_save (&m->cat);
  if (r < 0)
    return r;
  remove_files (m, p.file);
  log_msg ("task %s: removed base point %s", m->t->name, p.file);
  return 0;
}

static void
base_retention (struct maint *m, int64_t before, const kept_vector *k)
{
  for (size_t i = 0; i < m->cat.v.len;) {
    if (maint_retention_drops (&m->cat, i, before, k,
                               journal_first_seq (receiver_journal (m->rx))) &&
        drop_base (m, i) == 0)
      i = 0;                        /* the catalog changed: start over */
    else
      i++;
  }
}

/* ---- space ------------------------------------------------------------- */

static uint64_t
space_avail (struct maint *m, uint64_t *size)
{
  struct statvfs sv;

  if (statvfs (m->t->dir, &sv) < 0)
    return UINT64_MAX;
  if (size)
    *size = (uint64_t) sv.f_blocks * sv.f_frsize;
  return (uint64_t) sv.f_bavail * sv.f_frsize;
}

/* Keep room for a fold (up to half the disks' size) and a tenth of the
 * file system (at most 8 GiB). */
static bool
space_low (struct maint *m)
{
  uint64_t size = 0, avail = space_avail (m, &size), disks = 0;

  for (size_t i = 0; i < m->t->disks.len; i++)
    disks += task_disk_size (&m->t->disks.ptr[i]);
  return maint_space_low (avail, size, disks);
}

/* Delete base points nothing depends on that are neither kept nor the
 * newest of their disk, until none is left: no rebase, no new space. */
static void
delete_old_leaves (struct maint *m, const kept_vector *k)
{
  bool changed = true;

  while (changed) {
    changed = false;
    for (size_t i = 0; i < m->cat.v.len; i++) {
      struct base_point p = m->cat.v.ptr[i];
      if (!maint_leaf_deletable (&m->cat, i, k))
        continue;
      catalog_remove (&m->cat, p.file);
      if (catalog_save (&m->cat) == 0) {
        remove_files (m, p.file);
        log_msg ("task %s: removed base point %s", m->t->name, p.file);
        changed = true;
      }
      else
        catalog_add (&m->cat, &p);
      break;
    }
  }
}

/* Tell `cdp status` from when history was given up for space. */
static void
record_loss (struct maint *m, int64_t t)
{
  CLEANUP_FREE char *path = task_path (m->t, "run/space.json");
  json_object *o = json_object_new_object ();

  jf_add (o, "history_lost_before_ns", json_object_new_int64 (t));
  jf_save (path, o, SPACE_VERSION, 0644);
  json_object_put (o);
}

/* Give the journal's spare segment files back; whether space was freed. */
static bool
release_spare (struct maint *m)
{
  uint64_t before = space_avail (m, NULL);

  journal_release_spare (receiver_journal (m->rx));
  return space_avail (m, NULL) > before;
}

/* Returns whether space was freed.  In order of cost: spare segment
 * files; journal that base points cover already; then a new full base
 * point of each disk (it needs the room of one disk, no more), after
 * which all older journal and every unkept older base point can go. */
static bool
emergency (struct maint *m, int64_t now, const kept_vector *k)
{
  uint64_t seq, before = space_avail (m, NULL);
  int64_t t;
  char tb[64];

  /* The spare segments may be enough: then history stays whole. */
  journal_release_spare (receiver_journal (m->rx));
  if (space_avail (m, NULL) > before && !space_low (m)) {
    log_msg ("task %s: the store's file system is low on space: gave back "
             "the journal's spare segments", m->t->name);
    return true;
  }
  log_msg ("task %s: the store's file system is low on space: "
           "reclaiming the oldest history", m->t->name);
  if (durable_seq_at (m, now, &seq, &t) < 0 || seq == 0)
    return space_avail (m, NULL) > before;
  reclaim_before (m, seq, t, k);
  if (space_low (m)) {
    for (size_t i = 0; i < m->t->disks.len; i++) {
      const struct task_disk *d = &m->t->disks.ptr[i];
      const struct base_point *bp = catalog_find (&m->cat, d->id, UINT64_MAX);
      if (bp == NULL || bp->seq < seq)
        fold_at_chain (m, d, seq, t, 1);
    }
    reclaim_before (m, seq, t, k);
    delete_old_leaves (m, k);
  }
  journal_release_spare (receiver_journal (m->rx));
  m->lost_until = t;
  record_loss (m, t);
  format_time (t, tb, sizeof tb);
  log_msg ("task %s: history before %s is now kept at base-point "
           "granularity only", m->t->name, tb);
  return space_avail (m, NULL) > before;
}

/* ---- the thread ---------------------------------------------------------- */

static void
initial_reclaim (struct maint *m, const kept_vector *k)
{
  const struct base_point *first = NULL;

  if (!hv_of (m->t)->initial_copy)
    return;
  for (size_t i = 0; i < m->t->disks.len; i++) {
    const struct base_point *bp = NULL;
    for (size_t n = 0; n < m->cat.v.len; n++)
      if (m->cat.v.ptr[n].disk == m->t->disks.ptr[i].id &&
          (bp == NULL || m->cat.v.ptr[n].seq < bp->seq))
        bp = &m->cat.v.ptr[n];
    if (bp == NULL)
      return;
    if (first == NULL || bp->seq < first->seq)
      first = bp;
  }
  if (first && first->seq >= journal_first_seq (receiver_journal (m->rx)))
    reclaim_before (m, first->seq, first->time_ns, k);
}

static void
cycle (struct maint *m, bool force, bool full)
{
  int64_t now = time_now_ns ();
  kept_vector k = empty_vector;
  bool freed = false, can_reclaim;
  char why[1024] = "";

  /* Decide on every write acknowledged so far when it matters now (a
   * fold asked for, a store full or low on space, where journal the
   * index does not name yet cannot be folded and given back), else on
   * what the indexer committed (a second old at most), made current
   * every INDEX_CURRENT_NS. */
  if (force || full || space_low (m) || time_mono_ns () >= m->index_due) {
    receiver_index_current (m->rx);
    m->index_due = time_mono_ns () + INDEX_CURRENT_NS;
  }
  can_reclaim = kept_points (m, &k, why, sizeof why) == 0;
  retention_blocked (m, why);
  if (can_reclaim && (full || space_low (m)))
    freed = emergency (m, now, &k);
  else if (full)
    freed = release_spare (m);
  /* Fold early when the journal outgrows the free space: folding needs
   * room, so it must happen while there still is some. */
  if (maint_fold_for_space (journal_disk_usage (receiver_journal (m->rx)),
                            space_avail (m, NULL)))
    force = true;
  fold_due (m, now, force);
  if (can_reclaim) {
    initial_reclaim (m, &k);
    journal_retention (m, now, &k);
    base_retention (m, now - task_policy (m->t).bp_retention, &k);
  }
  /* Writes held for want of space: again if space was freed; failed if
   * nothing could be (their history is then lost, and marked so). */
  if (maint_fail_held (full, freed) &&
      receiver_retry_stalled (m->rx, -ENOSPC) > 0)
    log_msg ("task %s: no history left to reclaim: writes failed, "
             "history is not exact from now until protection restarts",
             m->t->name);
  else
    receiver_retry_stalled (m->rx, 0);
  kept_vector_reset (&k);
}

/* Journal thread: a write found the journal full. */
static void
wake_full (void *opaque)
{
  struct maint *m = opaque;

  pthread_mutex_lock (&m->lock);
  m->full = true;
  pthread_cond_broadcast (&m->cond);
  pthread_mutex_unlock (&m->lock);
}

static void *
maint_thread (void *arg)
{
  struct maint *m = arg;
  struct timespec until;
  bool force, full;

  pthread_mutex_lock (&m->lock);
  while (!m->stop) {
    until = time_deadline (CLOCK_REALTIME, PERIOD_NS);
    while (!m->stop && !m->fold_now && !m->full &&
           pthread_cond_timedwait (&m->cond, &m->lock, &until) == 0)
      ;
    if (m->stop)
      break;
    force = m->fold_now;
    full = m->full;
    m->fold_now = m->full = false;
    pthread_mutex_unlock (&m->lock);
    cycle (m, force, full);
    pthread_mutex_lock (&m->lock);
    if (force)
      m->fold_done++;
    pthread_cond_broadcast (&m->cond);
  }
  pthread_mutex_unlock (&m->lock);
  return NULL;
}

int
maint_start (struct task *t, struct receiver *rx, struct maint **mp)
{
  struct maint *m = calloc (1, sizeof *m);
  char *dir = task_path (t, "base");
  int r;

  if (m == NULL || dir == NULL) {
    free (m);
    free (dir);
    return -ENOMEM;
  }
  m->t = t;
  m->rx = rx;
  m->ix = receiver_index (rx);
  pthread_mutex_init (&m->lock, NULL);
  pthread_cond_init (&m->cond, NULL);
  r = catalog_load (dir, true, &m->cat);
  free (dir);
  if (r == 0) {
    dir = task_path (t, "journal");
    r = dir ? journal_reader_open (dir, &m->jr) : -ENOMEM;
    free (dir);
  }
  if (r == 0)
    r = bgverify_start (t, rx, &m->bv);
  if (r == 0 && (r = archiver_start (t, rx, &m->ar)) < 0)
    bgverify_stop (m->bv);
  if (r == 0 && (r = -pthread_create (&m->thread, NULL, maint_thread, m)) < 0) {
    archiver_stop (m->ar);
    bgverify_stop (m->bv);
  }
  if (r == 0)
    receiver_on_full (rx, wake_full, m);
  if (r < 0) {
    journal_reader_close (m->jr);
    catalog_free (&m->cat);
    free (m);
    return r;
  }
  *mp = m;
  return 0;
}

unsigned
maint_quarantined (const struct maint *m)
{
  return m->cat.quarantined;
}

/* Fold every disk now and wait until it is done. */
void
maint_fold_now (struct maint *m)
{
  uint64_t target;

  pthread_mutex_lock (&m->lock);
  target = m->fold_done + 1;
  m->fold_now = true;
  pthread_cond_broadcast (&m->cond);
  while (m->fold_done < target && !m->stop)
    pthread_cond_wait (&m->cond, &m->lock);
  pthread_mutex_unlock (&m->lock);
}

void
maint_policy_changed (struct maint *m)
{
  bgverify_wake (m->bv);
}

int
maint_archive_changed (struct maint *m, const struct task_archive *a)
{
  return archiver_set (m->ar, a);
}

void
maint_stop (struct maint *m)
{
  if (m == NULL)
    return;
  receiver_on_full (m->rx, NULL, NULL);
  archiver_stop (m->ar);
  bgverify_stop (m->bv);
  pthread_mutex_lock (&m->lock);
  m->stop = true;
  pthread_cond_broadcast (&m->cond);
  pthread_mutex_unlock (&m->lock);
  pthread_join (m->thread, NULL);
  receiver_retry_stalled (m->rx, 0);
  journal_reader_close (m->jr);
  catalog_free (&m->cat);
  free (m);
}
