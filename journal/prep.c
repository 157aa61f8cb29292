/* cdp journal: preparing segment files ahead of need.
 *
 * A separate thread keeps one file, prep.cdpj, ready for the journal
 * thread to turn into the next segment: a reclaimed segment from the
 * free pool (free-*.cdpj, already allocated and written, so writes into
 * it need no metadata update) or a new file allocated with fallocate.
 * Stale records in a reused file carry their old segment number and so
 * fail every check in their new life.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal/internal.h"

/* Prepared files are prep-N.cdpj, N counting up, so that the next one
 * can be made while the previous one is being renamed. */
static void
prep_name (struct journal *j, uint64_t n, char *buf, size_t len)
{
  snprintf (buf, len, "prep-%016" PRIx64 ".cdpj", n);
}

/* Name of one file whose name starts with prefix, or NULL. */
static char *
find_prefix (int dirfd, const char *prefix)
{
  int fd = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d;
  struct dirent *e;
  char *name = NULL;

  if (fd < 0 || (d = fdopendir (fd)) == NULL) {
    if (fd >= 0)
      close (fd);
    return NULL;
  }
  while (name == NULL && (e = readdir (d)) != NULL)
    if (strncmp (e->d_name, prefix, strlen (prefix)) == 0)
      name = strdup (e->d_name);
  closedir (d);
  return name;
}

static void
remove_prep_files (struct journal *j)
{
  char *name;

  while ((name = find_prefix (j->dirfd, "prep-")) != NULL) {
    unlinkat (j->dirfd, name, 0);
    free (name);
  }
}

/* Write zeroes over a newly allocated file, front to back, so that the
 * journal's durable writes into it find written extents: into unwritten
 * ones each also converts extents and commits the file system's journal,
 * which costs a third to a half of the IOPS of small writes.  Paced by
 * the journal: no more is zeroed than twice what the current segment
 * holds, so a journal that writes little zeroes little, and the next
 * segment is zeroed when the current one is half full.  Given up,
 * leaving the rest unwritten, as soon as the journal thread waits for
 * the file: a writer is never slowed by this.
 *
 * Only while the journal writes small batches, though: a chunk is
 * skipped (left unwritten) while recent batches average ZERO_BATCH_MAX
 * or more.  Batches that large come from a stream of writes (a first
 * copy), which keeps the device busy: zeroes ahead of it would double
 * what it writes, while the conversion they spare costs one metadata
 * update per batch, little next to its megabytes. */
#define ZERO_CHUNK (4u << 20)
#define ZERO_BATCH_MAX (2u << 20)

void
prep_note_batch (struct journal *j, uint32_t len)
{
  uint32_t avg = atomic_load_explicit (&j->batch_avg, memory_order_relaxed);

  /* The last few batches weigh most; the first one stands alone, so
   * that a stream is known as one from its first batch. */
  avg = avg ? avg - avg / 8 + len / 8 : len;
  atomic_store_explicit (&j->batch_avg, avg, memory_order_relaxed);
}

static bool
batches_large (struct journal *j)
{
  return atomic_load_explicit (&j->batch_avg, memory_order_relaxed) >=
    ZERO_BATCH_MAX;
}

static void
zero_fill (struct journal *j, int fd)
{
  uint64_t size = j->opts.segment_size, done = 0, zeroed = 0;
  void *buf;

  if (posix_memalign (&buf, 4096, ZERO_CHUNK) != 0)
    return;
  memset (buf, 0, ZERO_CHUNK);
  /* Through the page cache, extents are converted once per sync, not
   * once per write: nothing to gain. */
  while (done < size && !atomic_load (&j->prep_wanted) &&
         atomic_load (&j->sync_ns) == 0) {
    size_t n = size - done < ZERO_CHUNK ? size - done : ZERO_CHUNK;
    if (2 * (uint64_t) atomic_load_explicit (&j->tail_seen, memory_order_relaxed) < done) {
      usleep (20000);
      continue;
    }
    if (!batches_large (j)) {
      if (pwrite (fd, buf, n, (off_t) done) != (ssize_t) n)
        break;
      zeroed += n;
    }
    done += n;
  }
  free (buf);
  if (zeroed > 0)
    fdatasync (fd);
}

static int
fresh_file (struct journal *j, const char *pname)
{
  int fd, r;

  fd = openat (j->dirfd, pname,
               O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  r = posix_fallocate (fd, 0, j->opts.segment_size);
  if (r != 0) {
    close (fd);
    unlinkat (j->dirfd, pname, 0);
    return -r;
  }
  zero_fill (j, fd);
  return fd;
}

static int
make_prep_file (struct journal *j, const char *pname)
{
  char *name = find_prefix (j->dirfd, "free-");
  int fd;

  if (name) {
    int r = renameat (j->dirfd, name, j->dirfd, pname);
    free (name);
    if (r == 0) {
      fd = openat (j->dirfd, pname, O_RDWR | O_DIRECT | O_CLOEXEC);
      if (fd >= 0 && ftruncate (fd, j->opts.segment_size) == 0 &&
          posix_fallocate (fd, 0, j->opts.segment_size) == 0)
        return fd;
      if (fd >= 0)
        close (fd);
    }
  }
  return fresh_file (j, pname);
}

static void *
prep_thread (void *arg)
{
  struct journal *j = arg;
  char pname[64];
  uint64_t n = 0;
  int fd;

  pthread_mutex_lock (&j->lock);
  for (;;) {
    while (!j->prep_stop && (j->prep_fd >= 0 || j->prep_err || j->prep_hold))
      pthread_cond_wait (&j->prep_cond, &j->lock);
    if (j->prep_stop)
      break;
    pthread_mutex_unlock (&j->lock);
    prep_name (j, ++n, pname, sizeof pname);
    fd = make_prep_file (j, pname);
    pthread_mutex_lock (&j->lock);
    if (fd >= 0) {
      j->prep_fd = fd;
      memcpy (j->prep_file, pname, sizeof pname);
    }
    else
      j->prep_err = fd;
    pthread_cond_broadcast (&j->prep_cond);
  }
  pthread_mutex_unlock (&j->lock);
  return NULL;
}

int
prep_start (struct journal *j)
{
  int r;

  j->prep_fd = -1;
  j->prep_err = 0;
  j->prep_stop = false;
  atomic_store (&j->prep_wanted, false);
  remove_prep_files (j);                /* left over from a crash */
  r = pthread_create (&j->prep_thread, NULL, prep_thread, j);
  return -r;
}

void
prep_stop (struct journal *j)
{
  pthread_mutex_lock (&j->lock);
  j->prep_stop = true;
  atomic_store (&j->prep_wanted, true);   /* no zeroes for nobody */
  pthread_cond_broadcast (&j->prep_cond);
  pthread_mutex_unlock (&j->lock);
  pthread_join (j->prep_thread, NULL);
  if (j->prep_fd >= 0) {
    close (j->prep_fd);
    j->prep_fd = -1;
  }
  remove_prep_files (j);
}

int
prep_take (struct journal *j, char name[64])
{
  int fd;

  pthread_mutex_lock (&j->lock);
  if (j->prep_err || j->prep_hold) { /* an old failure, or on demand */
    j->prep_err = 0;
    j->prep_hold = false;
    pthread_cond_broadcast (&j->prep_cond);
  }
  atomic_store (&j->prep_wanted, true);
  while (j->prep_fd < 0 && j->prep_err == 0)
    pthread_cond_wait (&j->prep_cond, &j->lock);
  atomic_store (&j->prep_wanted, false);
  fd = j->prep_fd >= 0 ? j->prep_fd : j->prep_err;
  memcpy (name, j->prep_file, 64);
  j->prep_fd = -1;
  j->prep_err = 0;                      /* a failure is retried */
  pthread_cond_broadcast (&j->prep_cond);
  pthread_mutex_unlock (&j->lock);
  return fd;
}

int
prep_rename (struct journal *j, const char *pname, uint64_t number)
{
  char *name = seg_name (number);
  int r = 0;

  if (name == NULL)
    return -ENOMEM;
  if (renameat (j->dirfd, pname, j->dirfd, name) < 0)
    r = -errno;
  free (name);
  return r;
}

static unsigned
count_free (int dirfd)
{
  int fd = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d;
  struct dirent *e;
  unsigned n = 0;

  if (fd < 0 || (d = fdopendir (fd)) == NULL) {
    if (fd >= 0)
      close (fd);
    return 0;
  }
  while ((e = readdir (d)) != NULL)
    n += strncmp (e->d_name, "free-", 5) == 0;
  closedir (d);
  return n;
}

void
prep_recycle (struct journal *j, uint64_t number)
{
  char *name = seg_name (number);
  char fname[64];

  if (name == NULL)
    return;
  snprintf (fname, sizeof fname, "free-%016" PRIx64 ".cdpj", number);
  if (renameat (j->dirfd, name, j->dirfd, fname) < 0)
    unlinkat (j->dirfd, name, 0);
  free (name);
}

void
prep_trim (struct journal *j, uint32_t keep)
{
  unsigned n = count_free (j->dirfd);
  char *name;

  while (n-- > keep && (name = find_prefix (j->dirfd, "free-")) != NULL) {
    unlinkat (j->dirfd, name, 0);
    free (name);
  }
}

void
prep_release (struct journal *j)
{
  char *name;

  pthread_mutex_lock (&j->lock);
  j->prep_hold = true;
  if (j->prep_fd >= 0) {
    close (j->prep_fd);
    j->prep_fd = -1;
    unlinkat (j->dirfd, j->prep_file, 0);
  }
  pthread_mutex_unlock (&j->lock);
  while ((name = find_prefix (j->dirfd, "free-")) != NULL) {
    unlinkat (j->dirfd, name, 0);
    free (name);
  }
}
