/* An option announcing a huge payload ends the connection at once,
 * without the server reading or allocating the payload. */
#include <criterion/criterion.h>
#include <errno.h>
#include <endian.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

Test (nbd_handshake, option_too_long)
{
  struct tb_config cfg = { .fd = -1 };
  static const uint32_t options[] = { NBD_OPT_GO, 1234,
                                      NBD_OPT_EXPORT_NAME };
  struct th t;

  th_start (&t, &cfg, 1 << 20);
  for (size_t i = 0; i < sizeof options / sizeof *options; i++) {
    int fd = th_raw_connect (&t, false);
    th_raw_option (fd, options[i], NULL, 0);    /* header only... */
    close (fd);
    fd = th_raw_connect (&t, false);
    struct nbd_new_option h = {
      .version = htobe64 (NBD_IHAVEOPT),
      .option = htobe32 (options[i]),
      .optlen = htobe32 (0xfffffff0),          /* ...and a huge one */
    };
    th_write_all (fd, &h, sizeof h);
    cr_assert (th_raw_closed (fd, 5000), "option %u kept", options[i]);
    close (fd);
  }
  nbd_close (th_connect (&t));          /* the server is fine */
  th_stop (&t);
}
