/* The reply to a connection's only request is sent by the thread that
 * completes it: when nbd_request_done returns, the client can read the
 * reply already, with no hand-off to the writer thread in between. */
#include <criterion/criterion.h>
#include <poll.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "nbd-export/nbd-protocol.h"
#include "tests/nbd/test-helpers.h"

#define WRITES 64

static int client_fd = -1;
static atomic_uint inline_replies;
static sem_t looked;                    /* the client reads after this */

static int
i_open (void *opaque, const char *name, void **handle,
        struct nbd_export_info *info)
{
  *info = (struct nbd_export_info) { .size = 1 << 20 };
  return 0;
}

static int
i_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
         struct nbd_extents *e)
{
  memset (buf, 0, count);
  return 0;
}

/* Complete the write, then look whether its reply is on its way (the
 * client reads it only after that). */
static void
i_write (void *handle, struct nbd_request *req)
{
  struct pollfd p = { .fd = client_fd, .events = POLLIN };

  nbd_request_done (req, 0);
  if (poll (&p, 1, 0) == 1 && (p.revents & POLLIN))
    atomic_fetch_add (&inline_replies, 1);
  sem_post (&looked);
}

static const struct nbd_backend_ops ops = {
  .open = i_open, .pread = i_pread, .write = i_write,
};

Test (nbd_cmd, reply_inline)
{
  struct th t;
  char buf[4096];
  uint64_t cookie;

  memset (buf, 0x5a, sizeof buf);
  cr_assert_eq (sem_init (&looked, 0, 0), 0);
  th_start_ops (&t, &ops, NULL);
  client_fd = th_raw_connect (&t, false);
  th_raw_go (client_fd, false);
  for (uint64_t i = 1; i <= WRITES; i++) {
    th_raw_request (client_fd, 0, NBD_CMD_WRITE, i, i * 4096, sizeof buf);
    th_write_all (client_fd, buf, sizeof buf);
    while (sem_wait (&looked) != 0)
      ;
    cr_assert_eq (th_raw_simple_reply (client_fd, &cookie), 0);
    cr_assert_eq (cookie, i);
  }
  cr_assert_eq (atomic_load (&inline_replies), WRITES,
                "%u of %d replies were sent by the completing thread",
                atomic_load (&inline_replies), WRITES);
  th_raw_request (client_fd, 0, NBD_CMD_DISC, 0, 0, 0);
  close (client_fd);
  th_stop (&t);
}
