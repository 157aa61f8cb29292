/* Two processes push, forget and collect (grace 0) in one directory at
 * once, their disks sharing chunks that fall out of use and come back:
 * no chunk that a complete index names ever goes missing, and every
 * point left reads back byte for byte. */
#include <signal.h>
#include <sys/wait.h>

#include "tests/archive/archive-test.h"

#define T0 INT64_C(1765000000000000000)
#define ITER 12
#define NCHUNKS 6

/* The disk of iteration i: one base, two chunks changed to contents
 * that recur every few iterations (and that the other process makes
 * too). */
static void
make_disk (struct memdisk *m, int i)
{
  mem_init (m, NCHUNKS * (uint64_t) CS, 42);
  mem_touch_chunk (m, (uint64_t) (i % NCHUNKS), 1000 + (unsigned) (i % 3));
  mem_touch_chunk (m, (uint64_t) ((i / 2) % NCHUNKS), 2000 + (unsigned) (i % 4));
}

static int
check_own (struct archive *a, const char *task)
{
  archive_point_vector pts = empty_vector;
  int r = archive_points (a, task, &pts);

  for (size_t i = 0; r == 0 && i < pts.len; i++) {
    struct archive_point p;
    struct archive_verify_stats vs;
    r = archive_point_load (a, task, pts.ptr[i].time_ns, &p);
    if (r == 0)
      r = archive_verify (a, &p, NULL, 2, NULL, NULL, &vs);
    if (r < 0)
      fprintf (stderr, "%s: %s\n", task, cdp_get_error ());
    archive_point_free (&p);
  }
  archive_points_reset (&pts);
  return r;
}

static void
child (const char *dir, int id)
{
  struct archive *a = open_dir (dir, true);
  char task[8];

  snprintf (task, sizeof task, "vm%d", id);
  for (int i = 0; i < ITER; i++) {
    struct memdisk m;
    struct archive_push_stats st;
    struct archive_gc_stats gs;
    struct archive_point p;

    make_disk (&m, i);
    if (push_one (a, task, T0 + i, &m, &st) < 0 || check_own (a, task) < 0) {
      fprintf (stderr, "%s %d: %s\n", task, i, cdp_get_error ());
      _exit (1);
    }
    mem_free (&m);
    if (i >= 2) {
      if (archive_point_load (a, task, T0 + i - 2, &p) < 0
          || archive_point_forget (a, &p) < 0)
        _exit (2);
      archive_point_free (&p);
    }
    if (archive_gc (a, 0, NULL, &gs) < 0) {
      fprintf (stderr, "gc %s %d: %s\n", task, i, cdp_get_error ());
      _exit (3);
    }
  }
  archive_close (a);
  _exit (0);
}

Test (archive_concurrent, two_pushers_and_collectors)
{
  char *dir = tmp_dir ();
  pid_t pid[2];
  struct archive *a;
  struct archive_verify_stats vs;
  struct archive_gc_stats gs;

  for (int id = 0; id < 2; id++) {
    pid[id] = fork ();
    cr_assert_geq (pid[id], 0);
    if (pid[id] == 0)
      child (dir, id);
  }
  for (int id = 0; id < 2; id++) {
    int status;
    cr_assert_eq (waitpid (pid[id], &status, 0), pid[id]);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0,
               "process %d failed (status %d)", id, status);
  }
  a = open_dir (dir, false);
  cr_assert_eq (archive_verify (a, NULL, NULL, 2, NULL, NULL, &vs), 0, "%s",
                cdp_get_error ());
  for (int id = 0; id < 2; id++)
    for (int i = ITER - 2; i < ITER; i++) {
      struct memdisk m;
      char task[8];
      snprintf (task, sizeof task, "vm%d", id);
      make_disk (&m, i);
      assert_reads_as (a, task, T0 + i, 0, &m);
      mem_free (&m);
    }
  /* What is left is exactly what the four points name. */
  cr_assert_eq (archive_gc (a, 0, NULL, &gs), 0);
  cr_assert_eq (count_objects (a, "chunks/"), vs.chunks);
  archive_close (a);
  rm_tree (dir);
}
