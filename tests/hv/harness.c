/* What the hypervisor driver tests share (harness.h). */
#include <criterion/criterion.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

char *
h_store (void)
{
  char *store = strdup ("/tmp/cdp-hv-XXXXXX");

  cr_assert_not_null (mkdtemp (store));
  return store;
}

void
h_store_remove (char *store)
{
  char cmd[256];

  snprintf (cmd, sizeof cmd, "rm -rf -- '%s'", store);
  cr_assert_eq (system (cmd), 0);
  free (store);
}

static struct task *
new_task (const char *store, const char *name)
{
  struct task *t = calloc (1, sizeof *t);
  char *tasks = path_join (store, "tasks");

  cr_assert_not_null (t);
  t->name = strdup (name);
  t->dir = path_join (tasks, name);
  free (tasks);
  policy_defaults (&t->policy);
  return t;
}

int
h_create (const char *store, const char *const *args, struct task **tp)
{
  static const struct option shared[] = {
    { "listen", required_argument, 0, 'l' }, LISTEN_LONG_OPTIONS, { 0 } };
  struct option *opts = hv_create_options (shared);
  char *argv[64] = { (char *) "create" };
  int argc = 1, c, r = 0;
  struct task *t = new_task (store, "x");
  struct hv_create hc = { .t = t };

  for (const char *const *a = args; *a; a++)
    argv[argc++] = (char *) *a;
  cr_assert_lt (argc, 64);
  optind = 1;
  while (r == 0 && (c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    switch (c) {
    case 'l': t->listen = strdup (optarg); break;
    case LISTEN_OPT_TLS_CREDS: case LISTEN_OPT_TLS_PSK:
    case LISTEN_OPT_NO_TLS: case LISTEN_OPT_MAX_CONNECTIONS:
      r = listen_opt (c, optarg, &t->lo);
      break;
    default:
      if ((r = hv_create_opt (&hc, c, optarg)) < 0)
        r = usage_error ("task create: see 'cdp task create --help'");
    }
  if (r == 0)
    r = hv_create_check (store, &hc);
  if (r == 0)
    r = hv_create_disks (&hc);
  hv_create_free (&hc);
  free (opts);
  *tp = t;
  return r;
}

void
h_task_free (struct task *t)
{
  task_free (t);
}

void
h_save_task (const char *store, const char *name, enum task_mode mode)
{
  struct task *t = new_task (store, name);

  t->mode = mode;
  if (mode == TASK_MANUAL)
    t->listen = strdup ("unix:/run/cdp-hv-test.sock");
  if (mode == TASK_QMP)
    t->qmp = strdup ("/run/cdp-hv-test-qmp.sock");
  if (mode == TASK_LIBVIRT)
    t->domain = strdup ("hv-test");
  task_disk_vector_append (&t->disks, (struct task_disk) { strdup ("disk0"), 0, 1 << 20 });
  cr_assert_eq (mkdir_p (t->dir, 0700), 0);
  cr_assert_eq (task_save (t), 0);
  task_free (t);
}

static FILE *caught;
static int saved_fd = -1;

void
h_stderr_begin (void)
{
  fflush (stderr);
  caught = tmpfile ();
  cr_assert_not_null (caught);
  saved_fd = dup (STDERR_FILENO);
  cr_assert_geq (saved_fd, 0);
  cr_assert_geq (dup2 (fileno (caught), STDERR_FILENO), 0);
}

char *
h_stderr_end (void)
{
  long n;
  char *text;

  fflush (stderr);
  cr_assert_geq (dup2 (saved_fd, STDERR_FILENO), 0);
  close (saved_fd);
  saved_fd = -1;
  n = ftell (caught);
  cr_assert_geq (n, 0);
  text = calloc (1, (size_t) n + 1);
  rewind (caught);
  cr_assert_eq (fread (text, 1, (size_t) n, caught), (size_t) n);
  fclose (caught);
  return text;
}
