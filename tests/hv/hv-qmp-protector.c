/* The QMP driver's protector thread, against a scripted QMP peer: a
 * monitor that does not answer leaves each disk "not protected" with
 * that reason and journals nothing; one that answers but cannot mirror
 * the node (QEMU has no such node) journals a gap before the copy would
 * start and leaves the disk "not protected" with QEMU's reason; either
 * way the thread ends when the task is let go. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "cdp/hv/protect.h"
#include "common/timeutil.h"

/* Wait (at most 60 s: the machine may be loaded) until disk 0 shows
 * state with a reason holding `reason`. */
static bool
wait_state (struct served *s, const char *state, const char *reason)
{
  int64_t deadline = time_now_ns () + 60 * 1000000000LL;

  while (time_now_ns () < deadline) {
    bool seen;
    pthread_mutex_lock (&s->lock);
    seen = strcmp (s->ds[0].state, state) == 0 &&
           strstr (s->ds[0].reason, reason) != NULL;
    pthread_mutex_unlock (&s->lock);
    if (seen)
      return true;
    usleep (10000);
  }
  return false;
}

static void
start (struct served *s, struct task *t)
{
  const struct hv_driver *d = hv_of (t);

  s->t = t;
  s->lockfd = -1;
  pthread_mutex_init (&s->lock, NULL);
  s->ds = calloc (t->disks.len, sizeof *s->ds);
  s->ds[0].state = d->initial_state;
  cr_assert_eq (pthread_create (&s->protector, NULL, d->protector, s), 0);
}

static void
stop (struct served *s)
{
  atomic_store (&s->stopping, true);
  cr_assert_eq (pthread_join (s->protector, NULL), 0);
  free (s->ds);
}

Test (hv_qmp_protector, monitor_does_not_answer)
{
  char *store = h_store ();
  struct served s = { 0 };
  struct task *t;

  h_save_task (store, "q", "qmp");
  cr_assert_eq (task_load (store, "q", &t), 0);
  free (t->qmp);
  t->qmp = path_join (store, "none.sock");
  start (&s, t);
  cr_assert (wait_state (&s, "not protected", "QEMU's QMP socket does not answer"),
             "disk0: %s: %s", s.ds[0].state, s.ds[0].reason);
  cr_assert_not (s.ds[0].in_gap);            /* nothing journaled */
  stop (&s);
  task_free (t);
  h_store_remove (store);
}

Test (hv_qmp_protector, node_missing)
{
  char *store = h_store ();
  struct h_qmp_peer p;
  struct served s = { 0 };
  struct task *t;

  h_save_task (store, "q", "qmp");
  cr_assert_eq (task_load (store, "q", &t), 0);
  h_qmp_peer_start (&p, store, "[]");
  free (t->qmp);
  t->qmp = strdup (p.path);
  cr_assert_eq (receiver_start (t, &s.rx), 0);
  start (&s, t);
  cr_assert (wait_state (&s, "not protected", "no block node named disk0"),
             "disk0: %s: %s", s.ds[0].state, s.ds[0].reason);
  cr_assert (s.ds[0].in_gap);                /* the GAP is journaled */
  stop (&s);
  receiver_stop (s.rx);
  h_qmp_peer_stop (&p);
  task_free (t);
  h_store_remove (store);
}
