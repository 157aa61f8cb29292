/* The QMP driver's task create: --qmp SOCKET and at least one --node,
 * no node twice; the nodes' sizes come from QEMU (here a scripted QMP
 * peer on a unix socket), in the order named; a node QEMU does not
 * have, one without a size, or a monitor that does not answer is
 * refused in one line.  The mode has a protector and an initial copy,
 * its sockets in TASK/run/, no freeze, and no VM cdp starts. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char two_nodes[] =
  "[{\"node-name\": \"disk0\", \"image\": {\"virtual-size\": 1048576}},"
  " {\"node-name\": \"disk1\", \"image\": {\"virtual-size\": 2097152}},"
  " {\"node-name\": \"nosize\"}]";

Test (hv_qmp_create, disks_from_qemu)
{
  char *store = h_store ();
  struct h_qmp_peer p;
  struct task *t;

  h_qmp_peer_start (&p, store, two_nodes);
  const char *args[] = { "--qmp", p.path, "--node", "disk1", "--node", "disk0", NULL };
  cr_assert_eq (h_create (store, args, &t), 0);
  h_qmp_peer_stop (&p);
  cr_assert_eq (t->hv, hv_by_name ("qmp"));
  cr_assert_str_eq (t->qmp, p.path);
  cr_assert_eq (t->disks.len, 2);
  cr_assert_str_eq (t->disks.ptr[0].name, "disk1");
  cr_assert_eq (t->disks.ptr[0].id, 0);
  cr_assert_eq (t->disks.ptr[0].size, 2 << 20);
  cr_assert_str_eq (t->disks.ptr[1].name, "disk0");
  cr_assert_eq (t->disks.ptr[1].id, 1);
  cr_assert_eq (t->disks.ptr[1].size, 1 << 20);
  h_task_free (t);
  h_store_remove (store);
}

/* What QEMU's answers make of a node: one line each, exit 1. */
static void
expect_node_refused (const char *node, bool unknown)
{
  char *store = h_store (), *said, line[512];
  struct h_qmp_peer p;
  struct task *t;
  int r;

  h_qmp_peer_start (&p, store, two_nodes);
  const char *args[] = { "--qmp", p.path, "--node", "disk0", "--node", node, NULL };
  h_stderr_begin ();
  r = h_create (store, args, &t);
  said = h_stderr_end ();
  h_qmp_peer_stop (&p);
  if (unknown)
    snprintf (line, sizeof line, "cdp: QEMU at %s has no block node '%s'\n",
              p.path, node);
  else
    snprintf (line, sizeof line, "cdp: cannot tell the size of node '%s'\n",
              node);
  cr_assert_eq (r, EXIT_FAIL, "%s", said);
  cr_assert_str_eq (said, line);
  free (said);
  h_task_free (t);
  h_store_remove (store);
}

Test (hv_qmp_create, no_such_node)
{
  expect_node_refused ("nope", true);
}

Test (hv_qmp_create, node_without_size)
{
  expect_node_refused ("nosize", false);
}

Test (hv_qmp_create, monitor_does_not_answer)
{
  char *store = h_store (), *said, *sock = path_join (store, "none.sock"), want[512];
  const char *args[] = { "--qmp", sock, "--node", "disk0", NULL };
  struct task *t;
  int r;

  h_stderr_begin ();
  r = h_create (store, args, &t);
  said = h_stderr_end ();
  snprintf (want, sizeof want, "cdp: cannot reach QEMU's QMP socket %s: ", sock);
  cr_assert_eq (r, EXIT_FAIL);
  cr_assert_eq (strncmp (said, want, strlen (want)), 0, "%s", said);
  cr_assert_eq (strchr (said, '\n'), said + strlen (said) - 1, "%s", said);
  free (said);
  free (sock);
  h_task_free (t);
  h_store_remove (store);
}

/* Refused before QEMU is asked: nobody listens on the socket. */
static void
expect_usage (const char *line, const char *const *args)
{
  char *store = h_store (), *said;
  struct task *t;
  int r;

  h_stderr_begin ();
  r = h_create (store, args, &t);
  said = h_stderr_end ();
  cr_assert_eq (r, EXIT_USAGE, "%s", said);
  cr_assert_str_eq (said, line);
  free (said);
  h_task_free (t);
  h_store_remove (store);
}

Test (hv_qmp_create, node_twice)
{
  static const char *const args[] = { "--qmp", "/nonexistent/qmp.sock", "--node",
    "disk0", "--node", "disk1", "--node", "disk0", NULL };

  expect_usage ("cdp: --node disk0 is given twice\n", args);
}

Test (hv_qmp_create, no_node)
{
  static const char *const args[] = { "--qmp", "/nonexistent/qmp.sock", NULL };

  expect_usage ("cdp: --qmp needs at least one --node\n", args);
}

/* --node without --qmp asks for no mode. */
Test (hv_qmp_create, node_without_qmp)
{
  static const char *const args[] = { "--node", "disk0", NULL };

  expect_usage ("cdp: task create needs --size and --listen, --qmp and "
                "--node, or --domain\n", args);
}

Test (hv_qmp_create, what_the_mode_does)
{
  const struct hv_driver *d = hv_by_name ("qmp");

  cr_assert_not_null (d->protector);
  cr_assert_str_eq (d->initial_state, "starting");
  cr_assert (d->initial_copy);
  cr_assert_str_eq (d->socket_dir, "run");
  cr_assert_null (d->freeze);
  cr_assert_null (d->recover);
  cr_assert_null (d->show_note);
}
