/* NBD_OPT_INFO reports size, flags, block sizes, name and description
 * without entering transmission; an unknown export is
 * NBD_REP_ERR_UNKNOWN and the handshake goes on to NBD_OPT_GO. */
#include <criterion/criterion.h>
#include <unistd.h>
#include <errno.h>

#include "tests/nbd/test-helpers.h"

Test (nbd_handshake, info)
{
  struct tb_config cfg = { .fd = -1, .names = { "vm1" },
                           .descriptions = { "vm1 disk" },
                           .min_block = 512, .max_block = 1 << 20 };
  struct th t;
  struct nbd_handle *h;
  char *s;

  th_start (&t, &cfg, 8 << 20);
  h = nbd_create ();
  nbd_set_opt_mode (h, true);
  nbd_set_full_info (h, true);
  cr_assert_eq (nbd_connect_unix (h, t.sock), 0);

  nbd_set_export_name (h, "missing");
  cr_assert_eq (nbd_opt_info (h), -1);
  cr_assert_eq (nbd_get_errno (), ENOENT, "%s", nbd_get_error ());

  nbd_set_export_name (h, "vm1");
  cr_assert_eq (nbd_opt_info (h), 0, "%s", nbd_get_error ());
  cr_assert_eq (nbd_get_size (h), 8 << 20);
  cr_assert_eq (nbd_get_block_size (h, LIBNBD_SIZE_MINIMUM), 512);
  cr_assert_eq (nbd_get_block_size (h, LIBNBD_SIZE_PREFERRED), 4096);
  cr_assert_eq (nbd_get_block_size (h, LIBNBD_SIZE_MAXIMUM), 1 << 20);
  cr_assert_eq (nbd_is_read_only (h), 0);
  cr_assert_eq (nbd_can_trim (h), 1);
  s = nbd_get_export_description (h);
  cr_assert_str_eq (s, "vm1 disk");
  free (s);
  s = nbd_get_canonical_export_name (h);
  cr_assert_str_eq (s, "vm1");
  free (s);
  /* INFO opened the export to answer and closes it again; the close may
   * come just after the reply reached us. */
  for (int i = 0; i < 200 && tb_stats (t.disk)->opens != tb_stats (t.disk)->closes; i++)
    usleep (10000);
  cr_assert_eq (tb_stats (t.disk)->opens, tb_stats (t.disk)->closes);

  cr_assert_eq (nbd_opt_go (h), 0, "%s", nbd_get_error ());
  cr_assert_eq (nbd_aio_is_ready (h), 1);
  nbd_close (h);
  th_stop (&t);
}
