/* NBD_OPT_LIST names every export; a payload makes it invalid. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

static int
collect (void *opaque, const char *name, const char *description)
{
  char *seen = opaque;

  strcat (seen, name);
  strcat (seen, "=");
  strcat (seen, description);
  strcat (seen, ";");
  return 0;
}

Test (nbd_handshake, list)
{
  struct tb_config cfg = { .fd = -1, .names = { "a", "bb", "" },
                           .descriptions = { "first", NULL, "default" } };
  struct th t;
  struct nbd_handle *h;
  char seen[256] = "";
  int fd;

  th_start (&t, &cfg, 1 << 20);
  h = nbd_create ();
  nbd_set_opt_mode (h, true);
  cr_assert_eq (nbd_connect_unix (h, t.sock), 0);
  cr_assert_eq (nbd_opt_list (h, (nbd_list_callback) { .callback = collect,
                                                       .user_data = seen }),
                3);
  cr_assert_str_eq (seen, "a=first;bb=;=default;");
  nbd_opt_abort (h);
  nbd_close (h);

  fd = th_raw_connect (&t, false);
  th_raw_option (fd, NBD_OPT_LIST, "x", 1);
  cr_assert_eq (th_raw_option_reply (fd, NBD_OPT_LIST, NULL, 0, NULL),
                NBD_REP_ERR_INVALID);
  close (fd);
  th_stop (&t);
}
