/* NBD_OPT_EXPORT_NAME enters transmission with size and flags, with
 * the 124 zero bytes only when the client did not ask for no-zeroes;
 * an unknown name ends the session (the option cannot fail). */
#include <criterion/criterion.h>
#include <errno.h>
#include <endian.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

static void
export_name (struct th *t, bool zeroes)
{
  struct nbd_export_name_reply rep;
  size_t len = zeroes ? sizeof rep : 10;
  uint64_t cookie;
  int fd = th_raw_connect (t, zeroes);

  th_raw_option (fd, NBD_OPT_EXPORT_NAME, "disk", 4);
  th_read_all (fd, &rep, len);
  cr_assert_eq (be64toh (rep.exportsize), 1 << 20);
  cr_assert (be16toh (rep.eflags) & NBD_FLAG_HAS_FLAGS);
  cr_assert (be16toh (rep.eflags) & NBD_FLAG_SEND_FLUSH);
  for (size_t i = 0; zeroes && i < sizeof rep.zeroes; i++)
    cr_assert_eq (rep.zeroes[i], 0);
  /* Transmission works: a flush gets a simple reply. */
  th_raw_request (fd, 0, NBD_CMD_FLUSH, 7, 0, 0);
  cr_assert_eq (th_raw_simple_reply (fd, &cookie), 0);
  cr_assert_eq (cookie, 7);
  close (fd);
}

Test (nbd_handshake, export_name)
{
  struct tb_config cfg = { .fd = -1, .names = { "disk" } };
  struct th t;
  int fd;

  th_start (&t, &cfg, 1 << 20);
  export_name (&t, false);
  export_name (&t, true);
  fd = th_raw_connect (&t, false);
  th_raw_option (fd, NBD_OPT_EXPORT_NAME, "nope", 4);
  cr_assert (th_raw_closed (fd, 5000));
  close (fd);
  th_stop (&t);
}
