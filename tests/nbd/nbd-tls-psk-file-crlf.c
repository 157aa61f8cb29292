/* A PSK file with CRLF line ends is refused when the server loads it,
 * naming the line: GnuTLS would take the '\r' as part of the key and
 * refuse every client at its handshake instead. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tests/nbd/test-helpers.h"

#define KEY "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

Test (nbd_tls, psk_file_crlf)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  char path[128], why[256];
  FILE *f;
  int r;

  th_start (&t, &cfg, 1 << 20);
  snprintf (path, sizeof path, "%s/a.psk", t.dir);
  f = fopen (path, "w");
  cr_assert_not_null (f);
  fprintf (f, "alice:%s\r\n", KEY);
  cr_assert_eq (fclose (f), 0);
  r = nbd_server_set_tls (t.srv, NBD_TLS_PSK, path, why, sizeof why);
  cr_assert_eq (r, -EINVAL, "a CRLF file was taken (%d: %s)", r, why);
  cr_assert_neq (strstr (why, "line 1"), NULL, "%s", why);
  th_stop (&t);
}
