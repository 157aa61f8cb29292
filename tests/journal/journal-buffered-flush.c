/* journal_flush makes every record acknowledged before the call durable
 * and then calls done: at once on the caller's thread when nothing is
 * pending; only once journal_durable_seq covers them when something is
 * (the interval, an hour, never comes); from inside a record's callback,
 * covering that record (as a FUA write asks); and for several flushers
 * on several threads at once. */
#include "journal-buffered.h"

struct flush_wait {
  pthread_mutex_t m;
  pthread_cond_t c;
  bool done;
  int err;
  pthread_t thread;                     /* done ran here */
  uint64_t durable;                     /* journal_durable_seq then */
  uint64_t target;                      /* the caller's newest ack */
};

static struct journal *jrnl;

static void
flush_done (void *opaque, int err)
{
  struct flush_wait *w = opaque;

  pthread_mutex_lock (&w->m);
  cr_assert (!w->done, "done called twice");
  w->done = true;
  w->err = err;
  w->thread = pthread_self ();
  w->durable = journal_durable_seq (jrnl);
  pthread_cond_broadcast (&w->c);
  pthread_mutex_unlock (&w->m);
}

static void
flush_init (struct flush_wait *w)
{
  memset (w, 0, sizeof *w);
  pthread_mutex_init (&w->m, NULL);
  pthread_cond_init (&w->c, NULL);
}

static void
flush_wait_done (struct flush_wait *w)
{
  pthread_mutex_lock (&w->m);
  while (!w->done)
    pthread_cond_wait (&w->c, &w->m);
  pthread_mutex_unlock (&w->m);
  pthread_mutex_destroy (&w->m);
  pthread_cond_destroy (&w->c);
}

static struct journal *
open_buffered (const char *dir)
{
  struct journal_options o = { .segment_size = 16 << 20, .create = true };

  cr_assert_eq (journal_open (dir, &o, &jrnl), 0);
  cr_assert_eq (journal_set_sync_interval (jrnl, HOUR), 0);
  return jrnl;
}

Test (journal_buffered_flush, nothing_pending_runs_done_at_once)
{
  char *dir = make_tmpdir ();
  struct flush_wait w;

  open_buffered (dir);
  flush_init (&w);
  cr_assert_eq (journal_flush (jrnl, flush_done, &w), 0);
  cr_assert (w.done, "nothing pending, yet done did not run at once");
  cr_assert (pthread_equal (w.thread, pthread_self ()));
  cr_assert_eq (w.err, 0);
  flush_wait_done (&w);
  cr_assert_eq (journal_flush (jrnl, NULL, NULL), 0);

  /* Something made durable: nothing pending again. */
  cr_assert_eq (append_numbered (jrnl, 1, 4096, NULL), 0);
  flush_init (&w);
  cr_assert_eq (journal_flush (jrnl, flush_done, &w), 0);
  flush_wait_done (&w);
  flush_init (&w);
  cr_assert_eq (journal_flush (jrnl, flush_done, &w), 0);
  cr_assert (w.done && pthread_equal (w.thread, pthread_self ()));
  flush_wait_done (&w);
  journal_close (jrnl);
  remove_tree (dir);
  free (dir);
}

Test (journal_buffered_flush, pending_runs_done_once_durable, .timeout = 300)
{
  char *dir = make_tmpdir ();
  struct flush_wait w;
  uint64_t last = 0;

  open_buffered (dir);
  for (int round = 1; round <= 20; round++) {
    for (int i = 0; i < round; i++) {
      struct journal_record rec = { 0 };
      cr_assert_eq (append_numbered (jrnl, last + 1, 512 * round, &rec), 0);
      cr_assert_eq (rec.seq, ++last);
    }
    cr_assert_lt (journal_durable_seq (jrnl), last,
                  "durable without a sync, with an interval of an hour");
    cr_assert_neq (journal_unsynced_since (jrnl), 0);
    flush_init (&w);
    cr_assert_eq (journal_flush (jrnl, flush_done, &w), 0);
    flush_wait_done (&w);
    cr_assert_eq (w.err, 0);
    cr_assert (!pthread_equal (w.thread, pthread_self ()),
               "done ran at once with records pending");
    cr_assert_geq (w.durable, last, "done before seq %lu was durable "
                   "(durable %lu)", (unsigned long) last,
                   (unsigned long) w.durable);
    cr_assert_eq (journal_unsynced_since (jrnl), 0);
  }
  journal_close (jrnl);
  cr_assert_eq (count_records (dir), (int64_t) last);
  remove_tree (dir);
  free (dir);
}

/* A record callback that asks for its record to be durable. */
struct fua {
  struct flush_wait w;
  uint64_t seq;
  int ret;
};

static void
fua_ack (void *opaque, const struct journal_record *rec, int err)
{
  struct fua *f = opaque;

  cr_assert_eq (err, 0);
  f->seq = rec->seq;
  f->w.target = rec->seq;
  f->ret = journal_flush (jrnl, flush_done, &f->w);
}

Test (journal_buffered_flush, from_a_record_callback, .timeout = 300)
{
  char *dir = make_tmpdir ();
  uint8_t buf[8192];
  struct fua f[64];

  open_buffered (dir);
  for (int round = 0; round < 10; round++) {
    /* Plain records before, then a few FUA ones, some in one batch. */
    for (int i = 0; i < 5; i++)
      cr_assert_eq (append_numbered (jrnl, 1000 + i, 4096, NULL), 0);
    for (size_t k = 0; k < 64; k++) {
      struct journal_record e = { .type = JOURNAL_WRITE, .offset = k * 8192,
                                  .length = sizeof buf,
                                  .payload_len = sizeof buf };
      flush_init (&f[k].w);
      f[k].ret = 1;
      fill_payload (buf, sizeof buf, k);
      cr_assert_eq (journal_append (jrnl, &e, buf, fua_ack, &f[k]), 0);
    }
    journal_wait (jrnl);
    for (size_t k = 0; k < 64; k++) {
      cr_assert_eq (f[k].ret, 0);
      flush_wait_done (&f[k].w);
      cr_assert_eq (f[k].w.err, 0);
      cr_assert_geq (f[k].w.durable, f[k].seq,
                     "FUA record %lu not durable at its flush's done "
                     "(durable %lu)", (unsigned long) f[k].seq,
                     (unsigned long) f[k].w.durable);
    }
  }
  journal_close (jrnl);
  remove_tree (dir);
  free (dir);
}

#define FLUSHERS 4
#define FLUSHES 60

static void *
flusher (void *arg)
{
  uintptr_t t = (uintptr_t) arg;
  struct flush_wait w;

  for (uint64_t i = 0; i < FLUSHES; i++) {
    struct journal_record rec = { 0 };
    uint64_t key = t * 1000000 + i;
    cr_assert_eq (append_numbered (jrnl, key, 512 * (1 + i % 8), &rec), 0);
    flush_init (&w);
    w.target = rec.seq;
    cr_assert_eq (journal_flush (jrnl, flush_done, &w), 0);
    flush_wait_done (&w);
    cr_assert_eq (w.err, 0);
    cr_assert_geq (w.durable, rec.seq, "thread %lu: seq %lu not durable at "
                   "done (durable %lu)", (unsigned long) t,
                   (unsigned long) rec.seq, (unsigned long) w.durable);
    cr_assert_geq (journal_durable_seq (jrnl), rec.seq);
  }
  return NULL;
}

Test (journal_buffered_flush, concurrent_flushers, .timeout = 300)
{
  char *dir = make_tmpdir ();
  pthread_t th[FLUSHERS];

  open_buffered (dir);
  for (uintptr_t t = 0; t < FLUSHERS; t++)
    cr_assert_eq (pthread_create (&th[t], NULL, flusher, (void *) t), 0);
  for (int t = 0; t < FLUSHERS; t++)
    pthread_join (th[t], NULL);
  cr_assert_eq (journal_durable_seq (jrnl), FLUSHERS * FLUSHES);
  cr_assert_eq (journal_last_seq (jrnl), FLUSHERS * FLUSHES);
  journal_close (jrnl);
  cr_assert_eq (count_records (dir), FLUSHERS * FLUSHES);
  remove_tree (dir);
  free (dir);
}

/* A flush asked for just as a sync covering its records completes (the
 * journal syncs on its own every 250 us here) is still answered, with
 * no other record or flush to come and wake the journal. */
#define RACES 20000

Test (journal_buffered_flush, racing_a_sync, .timeout = 900)
{
  char *dir = make_tmpdir ();
  struct flush_wait w;
  struct timespec dl;
  uint8_t buf[512];

  open_buffered (dir);
  cr_assert_eq (journal_set_sync_interval (jrnl, 1000000), 0);
  memset (buf, 0, sizeof buf);
  for (int i = 0; i < RACES; i++) {
    struct journal_record e = { .type = JOURNAL_WRITE, .offset = 0,
                                .length = sizeof buf,
                                .payload_len = sizeof buf };
    bool done;
    cr_assert_eq (journal_append (jrnl, &e, buf, NULL, NULL), 0);
    journal_wait (jrnl);
    flush_init (&w);
    cr_assert_eq (journal_flush (jrnl, flush_done, &w), 0);
    clock_gettime (CLOCK_REALTIME, &dl);
    dl.tv_sec += WAIT_S;
    pthread_mutex_lock (&w.m);
    while (!w.done && pthread_cond_timedwait (&w.c, &w.m, &dl) == 0)
      ;
    done = w.done;
    pthread_mutex_unlock (&w.m);
    cr_assert (done, "flush %d never answered (durable %lu, last %lu)", i,
               (unsigned long) journal_durable_seq (jrnl),
               (unsigned long) journal_last_seq (jrnl));
    flush_wait_done (&w);
    cr_assert_geq (w.durable, (uint64_t) i + 1);
  }
  journal_close (jrnl);
  remove_tree (dir);
  free (dir);
}
