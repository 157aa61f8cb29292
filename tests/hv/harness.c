/* What the hypervisor driver tests share (harness.h). */
#include <criterion/criterion.h>
#include <getopt.h>
#include <json-c/json.h>
#include <sys/socket.h>
#include <sys/un.h>
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
h_save_task (const char *store, const char *name, const char *mode)
{
  struct task *t = new_task (store, name);

  t->hv = hv_by_name (mode);
  cr_assert_not_null (t->hv);
  if (strcmp (mode, "manual") == 0)
    t->listen = strdup ("unix:/run/cdp-hv-test.sock");
  if (strcmp (mode, "qmp") == 0)
    t->qmp = strdup ("/run/cdp-hv-test-qmp.sock");
  if (strcmp (mode, "libvirt") == 0)
    t->domain = strdup ("hv-test");
  task_disk_vector_append (&t->disks, (struct task_disk) {
                           .name = strdup ("disk0"), .size = 1 << 20 });
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

/* ---- the scripted QMP peer ---------------------------------------------- */

static void
say (int fd, const char *text)
{
  size_t n = strlen (text);

  /* The client may have hung up meanwhile: that ends this connection. */
  if (write (fd, text, n) == (ssize_t) n)
    (void) !write (fd, "\n", 1);
}

static void
converse (struct h_qmp_peer *p, int fd)
{
  char line[4096];
  size_t len = 0;

  say (fd, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, "
       "\"major\": 7}, \"package\": \"\"}, \"capabilities\": []}}");
  for (;;) {
    ssize_t n = read (fd, line + len, sizeof line - 1 - len);
    char *nl;
    if (n <= 0)
      return;
    len += (size_t) n;
    line[len] = 0;
    while ((nl = strchr (line, '\n')) != NULL) {
      json_object *cmd;
      const char *ex, *id;
      char reply[4096];
      *nl = 0;
      cmd = json_tokener_parse (line);
      ex = json_object_get_string (json_object_object_get (cmd, "execute"));
      id = json_object_get_string (json_object_object_get (cmd, "id"));
      if (ex && strcmp (ex, "query-named-block-nodes") == 0)
        snprintf (reply, sizeof reply, "{\"return\": %s, \"id\": \"%s\"}",
                  p->nodes, id ? id : "");
      else if (ex && strncmp (ex, "query-", 6) == 0)     /* no devices, jobs */
        snprintf (reply, sizeof reply, "{\"return\": [], \"id\": \"%s\"}",
                  id ? id : "");
      else
        snprintf (reply, sizeof reply, "{\"return\": {}, \"id\": \"%s\"}",
                  id ? id : "");
      say (fd, reply);
      json_object_put (cmd);
      len -= (size_t) (nl + 1 - line);
      memmove (line, nl + 1, len + 1);
    }
  }
}

static void *
serve_qmp (void *arg)
{
  struct h_qmp_peer *p = arg;
  int fd;

  while ((fd = accept (p->listen_fd, NULL, NULL)) >= 0) {
    converse (p, fd);
    close (fd);
  }
  return NULL;
}

void
h_qmp_peer_start (struct h_qmp_peer *p, const char *dir, const char *nodes)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };

  snprintf (p->path, sizeof p->path, "%s/qmp.sock", dir);
  strcpy (sa.sun_path, p->path);
  p->nodes = nodes;
  p->listen_fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  cr_assert_geq (p->listen_fd, 0);
  cr_assert_eq (bind (p->listen_fd, (struct sockaddr *) &sa, sizeof sa), 0);
  cr_assert_eq (listen (p->listen_fd, 4), 0);
  cr_assert_eq (pthread_create (&p->thread, NULL, serve_qmp, p), 0);
}

void
h_qmp_peer_stop (struct h_qmp_peer *p)
{
  /* accept() fails from here on (a connection being served ends when
   * its client closes it). */
  shutdown (p->listen_fd, SHUT_RDWR);
  pthread_join (p->thread, NULL);
  close (p->listen_fd);
}
