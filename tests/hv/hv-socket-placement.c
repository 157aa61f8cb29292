/* Where the unix sockets QEMU connects to live, by mode: TASK/run/ in
 * manual and QMP mode, TASK/qemu/ in libvirt mode (a directory of its
 * own, to be opened to QEMU's group); the receiver listens there on
 * receiver.sock unless the task says --listen, and rapid recovery
 * serves its export beside it (recover.sock). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "cdp/daemon/daemon.h"

static const struct { const char *mode; const char *dir; } places[] = {
  { "manual", "run" }, { "qmp", "run" }, { "libvirt", "qemu" },
};

Test (hv_socket_placement, paths)
{
  for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
    struct task t = { .dir = (char *) "/store/tasks/t", .hv = hv_by_name (places[i].mode) };
    char want[128], *got = hv_socket_path (&t, "recover.sock");
    snprintf (want, sizeof want, "/store/tasks/t/%s/recover.sock", places[i].dir);
    cr_assert_str_eq (got, want);
    free (got);
  }
}

/* A receiver started for a task of each mode (no --listen) listens on
 * the socket its driver places. */
Test (hv_socket_placement, receiver)
{
  char *store = h_store ();

  for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
    char name[16];
    struct task *t;
    struct receiver *rx;
    struct stat st;
    snprintf (name, sizeof name, "t%zu", i);
    h_save_task (store, name, places[i].mode);
    cr_assert_eq (task_load (store, name, &t), 0);
    free (t->listen);
    t->listen = NULL;
    cr_assert_eq (receiver_start (t, &rx), 0, "%s", task_mode_name (t));
    char *want = hv_socket_path (t, "receiver.sock");
    cr_assert_str_eq (receiver_socket (rx), want);
    cr_assert_eq (stat (want, &st), 0, "%s", want);
    cr_assert (S_ISSOCK (st.st_mode));
    cr_assert (strstr (want, places[i].dir) != NULL);
    receiver_stop (rx);
    free (want);
    task_free (t);
  }
  h_store_remove (store);
}
