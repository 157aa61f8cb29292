/* Events that arrive while a command waits for its reply are queued and
 * handed out, in order, by qmp_next_event; afterwards the fd is quiet. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/error.h"
#include "harness.h"

static void
expect_event (struct qmp *q, const char *name)
{
  json_object *ev = NULL;
  int r;

  r = qmp_next_event (q, 0, &ev);     /* must be queued already */
  CHECK (r == 1, "no queued %s event (%d: %s)", name, r, cdp_get_error ());
  CHECK (strcmp (qmp_event_name (ev), name) == 0, "got %s, want %s",
         qmp_event_name (ev), name);
  CHECK (qmp_event_time_ns (ev) > 0, "no timestamp");
  json_object_put (ev);
}

int
main (void)
{
  struct harness h;
  struct qmp *q;
  struct pollfd pfd;
  json_object *ev = NULL;
  int r;

  h_init (&h);
  q = h_start_qemu (&h);

  /* QEMU sends RESUME / STOP before the command's reply. */
  CHECK_OK (qmp_execute (q, "cont", NULL, NULL), "cont");
  CHECK_OK (qmp_execute (q, "stop", NULL, NULL), "stop");
  expect_event (q, "RESUME");
  expect_event (q, "STOP");
  r = qmp_next_event (q, 0, &ev);
  CHECK (r == 0, "unexpected event");

  pfd = (struct pollfd) { .fd = qmp_fd (q), .events = POLLIN };
  CHECK (poll (&pfd, 1, 200) == 0, "fd readable with nothing sent");
  qmp_close (q);
  return 0;
}
