/* A peer that accepts but never greets makes qmp_connect time out
 * (default limit) instead of hanging. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "harness.h"

int
main (void)
{
  struct harness h;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct timespec t0, t1;
  struct qmp *q = NULL;
  double secs;
  int fd, r;

  h_init (&h);
  fd = socket (AF_UNIX, SOCK_STREAM, 0);
  snprintf (addr.sun_path, sizeof addr.sun_path, "%s/silent.sock", h.dir);
  CHECK (bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0, "bind: %m");
  CHECK (listen (fd, 1) == 0, "listen: %m");

  clock_gettime (CLOCK_MONOTONIC, &t0);
  r = qmp_connect (addr.sun_path, &q);
  clock_gettime (CLOCK_MONOTONIC, &t1);
  secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  CHECK (r == -ETIMEDOUT, "got %d (%s)", r, cdp_get_error ());
  CHECK (secs >= QMP_DEFAULT_TIMEOUT_MS / 1000.0 - 0.1
         && secs < QMP_DEFAULT_TIMEOUT_MS / 1000.0 + 2, "took %.2f s", secs);
  close (fd);
  return 0;
}
