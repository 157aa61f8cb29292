/* A client that starts TLS with the right pre-shared key is served over
 * TCP (writes, and a large read made of many data and hole chunks);
 * one with a wrong key never gets to the export; unix sockets of the
 * same server stay plain. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

#define KEY   "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define WRONG "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
#define SIZE (8 << 20)

/* 4 KiB of data every 12 KiB: a read of it all is hundreds of chunks. */
static void
write_and_read_sparse (struct nbd_handle *h)
{
  static char want[SIZE], got[SIZE];

  for (uint64_t off = 0; off < SIZE; off += 12288) {
    memset (want + off, (int) (off / 12288) | 1, 4096);
    cr_assert_eq (nbd_pwrite (h, want + off, 4096, off, 0), 0, "%s",
                  nbd_get_error ());
  }
  cr_assert_eq (nbd_pread (h, got, SIZE, 0, 0), 0, "%s", nbd_get_error ());
  cr_assert (memcmp (want, got, SIZE) == 0, "the read over TLS differs");
}

Test (nbd_handshake, tls_psk)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  struct nbd_handle *h;
  char port[16], psk[128], wrong[128], why[256], buf[4096];
  int r;

  th_start (&t, &cfg, SIZE);
  th_psk_file (&t, "a.psk", KEY, psk, sizeof psk);
  th_psk_file (&t, "b.psk", WRONG, wrong, sizeof wrong);
  r = nbd_server_set_tls (t.srv, NBD_TLS_PSK, psk, why, sizeof why);
  cr_assert_eq (r, 0, "set_tls: %s: %s", strerror (-r), why);
  th_listen_tcp (&t, port);

  h = th_connect_psk (port, psk);
  cr_assert_not_null (h, "connect with the key: %s", nbd_get_error ());
  cr_assert_eq (nbd_get_tls_negotiated (h), 1);
  write_and_read_sparse (h);
  memset (buf, 0x5a, sizeof buf);
  cr_assert_eq (nbd_pwrite (h, buf, sizeof buf, 8192, 0), 0, "%s",
                nbd_get_error ());
  memset (buf, 0, sizeof buf);
  cr_assert_eq (nbd_pread (h, buf, sizeof buf, 8192, 0), 0, "%s",
                nbd_get_error ());
  cr_assert_eq (buf[0], 0x5a);
  cr_assert_eq (buf[sizeof buf - 1], 0x5a);
  nbd_shutdown (h, 0);
  nbd_close (h);
  cr_assert_eq (tb_stats (t.disk)->opens, 1);

  h = th_connect_psk (port, wrong);
  cr_assert_null (h, "a client with the wrong key was served");
  cr_assert_eq (tb_stats (t.disk)->opens, 1, "the wrong key opened the export");

  h = th_connect (&t);              /* unix: plain */
  cr_assert_eq (nbd_get_tls_negotiated (h), 0);
  cr_assert_eq (nbd_pread (h, buf, 512, 8192, 0), 0, "%s", nbd_get_error ());
  nbd_close (h);
  th_stop (&t);
}

Test (nbd_handshake, tls_bad_credentials)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  char path[128], why[256];
  FILE *f;

  th_start (&t, &cfg, 1 << 20);
  snprintf (path, sizeof path, "%s/a.psk", t.dir);
  cr_assert_eq (nbd_server_set_tls (t.srv, NBD_TLS_PSK, path, why, sizeof why),
                -ENOENT);
  cr_assert_neq (strstr (why, path), NULL, "%s", why);
  f = fopen (path, "w");
  fputs ("alice:not-hex\n", f);
  fclose (f);
  cr_assert_eq (nbd_server_set_tls (t.srv, NBD_TLS_PSK, path, why, sizeof why),
                -EINVAL);
  cr_assert_neq (strstr (why, "line 1"), NULL, "%s", why);
  cr_assert_eq (nbd_server_set_tls (t.srv, NBD_TLS_X509, t.dir, why, sizeof why),
                -ENOENT);
  cr_assert_neq (strstr (why, "ca-cert.pem"), NULL, "%s", why);
  th_stop (&t);
}
