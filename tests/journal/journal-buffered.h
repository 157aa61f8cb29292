/* Helpers shared by the tests of the page cache mode (a sync interval
 * > 0): the marker file, the host's boot id, waiting for a condition,
 * and a child process that appends through the page cache and dies. */
#ifndef CDP_JOURNAL_BUFFERED_H
#define CDP_JOURNAL_BUFFERED_H

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "journal-test.h"

#define SEC 1000000000ll
#define HOUR (3600 * SEC)
#define WAIT_S 120                      /* generous: the machine is loaded */

static inline char *
marker_path (const char *dir)
{
  char *p;

  cr_assert_geq (asprintf (&p, "%s/buffered", dir), 0);
  return p;
}

static inline bool
marker_exists (const char *dir)
{
  char *p = marker_path (dir);
  struct stat st;
  bool e = lstat (p, &st) == 0;

  free (p);
  return e;
}

/* Whole contents of path (NUL-terminated, malloc'd), or NULL. */
static inline char *
slurp (const char *path)
{
  char *buf = calloc (1, 4096);
  int fd = open (path, O_RDONLY);
  ssize_t n;

  if (fd < 0) {
    free (buf);
    return NULL;
  }
  n = read (fd, buf, 4095);
  close (fd);
  if (n < 0) {
    free (buf);
    return NULL;
  }
  return buf;
}

static inline char *
boot_id (void)
{
  char *id = slurp ("/proc/sys/kernel/random/boot_id");

  cr_assert_not_null (id);
  cr_assert_gt (strlen (id), 0);
  return id;
}

/* Does the marker hold this boot's id? */
static inline bool
marker_is_this_boot (const char *dir)
{
  char *p = marker_path (dir), *m = slurp (p), *id = boot_id ();
  bool same = m != NULL && strcmp (m, id) == 0;

  free (p);
  free (m);
  free (id);
  return same;
}

/* Leave the marker as a host booted another time would have. */
static inline void
marker_other_boot (const char *dir)
{
  static const char other[] = "00000000-1111-2222-3333-444444444444\n";
  char *p = marker_path (dir);
  int fd = open (p, O_WRONLY | O_TRUNC);

  cr_assert_geq (fd, 0, "no marker in %s", dir);
  cr_assert_eq (write (fd, other, sizeof other - 1),
                (ssize_t) sizeof other - 1);
  close (fd);
  free (p);
}

static inline int64_t
mono_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * SEC + ts.tv_nsec;
}

/* Poll cond(arg) until it holds or WAIT_S pass; its last value. */
static inline bool
wait_for (bool (*cond) (void *), void *arg)
{
  int64_t end = mono_ns () + WAIT_S * SEC;

  while (!cond (arg)) {
    if (mono_ns () > end)
      return false;
    nanosleep (&(struct timespec) { 0, 2000000 }, NULL);
  }
  return true;
}

static inline bool
marker_gone_cond (void *dir)
{
  return !marker_exists (dir);
}

static inline bool
marker_this_boot_cond (void *dir)
{
  return marker_is_this_boot (dir);
}

/* The size of record k of the children below. */
static inline uint32_t
child_size (uint64_t k)
{
  return 512 * (1 + (k * 2654435761u) % 16);
}

/* What a child reports over its pipe for each acknowledged record. */
struct ack_report {
  uint64_t seq;
  uint64_t key;
  int64_t time_ns;
};

static int child_fd;

static inline void
child_ack (void *opaque, const struct journal_record *rec, int err)
{
  struct ack_report rp = { rec->seq, (uint64_t) (uintptr_t) opaque,
                           rec->time_ns };

  if (err != 0 || write (child_fd, &rp, sizeof rp) != sizeof rp)
    _exit (3);
}

/* In a child: open dir, write through the page cache with an interval
 * of an hour (nothing is synced but what a segment switch forces), ack
 * every record over fd, and SIGKILL itself after nrec records, each
 * waited for (one batch each) when one_by_one. */
static inline void __attribute__ ((noreturn))
child_append (const char *dir, uint32_t segment_size, uint64_t nrec,
              bool one_by_one, int fd)
{
  struct journal_options o = { .segment_size = segment_size, .create = true };
  struct journal *j;
  uint8_t *buf = malloc (8192);
  int err;

  child_fd = fd;
  err = journal_open (dir, &o, &j);
  if (err < 0) {
    fprintf (stderr, "journal_open: %s: %s\n", strerror (-err),
             cdp_get_error ());
    _exit (2);
  }
  journal_set_sync_interval (j, HOUR);
  for (uint64_t k = 1; k <= nrec; k++) {
    uint32_t len = child_size (k);
    struct journal_record e = { .type = JOURNAL_WRITE, .offset = k * 512,
                                .length = len, .payload_len = len };
    struct journal_record got;
    fill_payload (buf, len, k);
    if (one_by_one) {
      if (append_sync (j, JOURNAL_WRITE, 0, k * 512, len, buf, len, &got) != 0)
        _exit (4);
      child_ack ((void *) (uintptr_t) k, &got, 0);
    }
    else if (journal_append (j, &e, buf, child_ack, (void *) (uintptr_t) k) < 0)
      _exit (4);
  }
  journal_wait (j);
  raise (SIGKILL);
  _exit (5);
}

/* Run child(arg, fd) in a child process, which reports acks over fd
 * and never returns, and collect its acks.  kill_ms < 0: the child kills
 * itself; else it is SIGKILLed kill_ms after it started (or after its
 * first ack, if after_first).  Returns how many; asserts the child died
 * of SIGKILL. */
static inline size_t
collect_child (void (*child) (void *arg, int fd), void *arg, long kill_ms,
               bool after_first, struct ack_report **acks)
{
  struct ack_report rp;
  size_t n = 0, cap = 1024;
  int p[2], status;
  pid_t pid;

  *acks = malloc (cap * sizeof **acks);
  cr_assert_not_null (*acks);
  cr_assert_eq (pipe (p), 0);
  pid = fork ();
  cr_assert_geq (pid, 0);
  if (pid == 0) {
    close (p[0]);
    child (arg, p[1]);
    _exit (6);
  }
  close (p[1]);
  if (kill_ms >= 0) {
    /* Not a timing assertion: the kill lands wherever it lands. */
    if (after_first && read (p[0], &rp, sizeof rp) == sizeof rp)
      (*acks)[n++] = rp;
    nanosleep (&(struct timespec) { kill_ms / 1000, kill_ms % 1000 * 1000000L },
               NULL);
    kill (pid, SIGKILL);
  }
  while (read (p[0], &rp, sizeof rp) == sizeof rp) {
    if (n == cap) {
      *acks = realloc (*acks, (cap *= 2) * sizeof **acks);
      cr_assert_not_null (*acks);
    }
    (*acks)[n++] = rp;
  }
  close (p[0]);
  cr_assert_eq (waitpid (pid, &status, 0), pid);
  cr_assert (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL,
             "child did not die of SIGKILL: status %d", status);
  return n;
}

struct append_args {
  const char *dir;
  uint32_t segment_size;
  uint64_t nrec;
  bool one_by_one;
};

static inline void
child_append_args (void *arg, int fd)
{
  const struct append_args *a = arg;

  child_append (a->dir, a->segment_size, a->nrec, a->one_by_one, fd);
}

/* Run child_append in a child and collect its acks; returns how many
 * (the child was killed by its own SIGKILL). */
static inline size_t
run_child (const char *dir, uint32_t segment_size, uint64_t nrec,
           bool one_by_one, struct ack_report **acks)
{
  struct append_args a = { dir, segment_size, nrec, one_by_one };
  size_t n = collect_child (child_append_args, &a, -1, false, acks);

  cr_assert_leq (n, nrec);
  return n;
}

/* Every acknowledged record is in dir, in its place, byte for byte. */
static inline void
check_acks (const char *dir, const struct ack_report *acks, size_t n)
{
  struct journal_record *recs;
  struct journal_reader *r;
  size_t have = all_records (dir, &recs);

  cr_assert_eq (journal_reader_open (dir, &r), 0);
  for (size_t i = 0; i < have; i++)
    cr_assert_eq (recs[i].seq, i + 1, "sequence is dense");
  for (size_t i = 0; i < n; i++) {
    uint64_t s = acks[i].seq;
    cr_assert_leq (s, have, "acknowledged seq %lu missing (%zu records)",
                   (unsigned long) s, have);
    cr_assert_eq (recs[s - 1].offset, acks[i].key * 512);
    cr_assert_eq (recs[s - 1].time_ns, acks[i].time_ns);
    check_payload (r, &recs[s - 1], acks[i].key);
  }
  journal_reader_close (r);
  free (recs);
}

#endif
