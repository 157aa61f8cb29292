/* qmp_connect fails with -ENOENT when nothing exists at the path and
 * -ECONNREFUSED when a socket file has no listener, saying which path. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/error.h"
#include "harness.h"

int
main (void)
{
  struct harness h;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct qmp *q = NULL;
  char path[100];
  int fd, r;

  h_init (&h);
  snprintf (path, sizeof path, "%s/none.sock", h.dir);
  r = qmp_connect (path, &q);
  CHECK (r == -ENOENT, "got %d", r);
  CHECK (strstr (cdp_get_error (), path), "error: %s", cdp_get_error ());

  /* A socket file nobody listens on (bound, then closed). */
  fd = socket (AF_UNIX, SOCK_STREAM, 0);
  snprintf (addr.sun_path, sizeof addr.sun_path, "%s", path);
  CHECK (bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0, "bind: %m");
  close (fd);
  r = qmp_connect (path, &q);
  CHECK (r == -ECONNREFUSED, "got %d", r);
  CHECK (q == NULL, "handle set on failure");
  return 0;
}
