/* Helpers for the NBD server's Criterion tests: an in-process server on
 * a unix socket in a temp dir, libnbd clients, and a raw client for the
 * protocol paths libnbd will not take.  Failures cr_assert. */
#ifndef CDP_TEST_HELPERS_H
#define CDP_TEST_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libnbd.h>

#include "nbd-export/nbd-server.h"
#include "tests/nbd/test-backend.h"

struct th {
  struct tb_disk *disk;         /* NULL with th_start_ops */
  struct nbd_server *srv;
  char dir[64];
  char sock[96];
};

/* Serve the test backend: cfg->fd < 0 means a memfd of size bytes. */
void th_start (struct th *t, struct tb_config *cfg, uint64_t size);
/* Serve a test's own backend. */
void th_start_ops (struct th *t, const struct nbd_backend_ops *ops,
                   void *opaque);
void th_stop (struct th *t);

/* A libnbd client on export "" with base:allocation requested. */
struct nbd_handle *th_connect (struct th *t);
/* The same, but with strict mode off, so it sends what it is told. */
struct nbd_handle *th_connect_lax (struct th *t);

/* Raw client.  th_raw_connect reads the greeting and sends the client
 * flags (fixed newstyle, no zeroes unless zeroes). */
int th_raw_connect (struct th *t, bool zeroes);
/* The same over TCP to 127.0.0.1:port (th_listen_tcp), and a bare TCP
 * connection that has not read anything yet. */
int th_raw_connect_tcp (const char *port, bool zeroes);
int th_tcp_connect (const char *port);
/* Also listen on tcp:127.0.0.1:0; port gets the port bound. */
void th_listen_tcp (struct th *t, char port[16]);
/* A PSK file NAME ("a.psk" or "b.psk", which th_stop removes) in the
 * test's directory: "alice:KEY" (KEY in hex). */
void th_psk_file (struct th *t, const char *name, const char *key,
                  char *path, size_t len);
/* A libnbd client with TLS required, as alice with the keys in
 * psk_file; NULL if it could not connect (nbd_get_error says why). */
struct nbd_handle *th_connect_psk (const char *port, const char *psk_file);
void th_write_all (int fd, const void *buf, size_t len);
void th_read_all (int fd, void *buf, size_t len);
void th_raw_option (int fd, uint32_t option, const void *data, uint32_t len);
/* Read one option reply; returns its type, data (up to cap) in buf. */
uint32_t th_raw_option_reply (int fd, uint32_t option, void *buf,
                              uint32_t cap, uint32_t *len);
/* NBD_OPT_STRUCTURED_REPLY (if structured), then NBD_OPT_GO of "". */
void th_raw_go (int fd, bool structured);
void th_raw_request (int fd, uint16_t flags, uint16_t type, uint64_t cookie,
                     uint64_t offset, uint32_t count);
/* Read a simple reply; returns its error, cookie in *cookie. */
uint32_t th_raw_simple_reply (int fd, uint64_t *cookie);
/* Read one structured chunk header; returns its type. */
uint16_t th_raw_chunk (int fd, uint16_t *flags, uint64_t *cookie,
                       uint32_t *length);
/* True if the server closed the connection within timeout_ms. */
bool th_raw_closed (int fd, int timeout_ms);

#endif
