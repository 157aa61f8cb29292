/* A push killed (SIGKILL) in the middle leaves chunks and no point; its
 * rerun uploads only the chunks that are missing and the point reads
 * back.  A collection killed in the middle loses no chunk of any
 * point; its rerun removes the rest, and a push after it does not wait
 * for the dead one. */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "tests/archive/archive-test.h"

#define T1 INT64_C(1765000000000000000)
#define NCHUNKS 16

static void
wait_a_little (void)
{
  struct timespec t = { 0, 10000000 };

  nanosleep (&t, NULL);
}

/* Kill pid once cond (polled) holds; it must still have been running. */
static void
kill_when (pid_t pid, bool (*cond) (void *), void *opaque)
{
  int status;

  while (!cond (opaque)) {
    cr_assert_eq (waitpid (pid, &status, WNOHANG), 0,
                  "the child ended before it could be killed");
    wait_a_little ();
  }
  cr_assert_eq (kill (pid, SIGKILL), 0);
  cr_assert_eq (waitpid (pid, &status, 0), pid);
  cr_assert (WIFSIGNALED (status), "the child ended by itself");
}

struct watch {
  struct archive *a;
  uint64_t n;
};

static bool
some_chunks (void *opaque)
{
  struct watch *w = opaque;

  return count_objects (w->a, "chunks/") >= w->n;
}

static bool
fewer_chunks (void *opaque)
{
  struct watch *w = opaque;

  return count_objects (w->a, "chunks/") <= w->n;
}

Test (archive_kill, push)
{
  char *dir = tmp_dir ();
  struct archive *a = open_dir (dir, true);
  struct memdisk m;
  struct archive_push_stats st;
  struct watch w = { a, 3 };
  uint64_t had;
  pid_t pid;

  mem_init (&m, NCHUNKS * (uint64_t) CS, 21);
  pid = fork ();
  cr_assert_geq (pid, 0);
  if (pid == 0) {
    struct point p;
    struct archive_push_disk d = { "vda", &p };
    struct archive_push o = {
      .task = "vm1", .time_ns = T1, .kind = "push", .store = "/store",
      .ndisks = 1, .disks = &d, .threads = 2, .bandwidth = 2u << 20,
    };
    mem_point (&m, &p);
    archive_push (open_dir (dir, true), &o, &st);
    _exit (0);
  }
  kill_when (pid, some_chunks, &w);
  cr_assert_eq (count_objects (a, "points/"), 0, "a point without all its chunks");
  had = count_objects (a, "chunks/");
  cr_assert_lt (had, NCHUNKS);
  cr_assert_eq (push_one (a, "vm1", T1, &m, &st), 0, "%s", cdp_get_error ());
  cr_assert_eq (st.new_chunks, NCHUNKS - had);
  cr_assert_eq (count_objects (a, "chunks/"), NCHUNKS);
  assert_reads_as (a, "vm1", T1, 0, &m);
  archive_close (a);
  mem_free (&m);
  rm_tree (dir);
}

static int (*real_del) (struct archive_store *, const char *);

static int
slow_del (struct archive_store *s, const char *key)
{
  struct timespec t = { 0, 50000000 };

  nanosleep (&t, NULL);
  return real_del (s, key);
}

Test (archive_kill, gc)
{
  char *dir = tmp_dir ();
  struct archive *a = open_dir (dir, true);
  struct memdisk m1, m2, m3;
  struct archive_push_stats st;
  struct archive_gc_stats gs;
  struct archive_verify_stats vs;
  struct archive_point pt;
  struct watch w = { a, 2 * NCHUNKS - 3 };
  pid_t pid;

  mem_init (&m1, NCHUNKS * (uint64_t) CS, 31);
  mem_init (&m2, NCHUNKS * (uint64_t) CS, 32);
  cr_assert_eq (push_one (a, "vm1", T1, &m1, &st), 0);
  cr_assert_eq (push_one (a, "vm1", T1 + 1, &m2, &st), 0);
  cr_assert_eq (archive_point_load (a, "vm1", T1, &pt), 0);
  cr_assert_eq (archive_point_forget (a, &pt), 0);
  archive_point_free (&pt);
  pid = fork ();
  cr_assert_geq (pid, 0);
  if (pid == 0) {
    /* Slower removals, so that the kill lands inside the sweep. */
    struct archive *c = open_dir (dir, false);
    struct archive_store_ops *ops = malloc (sizeof *ops);
    *ops = *c->s->ops;
    real_del = ops->del;
    ops->del = slow_del;
    c->s->ops = ops;
    archive_gc (c, 0, NULL, &gs);
    _exit (0);
  }
  kill_when (pid, fewer_chunks, &w);
  cr_assert_gt (count_objects (a, "chunks/"), NCHUNKS, "it was not killed "
                "in the middle");
  cr_assert_eq (archive_verify (a, NULL, NULL, 2, NULL, NULL, &vs), 0, "%s",
                cdp_get_error ());
  assert_reads_as (a, "vm1", T1 + 1, 0, &m2);
  cr_assert_eq (archive_gc (a, 0, NULL, &gs), 0, "%s", cdp_get_error ());
  cr_assert_eq (count_objects (a, "chunks/"), NCHUNKS);
  /* The dead collection's record says "running": a push goes on. */
  mem_init (&m3, NCHUNKS * (uint64_t) CS, 31);
  cr_assert_eq (push_one (a, "vm1", T1 + 2, &m3, &st), 0, "%s",
                cdp_get_error ());
  cr_assert_eq (st.new_chunks, NCHUNKS);
  assert_reads_as (a, "vm1", T1 + 2, 0, &m3);
  archive_close (a);
  mem_free (&m1);
  mem_free (&m2);
  mem_free (&m3);
  rm_tree (dir);
}
