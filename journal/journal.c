/* cdp journal: opening, closing and reclaiming a journal (the writer). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "journal/internal.h"

#define DEFAULT_SEGMENT (256u << 20)
#define DEFAULT_BATCH (8u << 20)

static int
check_options (const struct journal_options *in, struct journal_options *out)
{
  *out = in ? *in : (struct journal_options) { 0 };
  if (out->segment_size == 0)
    out->segment_size = DEFAULT_SEGMENT;
  if (out->batch_bytes == 0)
    out->batch_bytes = DEFAULT_BATCH;
  if (out->segment_size < (1u << 20) || out->segment_size > (1u << 31) ||
      out->segment_size % 4096 != 0 || out->batch_bytes < 65536 ||
      out->batch_bytes > (256u << 20))
    return -EINVAL;
  return 0;
}

static int
lock_dir (struct journal *j)
{
  j->lockfd = openat (j->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (j->lockfd < 0)
    return -errno;
  if (flock (j->lockfd, LOCK_EX | LOCK_NB) < 0)
    return set_last_error (errno == EWOULDBLOCK ? -EBUSY : -errno,
                           "%s: journal is open by another writer", j->dir);
  return 0;
}

static int
open_dir (struct journal *j, const char *dir)
{
  j->dir = strdup (dir);
  if (j->dir == NULL)
    return -ENOMEM;
  if (j->opts.create) {
    int r = fio_mkdir (dir, 0700);     /* its entry in the task directory */
    if (r < 0)
      return r;
  }
  j->dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (j->dirfd < 0)
    return -errno;
  return lock_dir (j);
}

static int
alloc_stages (struct journal *j)
{
  j->wake_bytes = WAKE_NEVER;
  for (unsigned i = 0; i < NSTAGE; i++) {
    if (posix_memalign ((void **) &j->stage[i].buf, 4096,
                        (size_t) j->opts.batch_bytes + STAGE_SLACK) != 0)
      return -ENOMEM;
    j->stage[i].cap = j->opts.batch_bytes;
  }
  return 0;
}

static struct journal *
journal_alloc (void)
{
  struct journal *j = calloc (1, sizeof *j);

  if (j == NULL)
    return NULL;
  j->dirfd = j->lockfd = j->efd = j->seg_fd = j->prep_fd = -1;
  pthread_mutex_init (&j->lock, NULL);
  pthread_cond_init (&j->space, NULL);
  pthread_cond_init (&j->copied, NULL);
  pthread_cond_init (&j->prep_cond, NULL);
  pthread_mutex_init (&j->marker_lock, NULL);
  return j;
}

static void
journal_free (struct journal *j)
{
  for (unsigned i = 0; i < NSTAGE; i++) {
    free (j->stage[i].buf);
    pending_vector_reset (&j->stage[i].recs);
  }
  seg_vector_reset (&j->segs);
  flush_vector_reset (&j->flushes);
  if (j->seg_fd >= 0)
    close (j->seg_fd);
  if (j->efd >= 0)
    close (j->efd);
  if (j->lockfd >= 0)
    close (j->lockfd);
  if (j->dirfd >= 0)
    close (j->dirfd);
  pthread_mutex_destroy (&j->lock);
  pthread_cond_destroy (&j->space);
  pthread_cond_destroy (&j->copied);
  pthread_cond_destroy (&j->prep_cond);
  pthread_mutex_destroy (&j->marker_lock);
  free (j->dir);
  free (j);
}

/* Start writing: a new segment right away, so that a file system that
 * cannot do O_DIRECT or has no room fails the open, not the first write. */
static int
start_threads (struct journal *j)
{
  int r;

  r = prep_start (j);
  if (r < 0)
    return r;
  r = io_uring_queue_init (4 * (WINDOW + 1), &j->ring, 0);
  if (r < 0)
    goto err_prep;
  r = seg_activate (j);
  if (r == -ENOSPC)
    j->seal = true;                 /* full: the first batch tries again */
  else if (r < 0)
    goto err_ring;
  r = -pthread_create (&j->thread, NULL, journal_thread, j);
  if (r < 0)
    goto err_ring;
  return 0;

 err_ring:
  io_uring_queue_exit (&j->ring);
 err_prep:
  prep_stop (j);
  return r;
}

int
journal_open (const char *dir, const struct journal_options *opts,
              struct journal **jp)
{
  struct journal *j = journal_alloc ();
  int r;

  clear_last_error ();
  if (j == NULL)
    return -ENOMEM;
  r = check_options (opts, &j->opts);
  if (r == 0)
    r = open_dir (j, dir);
  if (r == 0)
    r = alloc_stages (j);
  if (r == 0) {
    j->efd = eventfd (0, EFD_CLOEXEC);
    r = j->efd < 0 ? -errno : 0;
  }
  if (r == 0)
    r = journal_find_tail (j);
  if (r == 0)
    r = start_threads (j);
  if (r < 0) {
    journal_free (j);
    return r;
  }
  *jp = j;
  return 0;
}

void
journal_close (struct journal *j)
{
  if (j == NULL)
    return;
  pthread_mutex_lock (&j->lock);
  j->closing = true;
  pthread_cond_broadcast (&j->space);
  pthread_mutex_unlock (&j->lock);
  journal_wake_thread (j);
  pthread_join (j->thread, NULL);
  io_uring_queue_exit (&j->ring);
  prep_stop (j);
  journal_free (j);
}

uint64_t
journal_last_seq (struct journal *j)
{
  return atomic_load (&j->acked_seq);
}

uint64_t
journal_first_seq (struct journal *j)
{
  return atomic_load (&j->oldest_seq);
}

/* How many reclaimed segments to keep for reuse after a reclaim of n.
 * Writing into a reused segment costs no file system metadata per
 * durable write; into a new (fallocated) one it does, and that halves
 * small-write IOPS.  Reclaims come in bursts (a base point covers a
 * stretch of journal at once), so what one drops is what the journal
 * fills until the next, when the pool is trimmed to that one's.
 * Keeping it costs no space the journal did not hold a moment ago, and
 * the maintenance thread gives the spares back first when the store
 * runs low. */
static uint32_t
spares_wanted (struct journal *j, size_t n)
{
  if (j->opts.free_segments)
    return j->opts.free_segments;
  return n < 2 ? 2 : n > UINT32_MAX ? UINT32_MAX : (uint32_t) n;
}

int
journal_reclaim (struct journal *j, uint64_t before)
{
  seg_vector drop = empty_vector;
  int n = 0;

  pthread_mutex_lock (&j->lock);
  while (j->segs.len - n > 1 && j->segs.ptr[n + 1].first_seq <= before)
    n++;
  if (n > 0 && seg_vector_reserve (&drop, n) == 0) {
    memcpy (drop.ptr, j->segs.ptr, n * sizeof *drop.ptr);
    drop.len = n;
    memmove (j->segs.ptr, j->segs.ptr + n,
             (j->segs.len - n) * sizeof *j->segs.ptr);
    j->segs.len -= n;
    atomic_store (&j->oldest_seq, j->segs.ptr[0].first_seq);
  }
  else
    n = 0;
  pthread_mutex_unlock (&j->lock);
  if (n > 0) {
    for (size_t i = 0; i < drop.len; i++)
      prep_recycle (j, drop.ptr[i].number);
    prep_trim (j, spares_wanted (j, drop.len));
    fsync (j->dirfd);
  }
  seg_vector_reset (&drop);
  return n;
}

int
journal_dir_usage (const char *dir, uint64_t *in_use, uint64_t *spare)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  struct stat st;

  *in_use = 0;
  if (spare)
    *spare = 0;
  if (d == NULL)
    return -errno;
  while ((e = readdir (d)) != NULL) {
    if (strstr (e->d_name, ".cdpj") == NULL ||
        fstatat (dirfd (d), e->d_name, &st, 0) != 0)
      continue;
    if (strncmp (e->d_name, "free-", 5) != 0)
      *in_use += (uint64_t) st.st_blocks * 512;
    else if (spare)
      *spare += (uint64_t) st.st_blocks * 512;
  }
  closedir (d);
  return 0;
}

uint64_t
journal_disk_usage (struct journal *j)
{
  uint64_t b;

  journal_dir_usage (j->dir, &b, NULL);
  return b;
}

void
journal_release_spare (struct journal *j)
{
  prep_release (j);
}
