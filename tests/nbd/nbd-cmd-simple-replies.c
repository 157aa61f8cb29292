/* A client that does not negotiate structured replies gets simple
 * replies: data after the header, and no payload after an error. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "tests/nbd/test-helpers.h"

Test (nbd_cmd, simple_replies)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  struct nbd_handle *h;
  char w[8192], r[8192];

  th_start (&t, &cfg, 1 << 20);
  h = nbd_create ();
  nbd_set_request_structured_replies (h, false);
  nbd_set_strict_mode (h, 0);
  cr_assert_eq (nbd_connect_unix (h, t.sock), 0);
  cr_assert_eq (nbd_get_structured_replies_negotiated (h), 0);
  cr_assert_eq (nbd_can_df (h), 0);

  memset (w, 0x3c, sizeof w);
  cr_assert_eq (nbd_pwrite (h, w, sizeof w, 4096, 0), 0);
  cr_assert_eq (nbd_pread (h, r, sizeof r, (1 << 20) - 4096, 0), -1);
  cr_assert_eq (nbd_get_errno (), EINVAL);
  cr_assert_eq (nbd_pread (h, r, sizeof r, 4096, 0), 0);
  cr_assert_eq (memcmp (w, r, sizeof r), 0);
  nbd_close (h);
  th_stop (&t);
}
