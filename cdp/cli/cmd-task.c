/* cdp task create | list | show | delete (set: cmd-task-set.c) */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/cli/cli-internal.h"
#include "cdp/daemon/daemon.h"
#include "cdp/rapid/rapid.h"
#include "cdp/hv/hv.h"
#include "common/cleanup.h"
#include "common/jsonfile.h"
#include "common/fileio.h"
#include "common/timeutil.h"

#define NS 1000000000LL
/* How long task delete waits for cdp serve to let a task go. */
#define RELEASE_WAIT_NS (120 * NS)
/* How long task create waits for a running cdp serve to take it up. */
#define TAKE_UP_WAIT_MS (60 * 1000)

/* After each mode's form of the command (hv_create_usage). */
static const char create_help[] =
  "tcp:   --tls-creds DIR (X.509: ca-cert.pem, server-cert.pem, server-key.pem;\n"
  "       clients need a certificate the CA signed), --tls-psk FILE\n"
  "       (username:hexkey lines), or --no-tls (plain TCP): one is required\n"
  "listener: --max-connections N (32): clients served at once\n"
  "--json: print the task created as 'cdp task show --json' does\n"
  POLICY_HELP
  ARCHIVE_HELP
  "        --segment-size SIZE (journal segment; default 256M, less on small\n"
  "        file systems)\n";

/* cdp task --help, and the --help of the subcommands without their own. */
static int
task_help (void)
{
  cli_task_help (stdout);
  return 0;
}

/* The task directory disappears at once and durably (renamed to
 * tasks/.NAME.deleted, which is no task, and tasks/ fsynced), then its
 * files are removed: a delete cut short by a crash leaves no half task. */
static int
remove_task_dir (const struct task *t)
{
  char *gone;
  int e;

  const char *slash = strrchr (t->dir, '/');

  assert (slash != NULL);           /* t->dir is STORE/tasks/NAME */
  if (asprintf (&gone, "%.*s/.%s.deleted", (int) (slash - t->dir), t->dir,
                t->name) < 0)
    return fail ("could not remove %s: %s", t->dir, strerror (ENOMEM));
  e = fio_remove_tree (gone);       /* an earlier delete cut short */
  if (e == 0 && rename (t->dir, gone) < 0)
    e = -errno;
  if (e == 0)
    e = fio_sync_parent (t->dir);
  if (e < 0) {
    free (gone);
    return fail ("could not remove %s: %s", t->dir, strerror (-e));
  }
  e = fio_remove_tree (gone);
  if (e < 0)
    e = fail ("task %s is deleted, but %s could not be removed: %s",
              t->name, gone, strerror (-e));
  free (gone);
  return e;
}

/* A leftover of a create cut short: the task.json it may hold, itself. */
static void
remove_stage (const char *stage)
{
  CLEANUP_FREE char *f = path_join (stage, "task.json");
  CLEANUP_FREE char *tmp = path_join (stage, "task.json.tmp");

  if (f)
    unlink (f);
  if (tmp)
    unlink (tmp);
  rmdir (stage);
}

/* The task directory appears whole, or not at all, after a power loss: it
 * is made as tasks/.NAME.new, task.json is written into it, it is renamed
 * to NAME, and tasks/ is fsynced (the store's own entries too, when they
 * were just made). */
static int
create_dirs (const char *store, struct task *t)
{
  char *tasks = path_join (store, "tasks"), *final = t->dir, *stage;
  struct stat st;
  int e = tasks ? mkdir_p (tasks, 0755) : -ENOMEM;

  if (e == 0)
    e = fio_sync_parent (store);
  if (e == 0)
    e = fio_sync_parent (tasks);
  if (e < 0) {
    free (tasks);
    return fail ("cannot create store %s: %s", store, strerror (-e));
  }
  if (asprintf (&stage, "%s/.%s.new", tasks, t->name) < 0) {
    free (tasks);
    return fail ("task %s: %s", t->name, strerror (ENOMEM));
  }
  free (tasks);
  if (lstat (final, &st) == 0) {
    free (stage);
    return fail ("task '%s' exists already", t->name);
  }
  remove_stage (stage);
  if (mkdir (stage, 0700) < 0) {
    e = fail ("cannot create %s: %s", stage, strerror (errno));
    free (stage);
    return e;
  }
  t->dir = stage;
  e = task_save (t);
  t->dir = final;
  if (e == 0 && renameat2 (AT_FDCWD, stage, AT_FDCWD, final, RENAME_NOREPLACE) < 0)
    e = errno == EINVAL && rename (stage, final) == 0 ? 0 : -errno;
  if (e == 0)
    e = fio_sync_parent (final);
  if (e < 0 && e != -EEXIST && e != -ENOTEMPTY)
    e = fail ("cannot write task %s: %s", t->name, strerror (-e));
  else if (e < 0)
    e = fail ("task '%s' exists already", t->name);
  if (e != 0)
    remove_stage (stage);
  free (stage);
  return e;
}

/* Before anything is asked of QEMU or libvirt: the address to listen on
 * (well formed, no other task's); each mode checks its own options
 * (hv_create_check). */
static int
check_address (const char *store, const struct task *t)
{
  char why[512];
  int e;

  if (t->listen && listen_addr_check (t->listen, why, sizeof why) < 0)
    return usage_error ("%s", why);
  e = t->listen ? listen_addr_taken (store, t->listen, why, sizeof why) : 0;
  if (e == -EADDRINUSE)
    return usage_error ("%s", why);
  if (e < 0)
    return fail ("cannot read store %s: %s", store, strerror (-e));
  return 0;
}

/* Once the disks' sizes are known: each fits the store. */
static int
check_sizes (const char *store, const struct task *t)
{
  char why[512];
  int e = task_size_check (store, t, why, sizeof why);

  if (e == -EFBIG)
    return usage_error ("%s", why);
  return e < 0 ? fail ("%s", why) : 0;
}

/* The task is created: say on stderr what cdp serve does with it.  A
 * serve that runs takes it up (wait until its heartbeat says so) or
 * says why it cannot (exit 1: the task stays). */
static int
tell_serve (const char *store, const struct task *t)
{
  long long pid;
  char why[1024];
  int e = serve_await_task (store, t, TAKE_UP_WAIT_MS, &pid, why, sizeof why);

  switch (e) {
  case SERVE_TAKE_TAKEN:
    fprintf (stderr, "task %s: taken up by the running cdp serve (pid %lld)\n",
             t->name, pid);
    return 0;
  case SERVE_TAKE_REFUSED:
    return fail ("task %s is created, but the running cdp serve (pid %lld) "
                 "cannot serve it: %s; it tries again by itself once that "
                 "is fixed (or delete it: cdp task delete %s)", t->name, pid,
                 why, t->name);
  case SERVE_TAKE_NOT_NAMED:
    fprintf (stderr, "task %s: the running cdp serve (pid %lld) serves only "
             "the tasks named on its command line: a cdp serve started "
             "without names will serve it\n", t->name, pid);
    return 0;
  case SERVE_TAKE_NONE:
  case SERVE_TAKE_STOPPED:
    fprintf (stderr, "task %s: no cdp serve runs; it will be served when "
             "cdp serve starts (systemctl start cdp)\n", t->name);
    return 0;
  case -ETIMEDOUT:
    return fail ("task %s is created, but the running cdp serve (pid %lld) "
                 "did not take it up within %ds: see its log (journalctl "
                 "-u cdp)", t->name, pid, TAKE_UP_WAIT_MS / 1000);
  default:
    return fail ("task %s is created, but whether a cdp serve runs is not "
                 "known: %s/serve.lock: %s", t->name, store, strerror (-e));
  }
}

static int
task_create (const char *store, int argc, char **argv)
{
  /* The options of every mode; each mode's own are its driver's. */
  static const struct option shared[] = {
    { "listen", required_argument, 0, 'l' },
    { "segment-size", required_argument, 0, 'g' }, POLICY_LONG_OPTIONS,
    LISTEN_LONG_OPTIONS, ARCHIVE_LONG_OPTIONS, { "json", no_argument, 0, 'j' },
    { 0 } };
  struct option *opts = hv_create_options (shared);
  struct task *t = calloc (1, sizeof *t);
  struct hv_create hc = { .t = t };
  uint64_t seg = 0;
  bool json = false;
  int c, r = 0;

  if (opts == NULL || t == NULL) {
    free (opts);
    free (t);
    return fail ("task create: %s", strerror (ENOMEM));
  }
  policy_defaults (&t->policy);
  task_archive_defaults (&t->archive);
  optind = 1;
  while (r == 0 && (c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'l': t->listen = strdup (optarg); break;
    case 'j': json = true; break;
    case 'g':
      if (parse_size (optarg, &seg) < 0 || seg < (1u << 20) || seg > (1u << 30) ||
          seg % (1u << 20))
        r = usage_error ("--segment-size: whole MiB from 1M to 1G, not '%s'", optarg);
      t->policy.segment_size = (uint32_t) seg;
      break;
    case POLICY_OPT_BP_INTERVAL: case POLICY_OPT_JOURNAL_RETENTION:
    case POLICY_OPT_BP_RETENTION: case POLICY_OPT_MAX_CHAIN:
    case POLICY_OPT_VERIFY_INTERVAL: case POLICY_OPT_RPO:
      r = policy_opt (c, optarg, &t->policy);
      break;
    case LISTEN_OPT_TLS_CREDS: case LISTEN_OPT_TLS_PSK:
    case LISTEN_OPT_NO_TLS: case LISTEN_OPT_MAX_CONNECTIONS:
      r = listen_opt (c, optarg, &t->lo);
      break;
    case ARCHIVE_OPT_LOCATION: case ARCHIVE_OPT_KEEP_DAILY:
    case ARCHIVE_OPT_KEEP_WEEKLY: case ARCHIVE_OPT_KEEP_MONTHLY:
    case ARCHIVE_OPT_BANDWIDTH:
      r = task_archive_opt (c, optarg, &t->archive);
      break;
    default:
      if ((r = hv_create_opt (&hc, c, optarg)) < 0)
        r = usage_error ("task create: see 'cdp task create --help'");
    }
  }
  if (r == 0 && optind + 1 != argc)
    r = usage_error ("task create takes one NAME");
  if (r == 0 && !task_name_valid (argv[optind]))
    r = usage_error ("'%s' is not a task name (letters, digits, . - _)", argv[optind]);
  if (r == 0) {
    t->name = strdup (argv[optind]);
    char *tasks = path_join (store, "tasks");
    t->dir = tasks && t->name ? path_join (tasks, t->name) : NULL;
    free (tasks);
    t->created_ns = time_now_ns ();
    if (t->dir == NULL)
      r = fail ("task create: %s", strerror (ENOMEM));
  }
  if (r == 0 && access (t->dir, F_OK) == 0)
    r = fail ("task '%s' exists already", t->name);   /* before its address */
  if (r == 0)
    r = check_address (store, t);
  if (r == 0 && t->archive.location == NULL) {
    struct task_archive none;
    task_archive_defaults (&none);
    if (!task_archive_same (&none, &t->archive))
      r = usage_error ("--keep-daily, --keep-weekly, --keep-monthly and "
                       "--archive-bandwidth need --archive LOCATION");
  }
  if (r == 0)
    r = cli_archive_check (&t->archive);
  if (r == 0)
    r = hv_create_check (store, &hc);
  if (r == 0)
    r = listen_check (t->listen, &t->lo);
  if (r == 0)
    r = hv_create_disks (&hc);      /* the mode, and its disks */
  if (r == 0)
    r = check_sizes (store, t);
  if (r == 0)
    r = create_dirs (store, t);
  if (r == 0 && json)
    r = cli_print_json (task_json (t));
  else if (r == 0)
    printf ("task %s created (%s mode, %zu disk%s)\n", t->name,
            task_mode_name (t), t->disks.len, t->disks.len == 1 ? "" : "s");
  if (r == 0) {
    fflush (stdout);
    r = tell_serve (store, t);
  }
  hv_create_free (&hc);
  free (opts);
  task_free (t);
  return r;
}

json_object *
task_json (const struct task *t)
{
  json_object *o = json_object_new_object (), *disks = json_object_new_array ();
  char buf[64];

  jf_add (o, "name", json_object_new_string (t->name));
  jf_add (o, "mode", json_object_new_string (task_mode_name (t)));
  if (t->listen)
    jf_add (o, "listen", json_object_new_string (t->listen));
  if (listen_is_tcp (t->listen))
    jf_add (o, "tls", json_object_new_string
            (t->lo.tls_creds ? "x509" : t->lo.tls_psk ? "psk"
             : "none"));
  if (t->lo.tls_creds)
    jf_add (o, "tls_creds", json_object_new_string (t->lo.tls_creds));
  if (t->lo.tls_psk)
    jf_add (o, "tls_psk", json_object_new_string (t->lo.tls_psk));
  jf_add (o, "max_connections",
          json_object_new_int64 (t->lo.max_connections));
  if (t->qmp)
    jf_add (o, "qmp", json_object_new_string (t->qmp));
  if (t->domain)
    jf_add (o, "domain", json_object_new_string (t->domain));
  if (t->connect)
    jf_add (o, "connect", json_object_new_string (t->connect));
  for (size_t i = 0; i < t->disks.len; i++) {
    json_object *d = json_object_new_object ();
    jf_add (d, "name", json_object_new_string (t->disks.ptr[i].name));
    jf_add (d, "size", json_object_new_int64 ((int64_t) t->disks.ptr[i].size));
    task_disk_show (&t->disks.ptr[i], d, buf, sizeof buf);
    jf_append (disks, d);
  }
  jf_add (o, "disks", disks);
  jf_add (o, "bp_interval_s", json_object_new_int64 (t->policy.bp_interval / NS));
  jf_add (o, "journal_retention_s", json_object_new_int64 (t->policy.journal_retention / NS));
  jf_add (o, "bp_retention_s", json_object_new_int64 (t->policy.bp_retention / NS));
  jf_add (o, "max_chain", json_object_new_int (t->policy.max_chain));
  jf_add (o, "verify_interval_s", json_object_new_int64 (t->policy.verify_interval / NS));
  jf_add (o, "rpo_s", json_object_new_double ((double) t->policy.rpo / NS));
  if (t->archive.location)
    jf_add (o, "archive", task_archive_json (&t->archive));
  else
    jf_add_null (o, "archive");
  jf_add (o, "points_checked_against_mirror",
          json_object_new_boolean (hv_of (t)->protector != NULL));
  format_time (t->created_ns, buf, sizeof buf);
  jf_add (o, "created", json_object_new_string (buf));
  return o;
}

static void
task_print (const struct task *t)
{
  char a[32], b[32], c[32], v[32], sz[32], rpo[32];

  printf ("task:       %s\nmode:       %s\n", t->name, task_mode_name (t));
  if (t->listen)
    printf ("listen:     %s\n", t->listen);
  if (t->lo.tls_creds)
    printf ("tls:        x509, credentials in %s\n", t->lo.tls_creds);
  else if (t->lo.tls_psk)
    printf ("tls:        psk, keys in %s\n", t->lo.tls_psk);
  else if (listen_is_tcp (t->listen))
    printf ("tls:        none (plain tcp: --no-tls)\n");
  printf ("clients:    at most %u at once\n", t->lo.max_connections);
  if (t->qmp)
    printf ("qmp:        %s\n", t->qmp);
  if (t->domain)
    printf ("domain:     %s%s%s\n", t->domain, t->connect ? " on " : "",
            t->connect ? t->connect : "");
  for (size_t i = 0; i < t->disks.len; i++) {
    char more[256];
    format_size (t->disks.ptr[i].size, sz, sizeof sz);
    task_disk_show (&t->disks.ptr[i], NULL, more, sizeof more);
    printf ("disk:       %s (%s%s)\n", t->disks.ptr[i].name, sz, more);
  }
  format_duration (t->policy.bp_interval, a, sizeof a);
  format_duration (t->policy.journal_retention, b, sizeof b);
  format_duration (t->policy.bp_retention, c, sizeof c);
  format_duration (t->policy.verify_interval, v, sizeof v);
  printf ("policy:     base points every %s, journal %s, base points %s, "
          "chain <= %u, verified every %s\n", a, b, c, t->policy.max_chain, v);
  policy_format_rpo (t->policy.rpo, rpo, sizeof rpo);
  if (t->policy.rpo == 0)
    printf ("rpo:        0 (a guest write completes once its record is durable)\n");
  else
    printf ("rpo:        %s (a guest write completes once the kernel has its "
            "record; durable within %s)\n", rpo, rpo);
  if (t->archive.location) {
    format_size (t->archive.bandwidth, sz, sizeof sz);
    printf ("archive:    %s, keeping %u daily, %u weekly, %u monthly "
            "points, locks and bookmarks; uploads at most %s/s\n",
            t->archive.location, t->archive.keep_daily,
            t->archive.keep_weekly, t->archive.keep_monthly,
            t->archive.bandwidth ? sz : "unbounded");
  }
  else
    printf ("archive:    none\n");
  if (hv_of (t)->show_note)
    printf ("note:       %s\n", hv_of (t)->show_note);
}

int
cmd_task_show (const char *store, int argc, char **argv)
{
  struct task *t;
  const char *name = NULL;
  int r = EXIT_OK;

  if (want_help (argc, argv))
    return task_help ();
  for (int i = 1; i < argc; i++)
    if (argv[i][0] != '-')
      name = argv[i];
  if (name == NULL)
    return usage_error ("usage: cdp task show NAME [--json]");
  if (cli_task_load (store, name, &t) != 0)
    return EXIT_FAIL;
  if (cli_flag (argc, argv, "--json"))
    r = cli_print_json (task_json (t));
  else
    task_print (t);
  task_free (t);
  return r;
}

int
cmd_task_list (const char *store, int argc, char **argv)
{
  string_vector names = empty_vector;
  json_object *arr;
  bool json = cli_flag (argc, argv, "--json");
  int e;

  if (want_help (argc, argv))
    return task_help ();
  arr = json_object_new_array ();
  e = task_list (store, &names);
  if (e < 0)
    return fail ("cannot read store %s: %s", store, strerror (-e));
  for (size_t i = 0; i < names.len; i++) {
    struct task *t;
    if ((e = task_load (store, names.ptr[i], &t)) < 0) {
      task_load_fail (store, names.ptr[i], e);    /* the others still list */
      free (names.ptr[i]);
      continue;
    }
    if (json)
      jf_append (arr, task_json (t));
    else
      printf ("%-20s %-8s %zu disk%s\n", t->name, task_mode_name (t),
              t->disks.len, t->disks.len == 1 ? "" : "s");
    task_free (t);
    free (names.ptr[i]);
  }
  if (json)
    e = cli_print_json_list ("tasks", arr);
  else {
    json_object_put (arr);
    e = 0;
  }
  string_vector_reset (&names);
  return e;
}

/* Why the task must not be deleted without --force (NULL: nothing):
 * locked points, or a rapid recovery whose VM may still read the store. */
static const char *
delete_hazard (const struct task *t, char *why, size_t len)
{
  lock_vector locks = empty_vector;
  struct rapid_state r;
  int e = locks_load (t, &locks);

  if (e < 0)
    snprintf (why, len, "cannot read its locks.json (%s)", jf_strerror (e));
  else if (locks.len > 0)
    snprintf (why, len, "it has %zu locked point%s (cdp unlock)", locks.len,
              locks.len == 1 ? "" : "s");
  lock_vector_reset (&locks);
  if (e < 0 || *why)
    return why;
  e = rapid_state_load (t, &r);
  if (e < 0 && e != -ENOENT)
    snprintf (why, len, "cannot read its recover.json (%s)", jf_strerror (e));
  else if (e == 0 && rapid_state_unfinished (&r))
    snprintf (why, len, "a rapid recovery from it is %s (its VM may still "
              "read from the store)", rapid_state_shown (t, &r));
  rapid_state_clear (&r);
  return *why ? why : NULL;
}

/* The pid in run/state.json of the serve that holds the task, or 0. */
static long long
serving_pid (const struct task *t)
{
  json_object *state = NULL, *v;
  long long pid = 0;

  if (served_load (t, &state) == 0 &&
      json_object_object_get_ex (state, "pid", &v))
    pid = json_object_get_int64 (v);
  json_object_put (state);
  return pid;
}

/* The task is served: ask that cdp serve let it go (its jobs end, its
 * receiver closes) and wait until serve.lock (fd) is ours; say so
 * unless json. */
static int
release_served (const struct task *t, int fd, bool json)
{
  long long pid = serving_pid (t);
  int64_t deadline = time_now_ns () + RELEASE_WAIT_NS;
  bool asked = false;

  for (int64_t now; (now = time_now_ns ()) < deadline; ) {
    char *reply = NULL;
    /* Bounded: a hung serve must not hold the delete past deadline. */
    if (!asked && control_call_within (t, "{\"op\":\"release\"}",
                                       (unsigned) ((deadline - now) / 1000000)
                                       + 1, &reply) == 0)
      asked = cli_reply_ok (reply);
    free (reply);
    if (flock (fd, LOCK_EX | LOCK_NB) == 0) {
      if (!json)
        printf ("task %s: cdp serve stopped serving it\n", t->name);
      return 0;
    }
    usleep (100000);
  }
  if (pid > 0)
    return fail ("task '%s' is served by 'cdp serve' (pid %lld), which did "
                 "not let it go within %llds: stop it, then delete the task",
                 t->name, pid, RELEASE_WAIT_NS / NS);
  return fail ("task '%s' is served by 'cdp serve', which did not let it go "
               "within %llds: stop it, then delete the task", t->name,
               RELEASE_WAIT_NS / NS);
}

int
cmd_task_delete (const char *store, int argc, char **argv)
{
  struct task *t;
  bool force = false, json = false, keep_archive = false;
  const char *name = NULL;
  size_t forgot = 0;
  char *lock, why[512] = "";
  bool released = false;
  int fd, lfd = -1, e;

  if (want_help (argc, argv))
    return task_help ();
  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--force") == 0)
      force = true;
    else if (strcmp (argv[i], "--json") == 0)
      json = true;
    else if (strcmp (argv[i], "--keep-archive") == 0)
      keep_archive = true;
    else if (argv[i][0] != '-')
      name = argv[i];
  }
  if (name == NULL)
    return usage_error ("usage: cdp task delete NAME [--force] "
                        "[--keep-archive] [--json]");
  if ((e = task_load (store, name, &t)) < 0 && e != -EUCLEAN &&
      e != -EPROTONOSUPPORT)
    return task_load_fail (store, name, e);
  if (e < 0 && !force)
    return task_load_fail (store, name, e);
  if (e < 0) {                      /* --force: a task.json that is damaged */
    char *tasks = path_join (store, "tasks");
    t = calloc (1, sizeof *t);
    if (t) {
      t->name = strdup (name);
      t->dir = tasks ? path_join (tasks, name) : NULL;
    }
    free (tasks);
    if (t == NULL || t->name == NULL || t->dir == NULL) {
      task_free (t);
      return fail ("task '%s': %s", name, strerror (ENOMEM));
    }
  }
  if (!force && delete_hazard (t, why, sizeof why)) {
    task_free (t);
    return fail ("task '%s' not deleted: %s; use --force to delete it anyway",
                 name, why);
  }
  /* Held until the directory is gone: no serve can take the task meanwhile. */
  lock = task_path (t, "serve.lock");
  fd = lock ? open (lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
  if (lock == NULL)
    errno = ENOMEM;
  free (lock);
  if (fd < 0) {
    e = fail ("cannot open %s/serve.lock: %s", t->dir, strerror (errno));
    task_free (t);
    return e;
  }
  if (flock (fd, LOCK_EX | LOCK_NB) < 0) {
    released = true;
    if ((e = release_served (t, fd, json)) != 0) {
      close (fd);
      task_free (t);
      return e;
    }
  }
  /* Again, now that no serve holds the task and with locks.json held:
   * a point may have been locked, or a recovery started, meanwhile. */
  if (!force && (lfd = locks_hold (t)) < 0) {
    e = fail ("cannot lock %s/locks.lock: %s", t->dir, strerror (-lfd));
    goto out;
  }
  *why = '\0';
  if (!force && delete_hazard (t, why, sizeof why)) {
    e = fail ("task '%s' not deleted: %s; use --force to delete it "
              "anyway%s", name, why, released ? " (cdp serve takes it up "
              "again)" : "");
    goto out;
  }
  /* No serve archives the task any more: what it pushed is forgotten
   * (archive gc frees its chunks), or the task stays. */
  if (!keep_archive && t->archive.location &&
      cli_archive_forget (store, t, &forgot, why, sizeof why) < 0) {
    e = fail ("task '%s' not deleted: its points in archive %s cannot be "
              "forgotten: %s; use --keep-archive to delete it and keep "
              "them%s", name, t->archive.location, why, released
              ? " (cdp serve takes it up again)" : "");
    goto out;
  }
  if ((e = remove_task_dir (t)) != 0)
    goto out;
  if (json) {
    json_object *o = json_object_new_object ();
    jf_add (o, "task", json_object_new_string (name));
    jf_add (o, "deleted", json_object_new_boolean (true));
    jf_add (o, "was_served", json_object_new_boolean (released));
    jf_add (o, "archived_points_forgotten", json_object_new_uint64 (forgot));
    e = cli_print_json (o);
  }
  else {
    if (forgot)
      printf ("task %s: %zu archived point%s forgotten in %s (cdp archive "
              "gc frees their chunks)\n", name, forgot, forgot == 1 ? ""
              : "s", t->archive.location);
    printf ("task %s deleted\n", name);
    e = 0;
  }
 out:
  if (lfd >= 0)
    close (lfd);
  close (fd);
  task_free (t);
  return e;
}

/* cdp task create --help: its own text, longer than one line. */
int
cmd_task_create (const char *store, int argc, char **argv)
{
  if (want_help (argc, argv)) {
    hv_create_usage (stdout);
    fputs (create_help, stdout);
    return 0;
  }
  return task_create (store, argc, argv);
}

/* cdp task SUBCOMMAND: through the table of subcommands (commands.c). */
int
cmd_task (const char *store, int argc, char **argv)
{
  const struct cli_command *c;
  char names[96];

  if (argc < 2) {
    cli_names (&cli_task_commands, names, sizeof names);
    return usage_error ("usage: cdp task %s ...", names);
  }
  c = cli_find (&cli_task_commands, argv[1]);
  if (c)
    return c->run (store, argc - 1, argv + 1);
  if (want_help (argc, argv))
    return task_help ();
  return usage_error ("unknown task command '%s'", argv[1]);
}
