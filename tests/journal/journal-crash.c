/* SIGKILL at a random moment loses nothing that was reported durable: a
 * child appends and reports every durable record over a pipe; after the
 * kill, every reported record is in the journal, byte-exact.  Repeated
 * on one journal, so each round also recovers from the previous one. */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "journal-test.h"

#define ROUNDS 25

struct report {
  uint64_t seq;
  uint64_t key;
};

static int report_fd;

static void
report_cb (void *opaque, const struct journal_record *rec, int err)
{
  struct report rp = { rec->seq, (uint64_t) (uintptr_t) opaque };

  if (err == 0 && write (report_fd, &rp, sizeof rp) != sizeof rp)
    _exit (3);
}

static void __attribute__ ((noreturn))
child (const char *dir, uint64_t base)
{
  struct journal_options o = { .segment_size = 2 << 20, .batch_bytes = 1 << 20,
                               .create = true };
  struct journal *j;
  uint8_t *buf = malloc (65536);

  int err = journal_open (dir, &o, &j);
  if (err < 0) {
    fprintf (stderr, "journal_open: %s: %s\n", strerror (-err),
             cdp_get_error ());
    _exit (2);
  }
  for (uint64_t k = base;; k++) {
    uint32_t len = 512 * (1 + (k * 2654435761u) % 128);
    struct journal_record e = { .type = JOURNAL_WRITE, .offset = k * 512,
                                .length = len, .payload_len = len };
    fill_payload (buf, len, k);
    if (journal_append (j, &e, buf, report_cb, (void *) (uintptr_t) k) < 0)
      _exit (4);
  }
}

static size_t
run_round (const char *dir, uint64_t base, struct report **reps, size_t n)
{
  int p[2];
  pid_t pid;
  struct report rp;
  struct timespec ts = { 0, (5 + rand () % 150) * 1000000L };
  int status;

  cr_assert_eq (pipe (p), 0);
  pid = fork ();
  if (pid == 0) {
    close (p[0]);
    report_fd = p[1];
    child (dir, base);
  }
  close (p[1]);
  nanosleep (&ts, NULL);
  kill (pid, SIGKILL);
  while (read (p[0], &rp, sizeof rp) == sizeof rp) {
    *reps = realloc (*reps, (n + 1) * sizeof **reps);
    (*reps)[n++] = rp;
  }
  close (p[0]);
  cr_assert_eq (waitpid (pid, &status, 0), pid);
  cr_assert (WIFSIGNALED (status), "child exited early: %d", status);
  return n;
}

Test (journal_crash, sigkill_loses_no_durable_record, .timeout = 240)
{
  char *dir = make_tmpdir ();
  struct report *reps = NULL;
  struct journal_record *recs;
  struct journal_reader *r;
  size_t n = 0, nrec;

  srand (time (NULL));
  for (int round = 0; round < ROUNDS; round++)
    n = run_round (dir, (uint64_t) round << 32, &reps, n);
  cr_assert_gt (n, 0);

  nrec = all_records (dir, &recs);
  cr_assert_eq (journal_reader_open (dir, &r), 0);
  for (size_t i = 0; i < nrec; i++)
    cr_assert_eq (recs[i].seq, i + 1, "sequence is dense");
  for (size_t i = 0; i < n; i++) {
    uint64_t s = reps[i].seq;
    cr_assert_leq (s, nrec, "reported seq %lu missing", (unsigned long) s);
    cr_assert_eq (recs[s - 1].offset, reps[i].key * 512);
    check_payload (r, &recs[s - 1], reps[i].key);
  }
  cr_log_info ("%zu durable records checked over %d kills", n, ROUNDS);
  journal_reader_close (r);
  free (recs);
  free (reps);
  remove_tree (dir);
  free (dir);
}
