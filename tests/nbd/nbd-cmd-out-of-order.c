/* Pipelined requests complete in the order the backend finishes them,
 * not the order they were sent: the backend holds the first write until
 * the second one has been answered, and reads run on worker threads
 * while writes wait. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "tests/nbd/test-helpers.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct nbd_request *held;

static int
o_open (void *opaque, const char *name, void **handle,
        struct nbd_export_info *info)
{
  *info = (struct nbd_export_info) { .size = 1 << 20 };
  return 0;
}

static int
o_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
         struct nbd_extents *e)
{
  memset (buf, (int) (offset >> 12), count);
  return 0;
}

/* Hold the write at offset 0; complete any other at once, then release
 * the held one. */
static void
o_write (void *handle, struct nbd_request *req)
{
  struct nbd_request *release = NULL;

  pthread_mutex_lock (&lock);
  if (req->offset == 0)
    held = req;
  else
    release = held;
  pthread_mutex_unlock (&lock);
  if (req->offset != 0) {
    nbd_request_done (req, 0);
    if (release)
      nbd_request_done (release, 0);
  }
}

static const struct nbd_backend_ops ops = {
  .open = o_open, .pread = o_pread, .write = o_write,
};

static int order[8], nr_done;

static int
record (void *opaque, int *error)
{
  cr_assert_eq (*error, 0);
  order[nr_done++] = (int) (intptr_t) opaque;
  return 1;
}

Test (nbd_cmd, out_of_order)
{
  struct th t;
  struct nbd_handle *h;
  char w[4096] = { 1 }, r[4096];
  nbd_completion_callback cb = { .callback = record };

  th_start_ops (&t, &ops, NULL);
  h = th_connect (&t);
  cb.user_data = (void *) 1;
  cr_assert_gt (nbd_aio_pwrite (h, w, sizeof w, 0, cb, 0), 0);
  /* The read is answered while write 1 is still held. */
  cb.user_data = (void *) 2;
  cr_assert_gt (nbd_aio_pread (h, r, sizeof r, 8192, cb, 0), 0);
  while (nr_done < 1)
    cr_assert_geq (nbd_poll (h, 5000), 1);
  cr_assert_eq (order[0], 2);
  cr_assert_eq (r[0], 2);
  cb.user_data = (void *) 3;
  cr_assert_gt (nbd_aio_pwrite (h, w, sizeof w, 4096, cb, 0), 0);
  while (nr_done < 3)
    cr_assert_geq (nbd_poll (h, 5000), 1);
  cr_assert_eq (order[1], 3, "second write answered first");
  cr_assert_eq (order[2], 1);
  nbd_close (h);
  th_stop (&t);
}
