/* A server serves at most max_connections clients at once: one more is
 * closed at once, without a greeting, and that is logged once however
 * many follow; when a client leaves, a new one is served again. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

static atomic_int refusals_logged;

static void
count_refusals (void *opaque, enum nbd_log_level level, const char *msg)
{
  if (strstr (msg, "refused"))
    atomic_fetch_add (&refusals_logged, 1);
}

/* A unix connection; true if the server greeted it, false if it closed
 * it unanswered (both within 10 s). */
static bool
greeted (struct th *t)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  struct pollfd p = { .events = POLLIN };
  char c;
  ssize_t n;

  p.fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  cr_assert_geq (p.fd, 0);
  strcpy (sa.sun_path, t->sock);
  cr_assert_eq (connect (p.fd, (struct sockaddr *) &sa, sizeof sa), 0);
  cr_assert_eq (poll (&p, 1, 10000), 1, "no greeting and no close");
  n = recv (p.fd, &c, 1, 0);
  close (p.fd);
  return n == 1;
}

Test (nbd_server, max_connections)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  struct nbd_handle *h1, *h2;
  char buf[512];
  int i;

  th_start (&t, &cfg, 1 << 20);
  nbd_server_set_log (t.srv, count_refusals, NULL);
  nbd_server_set_max_connections (t.srv, 2);
  h1 = th_connect (&t);
  h2 = th_connect (&t);
  for (i = 0; i < 20; i++)
    cr_assert (!greeted (&t), "connection %d past the bound was served", i);
  cr_assert_eq (atomic_load (&refusals_logged), 1,
                "%d log lines for 20 refusals", atomic_load (&refusals_logged));
  /* The two served go on as before. */
  cr_assert_eq (nbd_pread (h1, buf, sizeof buf, 0, 0), 0, "%s", nbd_get_error ());
  cr_assert_eq (nbd_pread (h2, buf, sizeof buf, 0, 0), 0, "%s", nbd_get_error ());
  nbd_shutdown (h1, 0);
  nbd_close (h1);
  /* The server notices the client left in its own time. */
  for (i = 0; i < 1000 && !greeted (&t); i++)
    usleep (10000);
  cr_assert_lt (i, 1000, "no client served after one left");
  nbd_close (h2);
  th_stop (&t);
}
