/* nbd_server_serve_fd serves one connected socket in the calling
 * thread and returns 0 when the client disconnects cleanly. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>

#include "tests/nbd/test-helpers.h"

struct serve {
  struct nbd_server *srv;
  int fd, r;
};

static void *
serve_thread (void *arg)
{
  struct serve *s = arg;

  s->r = nbd_server_serve_fd (s->srv, s->fd);
  return NULL;
}

Test (nbd_server, serve_fd)
{
  struct tb_config cfg = { .fd = tb_memfd (1 << 20) };
  struct tb_disk *disk;
  struct serve s;
  struct nbd_handle *h;
  pthread_t thr;
  int sv[2];
  char buf[4096] = { 1, 2, 3 }, back[4096];

  cr_assert_eq (tb_new (&cfg, &disk), 0);
  cr_assert_eq (nbd_server_new (&tb_ops, disk, &s.srv), 0);
  cr_assert_eq (socketpair (AF_UNIX, SOCK_STREAM, 0, sv), 0);
  s.fd = sv[0];
  pthread_create (&thr, NULL, serve_thread, &s);

  h = nbd_create ();
  cr_assert_eq (nbd_connect_socket (h, sv[1]), 0, "%s", nbd_get_error ());
  cr_assert_eq (nbd_pwrite (h, buf, sizeof buf, 0, 0), 0);
  cr_assert_eq (nbd_pread (h, back, sizeof back, 0, 0), 0);
  cr_assert_eq (back[2], 3);
  cr_assert_eq (nbd_shutdown (h, 0), 0);
  pthread_join (thr, NULL);
  cr_assert_eq (s.r, 0);
  nbd_close (h);
  nbd_server_free (s.srv);
  tb_free (disk);
}
