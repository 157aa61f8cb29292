/* The process dies in the page cache mode (SIGKILL, nothing synced with
 * an interval of an hour): the host's page cache still holds every
 * record it acknowledged.  The next open finds them all, reports no
 * lost tail (the marker holds this boot's id) and, writing at interval
 * 0, removes the marker.  Repeated on one journal, killed once after its
 * last ack and then at random moments. */
#include "common/error.h"
#include "journal-buffered.h"

#define ROUNDS 10
#define NREC 4000

static size_t
kill_at_random (const char *dir, struct ack_report **acks)
{
  struct append_args a = { dir, 2 << 20, NREC, false };

  return collect_child (child_append_args, &a, rand () % 50, true, acks);
}

static void
reopen_and_check (const char *dir, const struct ack_report *acks, size_t n)
{
  struct journal *j;
  int64_t since = 0;

  cr_assert (n == 0 || marker_is_this_boot (dir),
             "acknowledged records, and no marker of this boot");
  /* What the child acknowledged is readable before any recovery ... */
  check_acks (dir, acks, n);
  cr_assert_eq (journal_open (dir, NULL, &j), 0, "%s", cdp_get_error ());
  cr_assert (!journal_lost_tail (j, &since), "lost tail reported after a "
             "process crash (since %ld)", (long) since);
  cr_assert (!marker_exists (dir), "marker left at interval 0");
  cr_assert_geq (journal_last_seq (j), n ? acks[n - 1].seq : 0);
  journal_close (j);
  /* ... and after. */
  check_acks (dir, acks, n);
}

Test (journal_buffered_crash, process_crash_loses_nothing, .timeout = 600)
{
  char *dir = make_tmpdir ();
  struct ack_report *acks;
  size_t n;

  n = run_child (dir, 2 << 20, 2000, false, &acks);
  cr_assert_eq (n, 2000, "the child acknowledged %zu of 2000", n);
  reopen_and_check (dir, acks, n);
  free (acks);

  srand (time (NULL));
  for (int round = 0; round < ROUNDS; round++) {
    n = kill_at_random (dir, &acks);
    reopen_and_check (dir, acks, n);
    free (acks);
  }
  remove_tree (dir);
  free (dir);
}

/* Killed at a random moment while the interval switches between 0 and
 * 1 s every few hundred records: the same holds in every mode and in
 * the middle of a switch. */
static void __attribute__ ((noreturn))
child_switching (void *dir, int fd)
{
  struct journal_options o = { .segment_size = 2 << 20, .create = true };
  struct journal *j;
  uint8_t *buf = malloc (8192);

  child_fd = fd;
  if (journal_open (dir, &o, &j) < 0)
    _exit (2);
  for (uint64_t k = 1;; k++) {
    uint32_t len = child_size (k);
    struct journal_record e = { .type = JOURNAL_WRITE, .offset = k * 512,
                                .length = len, .payload_len = len };
    if (k % 300 == 0)
      journal_set_sync_interval (j, (k / 300) % 2 ? SEC : 0);
    fill_payload (buf, len, k);
    if (journal_append (j, &e, buf, child_ack, (void *) (uintptr_t) k) < 0)
      _exit (4);
  }
}

Test (journal_buffered_crash, killed_while_switching, .timeout = 600)
{
  char *dir = make_tmpdir ();
  struct ack_report *acks = NULL;
  size_t n;

  srand (time (NULL));
  for (int round = 0; round < ROUNDS; round++) {
    n = collect_child (child_switching, dir, 20 + rand () % 300, false,
                       &acks);
    if (marker_exists (dir))
      cr_assert (marker_is_this_boot (dir));
    check_acks (dir, acks, n);
    {
      /* Opened as the receiver opens it, creating it if need be: the
       * kill may land before the child's open has made its first
       * segment (nothing acknowledged, no journal yet), and a journal
       * half created must open as well as one half written. */
      struct journal_options o = { .segment_size = 2 << 20, .create = true };
      struct journal *j;
      cr_assert_eq (journal_open (dir, &o, &j), 0, "round %d: %s", round,
                    cdp_get_error ());
      cr_assert (!journal_lost_tail (j, NULL));
      journal_close (j);
    }
    cr_assert (!marker_exists (dir));
    check_acks (dir, acks, n);
    free (acks);
  }
  remove_tree (dir);
  free (dir);
}
