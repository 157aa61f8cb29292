/* A client that sends many requests without reading replies gets at
 * most max_inflight of them into the server; the rest wait in the
 * socket, and all are answered once the backend catches up. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

#define LIMIT 16
#define SENT 200

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct nbd_request *pending[SENT];
static unsigned nr_pending;

static int
l_open (void *opaque, const char *name, void **handle,
        struct nbd_export_info *info)
{
  *info = (struct nbd_export_info) { .size = 1 << 20, .can_flush = true };
  return 0;
}

static int
l_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
         struct nbd_extents *e)
{
  return -EIO;
}

static void
l_hold (void *handle, struct nbd_request *req)
{
  pthread_mutex_lock (&lock);
  pending[nr_pending++] = req;
  pthread_cond_broadcast (&cond);
  pthread_mutex_unlock (&lock);
}

static const struct nbd_backend_ops ops = {
  .open = l_open, .pread = l_pread, .write = l_hold, .flush = l_hold,
};

static void *
sender (void *arg)
{
  int fd = *(int *) arg;

  for (uint64_t i = 0; i < SENT; i++)
    th_raw_request (fd, 0, NBD_CMD_FLUSH, i, 0, 0);
  return NULL;
}

static unsigned
pending_now (void)
{
  unsigned n;

  pthread_mutex_lock (&lock);
  n = nr_pending;
  pthread_mutex_unlock (&lock);
  return n;
}

Test (nbd_cmd, inflight_limit)
{
  struct th t;
  pthread_t thr;
  struct nbd_request *batch[SENT];
  unsigned n, answered = 0;
  int fd;

  th_start_ops (&t, &ops, NULL);
  cr_assert_eq (nbd_server_set_limits (t.srv, 0, LIMIT, 0), 0);
  fd = th_raw_connect (&t, false);
  th_raw_go (fd, false);
  pthread_create (&thr, NULL, sender, &fd);
  for (int i = 0; i < 1000 && pending_now () < LIMIT; i++)
    usleep (10000);
  usleep (200000);              /* time to take more, if it would */
  cr_assert_eq (pending_now (), LIMIT, "%u requests in flight",
                pending_now ());

  while (answered < SENT) {
    pthread_mutex_lock (&lock);
    while (nr_pending == 0)
      pthread_cond_wait (&cond, &lock);
    n = nr_pending;
    for (unsigned i = 0; i < n; i++)
      batch[i] = pending[i];
    nr_pending = 0;
    pthread_mutex_unlock (&lock);
    for (unsigned i = 0; i < n; i++)
      nbd_request_done (batch[i], 0);
    for (unsigned i = 0; i < n; i++)
      cr_assert_eq (th_raw_simple_reply (fd, NULL), 0);
    answered += n;
  }
  pthread_join (thr, NULL);
  close (fd);
  th_stop (&t);
}
