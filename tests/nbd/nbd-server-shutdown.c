/* nbd_server_shutdown: a request in flight still completes, new
 * requests get ESHUTDOWN, then the connection is closed, the backend
 * handle released, and new clients are refused. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct nbd_request *held;
static int closed;

static int
s_open (void *opaque, const char *name, void **handle,
        struct nbd_export_info *info)
{
  *info = (struct nbd_export_info) { .size = 1 << 20 };
  return 0;
}

static void
s_close (void *handle)
{
  closed++;
}

static int
s_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
         struct nbd_extents *e)
{
  return 0;
}

static void
s_write (void *handle, struct nbd_request *req)
{
  pthread_mutex_lock (&lock);
  held = req;
  pthread_cond_broadcast (&cond);
  pthread_mutex_unlock (&lock);
}

static const struct nbd_backend_ops ops = {
  .open = s_open, .close = s_close, .pread = s_pread, .write = s_write,
};

static void *
shutdown_thread (void *arg)
{
  nbd_server_shutdown (arg, 10000);
  return NULL;
}

Test (nbd_server, shutdown)
{
  struct th t;
  pthread_t thr;
  char buf[512] = { 0 };
  uint64_t cookie;
  int fd;

  th_start_ops (&t, &ops, NULL);
  fd = th_raw_connect (&t, false);
  th_raw_go (fd, false);
  th_raw_request (fd, 0, NBD_CMD_WRITE, 1, 0, sizeof buf);
  th_write_all (fd, buf, sizeof buf);
  pthread_mutex_lock (&lock);
  while (held == NULL)
    pthread_cond_wait (&cond, &lock);
  pthread_mutex_unlock (&lock);

  pthread_create (&thr, NULL, shutdown_thread, t.srv);
  /* The socket goes once shutdown has begun; it then waits for the
   * held write. */
  for (int i = 0; i < 1000 && access (t.sock, F_OK) == 0; i++)
    usleep (10000);
  cr_assert_eq (access (t.sock, F_OK), -1, "listener still there");
  th_raw_request (fd, 0, NBD_CMD_READ, 2, 0, sizeof buf);
  cr_assert_eq (th_raw_simple_reply (fd, &cookie), NBD_ESHUTDOWN);
  cr_assert_eq (cookie, 2);

  nbd_request_done (held, 0);
  cr_assert_eq (th_raw_simple_reply (fd, &cookie), 0);
  cr_assert_eq (cookie, 1);
  pthread_join (thr, NULL);
  cr_assert (th_raw_closed (fd, 5000));
  cr_assert_eq (closed, 1);
  close (fd);
  cr_assert_eq (nbd_server_listen (t.srv, "tcp:127.0.0.1:0", NULL),
                -ESHUTDOWN);
  th_stop (&t);
}
