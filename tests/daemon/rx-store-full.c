/* A write the journal has no room for is held, not failed: the
 * receiver calls its on_full callback and leaves the write unanswered;
 * receiver_retry_stalled (r, 0), once there is room again, journals it
 * and answers it; receiver_retry_stalled (r, -ENOSPC) fails it, and the
 * client sees ENOSPC with nothing journaled of it.  What was answered
 * before stays in the journal.  The journal lives on a small tmpfs
 * mounted for the test, filled up with a file. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "tests/daemon/daemon-test.h"

#define SIZE (8u << 20)
#define LEN (128u << 10)          /* the largest request of 1 MiB segments */

struct writer {
  struct dt *d;
  pthread_t thread;
  atomic_bool stop;
  atomic_uint started;            /* writes sent */
  atomic_uint answered;           /* writes answered */
  int last_err;                   /* errno of the last write, 0: it worked */
  unsigned base;                  /* first write's number */
};

static struct dt_flag full = DT_FLAG_INIT;

static void
on_full (void *opaque)
{
  dt_flag_raise (&full);
}

static uint64_t
offset_of (unsigned n)
{
  return (uint64_t) n * LEN % SIZE;
}

/* Writes of LEN bytes, one after the other, until told to stop or one
 * fails. */
static void *
writer_thread (void *arg)
{
  struct writer *w = arg;
  struct nbd_handle *h = dt_connect (w->d);

  while (!atomic_load (&w->stop) && w->last_err == 0) {
    unsigned n = w->base + atomic_load (&w->started);
    void *buf = dt_pattern (LEN, n);
    atomic_fetch_add (&w->started, 1);
    w->last_err = nbd_pwrite (h, buf, LEN, offset_of (n), 0) == 0
                  ? 0 : nbd_get_errno ();
    atomic_fetch_add (&w->answered, 1);
    free (buf);
  }
  dt_disconnect (h);
  return NULL;
}

/* Fill the file system of dir up with the file name. */
static void
fill (const char *dir, const char *name)
{
  char path[256], block[4096];
  int fd;

  memset (block, 0x55, sizeof block);
  snprintf (path, sizeof path, "%s/%s", dir, name);
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  cr_assert_geq (fd, 0);
  while (write (fd, block, sizeof block) == sizeof block)
    ;
  close (fd);
}

static void
start_writer (struct writer *w, struct dt *d, unsigned base)
{
  *w = (struct writer) { .d = d, .base = base };
  cr_assert_eq (pthread_create (&w->thread, NULL, writer_thread, w), 0);
}

/* Wait for the writer's next write to be held: on_full called, that
 * write (the one in flight) unanswered. */
static void
wait_held (struct writer *w, unsigned seen)
{
  dt_flag_wait (&full, seen);
  atomic_store (&w->stop, true);
  cr_assert_eq (w->last_err, 0, "a write failed: %s", strerror (w->last_err));
  cr_assert_eq (atomic_load (&w->answered) + 1, atomic_load (&w->started),
                "the write the journal had no room for was answered");
}

Test (rx_store_full, held_then_journaled_or_failed, .timeout = 300)
{
  struct dt d;
  struct writer w;
  struct journal_record rec;
  char *jdir, path[256];
  void *want, *got = malloc (LEN);
  uint64_t seq;
  unsigned n;

  dt_task (&d, SIZE, 1u << 20);
  jdir = task_path (d.t, "journal");
  cr_assert_eq (mkdir_p (jdir, 0700), 0);
  dt_mount_tmpfs (jdir, "4m");
  dt_start (&d);
  receiver_on_full (d.r, on_full, NULL);

  /* Held, then journaled once there is room again. */
  fill (jdir, "filler");
  start_writer (&w, &d, 0);
  wait_held (&w, 0);
  snprintf (path, sizeof path, "%s/filler", jdir);
  cr_assert_eq (unlink (path), 0);
  cr_assert_eq (receiver_retry_stalled (d.r, 0), 1);
  pthread_join (w.thread, NULL);
  cr_assert_eq (w.last_err, 0, "the held write failed: %s",
                strerror (w.last_err));
  n = w.base + atomic_load (&w.started) - 1;
  seq = journal_last_seq (receiver_journal (d.r));
  cr_assert_eq (seq, atomic_load (&w.started), "one record per write");
  cr_assert_geq (journal_durable_seq (receiver_journal (d.r)), seq);
  cr_assert (dt_record (&d, seq, &rec, got, LEN));
  want = dt_pattern (LEN, n);
  cr_assert_eq (rec.offset, offset_of (n));
  cr_assert_eq (memcmp (got, want, LEN), 0, "the held write holds other data");
  free (want);

  /* Held, then failed: ENOSPC for the client, nothing journaled. */
  fill (jdir, "filler");
  start_writer (&w, &d, n + 1);
  wait_held (&w, 1);
  seq = journal_last_seq (receiver_journal (d.r));
  cr_assert_eq (receiver_retry_stalled (d.r, -ENOSPC), 1);
  pthread_join (w.thread, NULL);
  cr_assert_eq (w.last_err, ENOSPC, "the failed write: %s",
                strerror (w.last_err));
  cr_assert_eq (journal_last_seq (receiver_journal (d.r)), seq);
  cr_assert_eq (dt_last_record (&d), seq, "the failed write was journaled");
  cr_assert_eq (receiver_retry_stalled (d.r, 0), 0, "nothing is held now");

  /* What was answered before is all there. */
  for (uint64_t s = 1; s <= seq; s++)
    cr_assert (dt_record (&d, s, &rec, NULL, 0), "record %llu lost",
               (unsigned long long) s);
  receiver_stop (d.r);
  d.r = NULL;
  cr_assert_eq (umount2 (jdir, 0), 0);
  free (jdir);
  free (got);
  dt_teardown (&d);
}
