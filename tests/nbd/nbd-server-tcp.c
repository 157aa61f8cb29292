/* Listening on tcp:127.0.0.1:0 binds a free port and reports it, and a
 * libnbd client connects over TCP. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/nbd/test-helpers.h"

Test (nbd_server, tcp)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  struct nbd_handle *h;
  char *bound = NULL, *port;
  char buf[512];

  th_start (&t, &cfg, 1 << 20);
  cr_assert_eq (nbd_server_listen (t.srv, "tcp:127.0.0.1:0", &bound), 0);
  cr_assert_not_null (bound);
  cr_assert_eq (strncmp (bound, "tcp:127.0.0.1:", 14), 0, "%s", bound);
  port = bound + 14;
  cr_assert_gt (atoi (port), 0);

  h = nbd_create ();
  cr_assert_eq (nbd_connect_tcp (h, "127.0.0.1", port), 0, "%s",
                nbd_get_error ());
  cr_assert_eq (nbd_pread (h, buf, sizeof buf, 0, 0), 0);
  nbd_close (h);

  free (bound);
  cr_assert_eq (nbd_server_listen (t.srv, "tcp:[::1]:0", &bound), 0);
  cr_assert_eq (strncmp (bound, "tcp:[::1]:", 10), 0, "%s", bound);
  free (bound);
  th_stop (&t);
}
