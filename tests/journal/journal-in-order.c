/* With several batches in flight, records are still reported durable
 * strictly in sequence order, with times that never decrease, and each
 * appender's records in the order it appended them; what was reported
 * is in the journal byte-exact.  Several appenders of mixed sizes keep
 * enough queued for batches to overlap. */
#include <pthread.h>
#include <semaphore.h>

#include "journal-test.h"

#define THREADS 4
#define PER_THREAD 300
#define QD 16

static struct journal *jr;
static uint64_t last_seq;               /* journal thread only */
static int64_t last_time;
static uint64_t last_of[THREADS];
static sem_t slots[THREADS];
static uint64_t seq_of[THREADS][PER_THREAD];

static uint32_t
size_of (uint64_t key)
{
  return 4096u << (key * 2654435761u >> 7) % 7;    /* 4 KiB .. 256 KiB */
}

static void
done_cb (void *opaque, const struct journal_record *rec, int err)
{
  uint64_t key = (uintptr_t) opaque, t = key / PER_THREAD, i = key % PER_THREAD;

  cr_assert_eq (err, 0);
  cr_assert_eq (rec->seq, last_seq + 1, "seq %lu after %lu",
                (unsigned long) rec->seq, (unsigned long) last_seq);
  cr_assert_geq (rec->time_ns, last_time);
  cr_assert (i == 0 || last_of[t] == i - 1, "thread %lu: %lu after %lu",
             (unsigned long) t, (unsigned long) i, (unsigned long) last_of[t]);
  last_seq = rec->seq;
  last_time = rec->time_ns;
  last_of[t] = i;
  seq_of[t][i] = rec->seq;
  sem_post (&slots[t]);
}

static void *
appender (void *arg)
{
  uintptr_t t = (uintptr_t) arg;
  uint8_t *buf = malloc (256 << 10);

  for (uint64_t i = 0; i < PER_THREAD; i++) {
    uint64_t key = t * PER_THREAD + i;
    struct journal_record e = { .type = JOURNAL_WRITE, .disk = (uint32_t) t,
                                .offset = key * 4096, .length = size_of (key),
                                .payload_len = size_of (key) };
    while (sem_wait (&slots[t]) < 0)
      ;
    fill_payload (buf, e.payload_len, key);
    cr_assert_eq (journal_append (jr, &e, buf, done_cb, (void *) key), 0);
  }
  free (buf);
  return NULL;
}

Test (journal_in_order, callbacks_in_sequence_order, .timeout = 120)
{
  char *dir = make_tmpdir ();
  struct journal_options o = { .segment_size = 16 << 20,
                               .batch_bytes = 1 << 20, .create = true };
  pthread_t th[THREADS];
  struct journal_record *recs;
  struct journal_reader *r;

  cr_assert_eq (journal_open (dir, &o, &jr), 0);
  for (uintptr_t t = 0; t < THREADS; t++) {
    sem_init (&slots[t], 0, QD);
    pthread_create (&th[t], NULL, appender, (void *) t);
  }
  for (int t = 0; t < THREADS; t++)
    pthread_join (th[t], NULL);
  journal_wait (jr);
  journal_close (jr);
  cr_assert_eq (last_seq, THREADS * PER_THREAD);

  cr_assert_eq (all_records (dir, &recs), THREADS * PER_THREAD);
  cr_assert_eq (journal_reader_open (dir, &r), 0);
  for (uint64_t t = 0; t < THREADS; t++)
    for (uint64_t i = 0; i < PER_THREAD; i++) {
      struct journal_record *rec = &recs[seq_of[t][i] - 1];
      uint64_t key = t * PER_THREAD + i;
      cr_assert_eq (rec->offset, key * 4096);
      cr_assert_eq (rec->payload_len, size_of (key));
      check_payload (r, rec, key);
    }
  journal_reader_close (r);
  free (recs);
  remove_tree (dir);
  free (dir);
}
