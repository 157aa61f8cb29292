/* task create's listen addresses: unix: absolute paths that fit a socket
 * address and tcp:HOST:PORT with a port 1-65535 pass, everything else is
 * refused with a reason; an address another task of the store listens on
 * (the same path, the same port on the same or a wildcard host) is
 * taken. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/hv/hv.h"

Test (task_listen_address, well_formed)
{
  static const char *const good[] = { "unix:/run/cdp/a.sock", "tcp:127.0.0.1:1",
    "tcp:host.example:65535", "tcp:[::1]:10809", "tcp::10809", NULL };
  char why[256];

  for (const char *const *g = good; *g; g++)
    cr_assert_eq (listen_addr_check (*g, why, sizeof why), 0, "%s: %s", *g, why);
}

Test (task_listen_address, malformed)
{
  static const char *const bad[] = { "unix:a.sock", "unix:", "tcp:h:0",
    "tcp:h:65536", "tcp:h:-1", "tcp:h:+80", "tcp:h:80x", "tcp:h:", "tcp:80", "tcp:[::1]", "tcp:[:80",
    "tcp:", "tcp:[::1:80", "udp:h:80", "h:80", "", NULL };
  char why[256];

  for (const char *const *b = bad; *b; b++) {
    why[0] = 0;
    cr_assert_eq (listen_addr_check (*b, why, sizeof why), -EINVAL, "%s", *b);
    cr_assert (why[0] != 0, "%s: no reason given", *b);
  }
  char long_path[200] = "unix:/";
  memset (long_path + 6, 'a', 150);
  cr_assert_eq (listen_addr_check (long_path, why, sizeof why), -EINVAL);
}

static void
make_task (const char *store, const char *name, const char *listen)
{
  struct task t = { .name = (char *) name, .listen = (char *) listen,
                    .hv = hv_by_name ("manual"),
                    .policy = { 1, 1, 1, 16, 0 } };
  char *tasks = path_join (store, "tasks");

  t.dir = path_join (tasks, name);
  task_disk_vector_append (&t.disks, (struct task_disk) { .name = "disk0", .size = 1 << 20 });
  cr_assert_eq (mkdir_p (t.dir, 0700), 0);
  cr_assert_eq (task_save (&t), 0);
  task_disk_vector_reset (&t.disks);
  free (t.dir);
  free (tasks);
}

Test (task_listen_address, taken_by_another_task)
{
  char store[] = "/tmp/cdp-listen-XXXXXX", why[256], cmd[64];

  cr_assert_not_null (mkdtemp (store));
  make_task (store, "a", "tcp:127.0.0.1:10809");
  make_task (store, "b", "unix:/run/b.sock");
  make_task (store, "c", "tcp:0.0.0.0:10900");
  cr_assert_eq (listen_addr_taken (store, "tcp:127.0.0.1:10809", why, sizeof why), -EADDRINUSE);
  cr_assert (strstr (why, "task a") != NULL, "%s", why);
  cr_assert_eq (listen_addr_taken (store, "tcp:0.0.0.0:10809", why, sizeof why), -EADDRINUSE);
  cr_assert_eq (listen_addr_taken (store, "tcp:10.0.0.5:10900", why, sizeof why), -EADDRINUSE);
  cr_assert_eq (listen_addr_taken (store, "tcp::10900", why, sizeof why), -EADDRINUSE);
  cr_assert_eq (listen_addr_taken (store, "unix:/run/b.sock", why, sizeof why), -EADDRINUSE);
  cr_assert_eq (listen_addr_taken (store, "tcp:127.0.0.1:10810", why, sizeof why), 0);
  cr_assert_eq (listen_addr_taken (store, "tcp:127.0.0.2:10809", why, sizeof why), 0);
  cr_assert_eq (listen_addr_taken (store, "unix:/run/c.sock", why, sizeof why), 0);
  snprintf (cmd, sizeof cmd, "rm -rf -- '%s'", store);
  cr_assert_eq (system (cmd), 0);
}
