/* Group commit: records queued while a batch is being written go down
 * together in the next batch, so that many concurrent appenders need far
 * fewer device writes than records. */
#include <pthread.h>

#include "journal-test.h"

#define THREADS 32
#define PER_THREAD 64

static struct journal *jr;

static void *
appender (void *arg)
{
  uintptr_t t = (uintptr_t) arg;

  for (int i = 0; i < PER_THREAD; i++)
    cr_assert_eq (append_numbered (jr, t * 1000 + i, 4096, NULL), 0);
  return NULL;
}

Test (journal_group_commit, concurrent_appends_share_batches)
{
  char *dir = make_tmpdir ();
  struct journal_options o = { .segment_size = 16 << 20, .create = true };
  pthread_t th[THREADS];
  struct journal_stats st;

  cr_assert_eq (journal_open (dir, &o, &jr), 0);
  for (uintptr_t t = 0; t < THREADS; t++)
    pthread_create (&th[t], NULL, appender, (void *) t);
  for (int t = 0; t < THREADS; t++)
    pthread_join (th[t], NULL);
  journal_stats (jr, &st);
  cr_assert_eq (st.records, THREADS * PER_THREAD);
  cr_assert_lt (st.batches * 4, st.records,
                "%lu batches for %lu records", (unsigned long) st.batches,
                (unsigned long) st.records);
  cr_assert_eq (st.payload_bytes, (uint64_t) THREADS * PER_THREAD * 4096);
  cr_log_info ("%lu records in %lu batches", (unsigned long) st.records,
               (unsigned long) st.batches);
  journal_close (jr);
  cr_assert_eq (count_records (dir), THREADS * PER_THREAD);
  remove_tree (dir);
  free (dir);
}
