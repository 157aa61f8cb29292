/* Helpers for the NBD server's Criterion tests; see test-helpers.h. */
#include "tests/nbd/test-helpers.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <criterion/criterion.h>

static void
listen_in_tempdir (struct th *t)
{
  char addr[128];
  int r;

  snprintf (t->dir, sizeof t->dir, "/tmp/nbd-unit-XXXXXX");
  cr_assert_not_null (mkdtemp (t->dir));
  snprintf (t->sock, sizeof t->sock, "%s/sock", t->dir);
  snprintf (addr, sizeof addr, "unix:%s", t->sock);
  r = nbd_server_listen (t->srv, addr, NULL);
  cr_assert_eq (r, 0, "listen: %s", strerror (-r));
}

void
th_start (struct th *t, struct tb_config *cfg, uint64_t size)
{
  int r;

  memset (t, 0, sizeof *t);
  if (cfg->fd < 0) {
    cfg->fd = tb_memfd (size);
    cr_assert_geq (cfg->fd, 0);
  }
  r = tb_new (cfg, &t->disk);
  cr_assert_eq (r, 0);
  r = nbd_server_new (&tb_ops, t->disk, &t->srv);
  cr_assert_eq (r, 0);
  listen_in_tempdir (t);
}

void
th_start_ops (struct th *t, const struct nbd_backend_ops *ops, void *opaque)
{
  int r;

  memset (t, 0, sizeof *t);
  r = nbd_server_new (ops, opaque, &t->srv);
  cr_assert_eq (r, 0);
  listen_in_tempdir (t);
}

void
th_stop (struct th *t)
{
  char path[128];

  nbd_server_free (t->srv);
  tb_free (t->disk);
  for (const char *const *n = (const char *const[]) { "a.psk", "b.psk", NULL };
       *n; n++) {
    snprintf (path, sizeof path, "%s/%s", t->dir, *n);
    unlink (path);
  }
  rmdir (t->dir);
}

static struct nbd_handle *
connect_handle (struct th *t, bool strict)
{
  struct nbd_handle *h = nbd_create ();

  cr_assert_not_null (h);
  cr_assert_eq (nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION), 0);
  if (!strict)
    cr_assert_eq (nbd_set_strict_mode (h, 0), 0);
  cr_assert_eq (nbd_connect_unix (h, t->sock), 0, "connect: %s",
                nbd_get_error ());
  return h;
}

struct nbd_handle *
th_connect (struct th *t)
{
  return connect_handle (t, true);
}

struct nbd_handle *
th_connect_lax (struct th *t)
{
  return connect_handle (t, false);
}

void
th_write_all (int fd, const void *buf, size_t len)
{
  const char *p = buf;

  while (len > 0) {
    ssize_t n = send (fd, p, len, MSG_NOSIGNAL);
    cr_assert_gt (n, 0, "send: %s", strerror (errno));
    p += n;
    len -= (size_t) n;
  }
}

void
th_read_all (int fd, void *buf, size_t len)
{
  char *p = buf;

  while (len > 0) {
    ssize_t n = recv (fd, p, len, 0);
    cr_assert_gt (n, 0, "recv: %s", n ? strerror (errno) : "EOF");
    p += n;
    len -= (size_t) n;
  }
}

/* Read the greeting and answer it. */
static void
raw_greet (int fd, bool zeroes)
{
  struct nbd_new_handshake g;
  uint32_t cflags = htobe32 (NBD_FLAG_C_FIXED_NEWSTYLE |
                             (zeroes ? 0 : NBD_FLAG_C_NO_ZEROES));

  th_read_all (fd, &g, sizeof g);
  cr_assert_eq (be64toh (g.nbdmagic), NBD_MAGIC);
  cr_assert_eq (be64toh (g.version), NBD_IHAVEOPT);
  cr_assert_eq (be16toh (g.gflags),
                NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
  th_write_all (fd, &cflags, sizeof cflags);
}

int
th_raw_connect (struct th *t, bool zeroes)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  cr_assert_geq (fd, 0);
  strcpy (sa.sun_path, t->sock);
  cr_assert_eq (connect (fd, (struct sockaddr *) &sa, sizeof sa), 0);
  raw_greet (fd, zeroes);
  return fd;
}

int
th_tcp_connect (const char *port)
{
  struct sockaddr_in sa = { .sin_family = AF_INET,
                            .sin_port = htons ((uint16_t) atoi (port)),
                            .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  cr_assert_geq (fd, 0);
  cr_assert_eq (connect (fd, (struct sockaddr *) &sa, sizeof sa), 0,
                "connect: %s", strerror (errno));
  return fd;
}

int
th_raw_connect_tcp (const char *port, bool zeroes)
{
  int fd = th_tcp_connect (port);

  raw_greet (fd, zeroes);
  return fd;
}

void
th_listen_tcp (struct th *t, char port[16])
{
  char *bound = NULL;
  int r = nbd_server_listen (t->srv, "tcp:127.0.0.1:0", &bound);

  cr_assert_eq (r, 0, "listen: %s", strerror (-r));
  cr_assert_eq (strncmp (bound, "tcp:127.0.0.1:", 14), 0, "%s", bound);
  snprintf (port, 16, "%s", bound + 14);
  free (bound);
}

void
th_psk_file (struct th *t, const char *name, const char *key, char *path,
             size_t len)
{
  FILE *f;

  snprintf (path, len, "%s/%s", t->dir, name);
  f = fopen (path, "w");
  cr_assert_not_null (f);
  fprintf (f, "alice:%s\n", key);
  cr_assert_eq (fclose (f), 0);
}

struct nbd_handle *
th_connect_psk (const char *port, const char *psk_file)
{
  struct nbd_handle *h = nbd_create ();

  cr_assert_not_null (h);
  cr_assert_eq (nbd_set_tls (h, LIBNBD_TLS_REQUIRE), 0, "%s",
                nbd_get_error ());
  cr_assert_eq (nbd_set_tls_username (h, "alice"), 0);
  cr_assert_eq (nbd_set_tls_psk_file (h, psk_file), 0);
  if (nbd_connect_tcp (h, "127.0.0.1", port) < 0) {
    nbd_close (h);
    return NULL;
  }
  return h;
}

void
th_raw_option (int fd, uint32_t option, const void *data, uint32_t len)
{
  struct nbd_new_option h = {
    .version = htobe64 (NBD_IHAVEOPT),
    .option = htobe32 (option),
    .optlen = htobe32 (len),
  };

  th_write_all (fd, &h, sizeof h);
  if (len)
    th_write_all (fd, data, len);
}

uint32_t
th_raw_option_reply (int fd, uint32_t option, void *buf, uint32_t cap,
                     uint32_t *len)
{
  struct nbd_fixed_new_option_reply r;
  uint32_t n;
  char skip[256];

  th_read_all (fd, &r, sizeof r);
  cr_assert_eq (be64toh (r.magic), NBD_REP_MAGIC);
  cr_assert_eq (be32toh (r.option), option);
  n = be32toh (r.replylen);
  if (len)
    *len = n;
  for (uint32_t done = 0; done < n;) {
    uint32_t chunk = n - done;
    if (done < cap) {
      chunk = chunk < cap - done ? chunk : cap - done;
      th_read_all (fd, (char *) buf + done, chunk);
    } else {
      chunk = chunk < sizeof skip ? chunk : sizeof skip;
      th_read_all (fd, skip, chunk);
    }
    done += chunk;
  }
  return be32toh (r.reply);
}

void
th_raw_go (int fd, bool structured)
{
  static const char go[6] = { 0 };   /* name "", no info requests */
  uint32_t reply;

  if (structured) {
    th_raw_option (fd, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
    cr_assert_eq (th_raw_option_reply (fd, NBD_OPT_STRUCTURED_REPLY, NULL,
                                       0, NULL), NBD_REP_ACK);
  }
  th_raw_option (fd, NBD_OPT_GO, go, sizeof go);
  while ((reply = th_raw_option_reply (fd, NBD_OPT_GO, NULL, 0, NULL))
         == NBD_REP_INFO)
    ;
  cr_assert_eq (reply, NBD_REP_ACK);
}

void
th_raw_request (int fd, uint16_t flags, uint16_t type, uint64_t cookie,
                uint64_t offset, uint32_t count)
{
  struct nbd_request_header h = {
    .magic = htobe32 (NBD_REQUEST_MAGIC),
    .flags = htobe16 (flags),
    .type = htobe16 (type),
    .cookie = htobe64 (cookie),
    .offset = htobe64 (offset),
    .count = htobe32 (count),
  };

  th_write_all (fd, &h, sizeof h);
}

uint32_t
th_raw_simple_reply (int fd, uint64_t *cookie)
{
  struct nbd_simple_reply r;

  th_read_all (fd, &r, sizeof r);
  cr_assert_eq (be32toh (r.magic), NBD_SIMPLE_REPLY_MAGIC);
  if (cookie)
    *cookie = be64toh (r.cookie);
  return be32toh (r.error);
}

uint16_t
th_raw_chunk (int fd, uint16_t *flags, uint64_t *cookie, uint32_t *length)
{
  struct nbd_structured_reply r;

  th_read_all (fd, &r, sizeof r);
  cr_assert_eq (be32toh (r.magic), NBD_STRUCTURED_REPLY_MAGIC);
  *flags = be16toh (r.flags);
  *cookie = be64toh (r.cookie);
  *length = be32toh (r.length);
  return be16toh (r.type);
}

bool
th_raw_closed (int fd, int timeout_ms)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };
  char c;
  ssize_t n;

  if (poll (&p, 1, timeout_ms) <= 0)
    return false;
  n = recv (fd, &c, 1, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}
