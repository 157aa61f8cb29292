/* Backend errors reach the client as NBD errors: EIO for a failed read
 * (an error chunk, no data), ENOSPC for EDQUOT on a write, EIO for an
 * errno the protocol has no value for. */
#include <criterion/criterion.h>
#include <errno.h>

#include "tests/nbd/test-helpers.h"

static int
e_open (void *opaque, const char *name, void **handle,
        struct nbd_export_info *info)
{
  *info = (struct nbd_export_info) { .size = 1 << 20, .can_flush = true };
  return 0;
}

static int
e_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
         struct nbd_extents *e)
{
  return -EIO;
}

static void
e_write (void *handle, struct nbd_request *req)
{
  nbd_request_done (req, -EDQUOT);
}

static void
e_flush (void *handle, struct nbd_request *req)
{
  nbd_request_done (req, -ENOLINK);
}

static const struct nbd_backend_ops ops = {
  .open = e_open, .pread = e_pread, .write = e_write, .flush = e_flush,
};

Test (nbd_cmd, backend_errors)
{
  struct th t;
  struct nbd_handle *h;
  char buf[4096] = { 0 };

  th_start_ops (&t, &ops, NULL);
  h = th_connect (&t);
  cr_assert_eq (nbd_pread (h, buf, sizeof buf, 0, 0), -1);
  cr_assert_eq (nbd_get_errno (), EIO);
  cr_assert_eq (nbd_pwrite (h, buf, sizeof buf, 0, 0), -1);
  cr_assert_eq (nbd_get_errno (), ENOSPC);
  cr_assert_eq (nbd_flush (h, 0), -1);
  cr_assert_eq (nbd_get_errno (), EIO);
  nbd_close (h);
  th_stop (&t);
}
