/* Bad listen addresses are refused with the right error, and nothing
 * is left listening. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/nbd/test-helpers.h"

Test (nbd_server, listen_errors)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  char addr[200], longpath[200];
  char *bound;

  th_start (&t, &cfg, 1 << 20);
  cr_assert_eq (nbd_server_listen (t.srv, "bogus", NULL), -EINVAL);
  cr_assert_eq (nbd_server_listen (t.srv, "unix:", NULL), -EINVAL);
  cr_assert_eq (nbd_server_listen (t.srv, "tcp:127.0.0.1", NULL), -EINVAL);
  cr_assert_eq (nbd_server_listen (t.srv, "tcp:[::1", NULL), -EINVAL);
  memset (longpath, 'x', sizeof longpath - 1);
  longpath[sizeof longpath - 1] = '\0';
  snprintf (addr, sizeof addr, "unix:/tmp/%.150s", longpath);
  cr_assert_eq (nbd_server_listen (t.srv, addr, NULL), -ENAMETOOLONG);
  snprintf (addr, sizeof addr, "unix:%s", t.sock);
  cr_assert_eq (nbd_server_listen (t.srv, addr, NULL), -EADDRINUSE);
  cr_assert_eq (nbd_server_listen (t.srv, "tcp:127.0.0.1:0", &bound), 0);
  snprintf (addr, sizeof addr, "%s", bound);
  free (bound);
  cr_assert_eq (nbd_server_listen (t.srv, addr, NULL), -EADDRINUSE);
  th_stop (&t);
}
