/* A write past the end of the export (a writer that thinks the disk is
 * larger than the size in effect) is refused with ENOSPC and said in the
 * log as a warning, once per connection however many follow. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "tests/nbd/test-helpers.h"

static atomic_int past_end_logged;

static void
count_past_end (void *opaque, enum nbd_log_level level, const char *msg)
{
  if (level == NBD_LOG_WARNING && strstr (msg, "past the end of the export"))
    atomic_fetch_add (&past_end_logged, 1);
}

Test (nbd_cmd, write_past_end_logged)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  struct nbd_handle *h;
  char buf[4096];

  memset (buf, 0x5a, sizeof buf);
  th_start (&t, &cfg, 1 << 20);
  nbd_server_set_log (t.srv, count_past_end, NULL);
  h = th_connect_lax (&t);
  for (int i = 0; i < 5; i++) {
    cr_assert_eq (nbd_pwrite (h, buf, sizeof buf, 1 << 20, 0), -1);
    cr_assert_eq (nbd_get_errno (), ENOSPC);
  }
  cr_assert_eq (atomic_load (&past_end_logged), 1, "%d lines for 5 writes",
                atomic_load (&past_end_logged));
  cr_assert_eq (nbd_pwrite (h, buf, sizeof buf, 0, 0), 0);
  nbd_close (h);
  /* A new connection says it again. */
  h = th_connect_lax (&t);
  cr_assert_eq (nbd_pwrite (h, buf, sizeof buf, 2 << 20, 0), -1);
  cr_assert_eq (atomic_load (&past_end_logged), 2);
  cr_assert_eq (tb_stats (t.disk)->writes, 1);
  nbd_close (h);
  th_stop (&t);
}
