/* With a sync interval, a record is acknowledged (err 0) once the kernel
 * holds it, before it is durable: at its callback journal_last_seq has
 * it, journal_durable_seq does not, and journal_unsynced_since is set.
 * Within about the interval, with nothing else asking, the durable
 * callback reports it durable (after its record callback), and then
 * nothing is unsynced. */
#include "journal-buffered.h"

#define ROUNDS 5
#define PER_ROUND 20

enum ev_kind { EV_ACK, EV_DURABLE };

struct event {
  enum ev_kind kind;
  uint64_t seq;                         /* the record's, or durable_seq */
  uint64_t durable_then;                /* journal_durable_seq at the ack */
  uint64_t last_then;                   /* journal_last_seq at the ack */
  int64_t unsynced_then;                /* journal_unsynced_since at the ack */
  int err;
};

static struct journal *jrnl;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct event ev[ROUNDS * PER_ROUND * 2 + 64];
static size_t nev;
static uint64_t durable;

static void
ack_cb (void *opaque, const struct journal_record *rec, int err)
{
  (void) opaque;
  pthread_mutex_lock (&lock);
  cr_assert_lt (nev, sizeof ev / sizeof *ev);
  ev[nev++] = (struct event) {
    .kind = EV_ACK, .seq = rec->seq, .err = err,
    .durable_then = journal_durable_seq (jrnl),
    .last_then = journal_last_seq (jrnl),
    .unsynced_then = journal_unsynced_since (jrnl),
  };
  pthread_cond_broadcast (&cond);
  pthread_mutex_unlock (&lock);
}

static void
durable_cb (void *opaque, uint64_t seq, int err, int64_t oldest)
{
  (void) opaque;
  (void) oldest;
  pthread_mutex_lock (&lock);
  if (nev < sizeof ev / sizeof *ev)
    ev[nev++] = (struct event) { .kind = EV_DURABLE, .seq = seq, .err = err };
  if (seq > durable)
    durable = seq;
  pthread_cond_broadcast (&cond);
  pthread_mutex_unlock (&lock);
}

/* Wait until the durable callback has reported seq, WAIT_S at most. */
static bool
wait_durable (uint64_t seq)
{
  struct timespec dl;
  bool ok = true;

  clock_gettime (CLOCK_REALTIME, &dl);
  dl.tv_sec += WAIT_S;
  pthread_mutex_lock (&lock);
  while (durable < seq && ok)
    ok = pthread_cond_timedwait (&cond, &lock, &dl) == 0 || durable >= seq;
  pthread_mutex_unlock (&lock);
  return ok;
}

Test (journal_buffered_ack, acknowledged_before_durable, .timeout = 600)
{
  char *dir = make_tmpdir ();
  struct journal_options o = { .segment_size = 8 << 20, .create = true };
  uint8_t buf[4096];
  uint64_t seq = 0;

  cr_assert_eq (journal_open (dir, &o, &jrnl), 0);
  journal_set_durable_cb (jrnl, durable_cb, NULL);
  cr_assert_eq (journal_set_sync_interval (jrnl, -1), -EINVAL);
  cr_assert_eq (journal_set_sync_interval (jrnl, SEC), 0);
  cr_assert_eq (journal_unsynced_since (jrnl), 0);

  for (int round = 0; round < ROUNDS; round++) {
    size_t first = nev;
    for (int i = 0; i < PER_ROUND; i++) {
      struct journal_record e = { .type = JOURNAL_WRITE, .offset = seq * 4096,
                                  .length = sizeof buf,
                                  .payload_len = sizeof buf };
      fill_payload (buf, sizeof buf, seq + 1);
      cr_assert_eq (journal_append (jrnl, &e, buf, ack_cb, NULL), 0);
      seq++;
    }
    journal_wait (jrnl);
    cr_assert (wait_durable (seq), "seq %lu never reported durable",
               (unsigned long) seq);
    cr_assert_geq (journal_durable_seq (jrnl), seq);
    cr_assert_eq (journal_last_seq (jrnl), seq);
    cr_assert_eq (journal_unsynced_since (jrnl), 0,
                  "all durable, yet something is unsynced");

    /* The round's events: every record acknowledged with err 0 before
     * it was durable, in order, and reported durable after its ack. */
    pthread_mutex_lock (&lock);
    uint64_t next = seq - PER_ROUND + 1, dur = 0;
    bool lagged = false;
    for (size_t k = first; k < nev; k++) {
      if (ev[k].kind == EV_DURABLE) {
        cr_assert_eq (ev[k].err, 0);
        cr_assert_geq (ev[k].seq, dur, "durable_seq went back");
        cr_assert_lt (ev[k].seq, next, "durable %lu before its ack",
                      (unsigned long) ev[k].seq);
        dur = ev[k].seq;
        continue;
      }
      cr_assert_eq (ev[k].err, 0);
      cr_assert_eq (ev[k].seq, next++, "acks in sequence order");
      cr_assert_geq (ev[k].last_then, ev[k].seq,
                    "journal_last_seq at the ack of %lu is %lu",
                    (unsigned long) ev[k].seq,
                    (unsigned long) ev[k].last_then);
      cr_assert_lt (ev[k].durable_then, ev[k].seq,
                    "seq %lu durable at its ack", (unsigned long) ev[k].seq);
      cr_assert_neq (ev[k].unsynced_then, 0,
                     "seq %lu pending but nothing unsynced",
                     (unsigned long) ev[k].seq);
      lagged = true;
    }
    cr_assert (lagged);
    cr_assert_eq (next, seq + 1);
    cr_assert_eq (dur, seq, "the last durable event covers the round");
    pthread_mutex_unlock (&lock);
  }
  journal_close (jrnl);
  cr_assert_eq (count_records (dir), (int64_t) seq);
  remove_tree (dir);
  free (dir);
}
