/* nbd-test-server: serve a file (or an in-memory disk) with cdp's NBD
 * server, for tests with real clients and for measurements.
 *
 *   nbd-test-server [--file PATH | --size SIZE] [--read-only]
 *                   [--export NAME[=DESCRIPTION]]... [--min-block N]
 *                   [--max-block N] [--workers N] [--sync] [--verbose]
 *                   [--unix PATH | --tcp HOST:PORT | --stdin]
 *                   [--run COMMAND]
 *
 * --stdin serves one connection on fd 0 or, under systemd socket
 * activation, the first one accepted on fd 3.
 * Without --unix/--tcp/--stdin it listens on a unix socket in a fresh
 * temporary directory.  With --run it sets $uri (NBD URI of the first
 * export), $addr, $sock (unix) or $port (tcp), runs COMMAND with sh -c,
 * shuts down and exits with COMMAND's status.  Otherwise it prints the
 * bound address and serves until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nbd-export/nbd-server.h"
#include "tests/nbd/test-backend.h"

struct options {
  const char *file;
  uint64_t size;
  const char *listen;
  const char *run;
  bool use_stdin;
  bool verbose;
  unsigned workers;
  struct tb_config cfg;
  int nr_exports;
};

static char tmpdir[256];

static void
usage (void)
{
  fprintf (stderr,
           "usage: nbd-test-server [--file PATH | --size SIZE] [--read-only]\n"
           "         [--export NAME[=DESC]]... [--min-block N] [--max-block N]\n"
           "         [--workers N] [--sync] [--verbose]\n"
           "         [--unix PATH | --tcp HOST:PORT | --stdin] [--run CMD]\n");
  exit (2);
}

static uint64_t
parse_size (const char *s)
{
  char *end;
  unsigned long long v;

  errno = 0;
  v = strtoull (s, &end, 0);
  if (errno || end == s)
    usage ();
  switch (*end) {
  case 'k': case 'K': v <<= 10; end++; break;
  case 'm': case 'M': v <<= 20; end++; break;
  case 'g': case 'G': v <<= 30; end++; break;
  }
  if (*end)
    usage ();
  return v;
}

static void
add_export (struct options *o, char *arg)
{
  char *eq = strchr (arg, '=');

  if (o->nr_exports >= TB_MAX_EXPORTS - 1)
    usage ();
  if (eq)
    *eq = '\0';
  o->cfg.names[o->nr_exports] = arg;
  o->cfg.descriptions[o->nr_exports] = eq ? eq + 1 : NULL;
  o->nr_exports++;
}

static void
parse_args (int argc, char **argv, struct options *o)
{
  static const struct option longopts[] = {
    { "file", required_argument, NULL, 'f' },
    { "size", required_argument, NULL, 's' },
    { "read-only", no_argument, NULL, 'r' },
    { "export", required_argument, NULL, 'e' },
    { "min-block", required_argument, NULL, 'm' },
    { "max-block", required_argument, NULL, 'M' },
    { "workers", required_argument, NULL, 'w' },
    { "sync", no_argument, NULL, 'S' },
    { "verbose", no_argument, NULL, 'v' },
    { "unix", required_argument, NULL, 'u' },
    { "tcp", required_argument, NULL, 't' },
    { "stdin", no_argument, NULL, 'i' },
    { "run", required_argument, NULL, 'R' },
    { NULL, 0, NULL, 0 },
  };
  static char addr[4200];
  int c;

  o->cfg.async = true;
  while ((c = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
    case 'f': o->file = optarg; break;
    case 's': o->size = parse_size (optarg); break;
    case 'r': o->cfg.read_only = true; break;
    case 'e': add_export (o, optarg); break;
    case 'm': o->cfg.min_block = (uint32_t) parse_size (optarg); break;
    case 'M': o->cfg.max_block = (uint32_t) parse_size (optarg); break;
    case 'w': o->workers = (unsigned) parse_size (optarg); break;
    case 'S': o->cfg.async = false; break;
    case 'v': o->verbose = true; break;
    case 'u':
      snprintf (addr, sizeof addr, "unix:%s", optarg);
      o->listen = addr;
      break;
    case 't':
      snprintf (addr, sizeof addr, "tcp:%s", optarg);
      o->listen = addr;
      break;
    case 'i': o->use_stdin = true; break;
    case 'R': o->run = optarg; break;
    default: usage ();
    }
  }
  if (optind != argc || (o->file && o->size) || (!o->file && !o->size))
    usage ();
}

static int
open_disk (struct options *o)
{
  int fd;

  if (o->size) {
    fd = tb_memfd (o->size);
    if (fd < 0)
      fprintf (stderr, "nbd-test-server: memfd: %s\n", strerror (-fd));
    return fd;
  }
  fd = open (o->file, (o->cfg.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (fd < 0)
    fprintf (stderr, "nbd-test-server: %s: %m\n", o->file);
  return fd;
}

static void
log_stderr (void *opaque, enum nbd_log_level level, const char *msg)
{
  static const char *names[] = { "error", "warning", "info", "debug" };
  bool verbose = *(bool *) opaque;

  if (verbose || level <= NBD_LOG_ERROR)
    fprintf (stderr, "nbd-test-server: %s: %s\n", names[level], msg);
}

/* Make the default listening address: a socket in a new temp dir. */
static const char *
default_listen (void)
{
  static char addr[300];
  const char *t = getenv ("TMPDIR");

  snprintf (tmpdir, sizeof tmpdir, "%s/nbd-test-XXXXXX", t ? t : "/tmp");
  if (mkdtemp (tmpdir) == NULL) {
    perror ("nbd-test-server: mkdtemp");
    exit (1);
  }
  snprintf (addr, sizeof addr, "unix:%s/sock", tmpdir);
  return addr;
}

/* Export the variables a --run command uses. */
static void
set_environment (const char *bound, const char *export)
{
  char uri[4500];

  setenv ("addr", bound, 1);
  if (strncmp (bound, "unix:", 5) == 0) {
    setenv ("sock", bound + 5, 1);
    snprintf (uri, sizeof uri, "nbd+unix:///%s?socket=%s", export, bound + 5);
  } else {
    const char *port = strrchr (bound, ':') + 1;
    setenv ("port", port, 1);
    snprintf (uri, sizeof uri, "nbd://%.*s/%s",
              (int) (strlen (bound) - 4), bound + 4, export);
  }
  setenv ("uri", uri, 1);
}

static int
run_command (const char *cmd)
{
  pid_t pid = fork ();
  int status;

  if (pid < 0) {
    perror ("nbd-test-server: fork");
    return 1;
  }
  if (pid == 0) {
    sigset_t set;
    sigemptyset (&set);
    sigprocmask (SIG_SETMASK, &set, NULL);
    signal (SIGPIPE, SIG_DFL);
    execl ("/bin/sh", "sh", "-c", cmd, (char *) NULL);
    _exit (127);
  }
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return 1;
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  return 128 + WTERMSIG (status);
}

static int
wait_for_signal (void)
{
  sigset_t set;
  int sig;

  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  sigwait (&set, &sig);
  return 0;
}

/* The connection to serve with --stdin: fd 0, or under systemd socket
 * activation (LISTEN_FDS=1, as libnbd's "[ CMD ]" clients start a
 * server) the first client accepted on fd 3. */
static int
inherited_fd (void)
{
  const char *fds = getenv ("LISTEN_FDS"), *pid = getenv ("LISTEN_PID");
  int fd;

  if (fds == NULL || pid == NULL || atoi (pid) != getpid () ||
      atoi (fds) < 1)
    return 0;
  do
    fd = accept4 (3, NULL, NULL, SOCK_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  close (3);
  return fd;
}

static int
serve (struct options *o, struct nbd_server *srv)
{
  const char *listen = o->listen ? o->listen : default_listen ();
  char *bound = NULL;
  int r, status;

  if (o->use_stdin) {
    r = nbd_server_serve_fd (srv, inherited_fd ());
    return r == 0 || r == -ECONNRESET ? 0 : 1;
  }
  r = nbd_server_listen (srv, listen, &bound);
  if (r < 0) {
    fprintf (stderr, "nbd-test-server: listen on %s: %s\n", listen,
             strerror (-r));
    return 1;
  }
  set_environment (bound, o->cfg.names[0] ? o->cfg.names[0] : "");
  if (o->run) {
    status = run_command (o->run);
  } else {
    printf ("%s\n", bound);
    fflush (stdout);
    status = wait_for_signal ();
  }
  free (bound);
  return status;
}

int
main (int argc, char **argv)
{
  struct options o = { 0 };
  struct tb_disk *disk;
  struct nbd_server *srv;
  sigset_t set;
  int r, status;

  parse_args (argc, argv, &o);
  signal (SIGPIPE, SIG_IGN);
  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  pthread_sigmask (SIG_BLOCK, &set, NULL);

  o.cfg.fd = open_disk (&o);
  if (o.cfg.fd < 0)
    return 1;
  o.cfg.size = o.size;
  r = tb_new (&o.cfg, &disk);
  if (r == 0)
    r = nbd_server_new (&tb_ops, disk, &srv);
  if (r == 0)
    r = nbd_server_set_limits (srv, o.workers, 0, 0);
  if (r < 0) {
    fprintf (stderr, "nbd-test-server: %s\n", strerror (-r));
    return 1;
  }
  nbd_server_set_log (srv, log_stderr, &o.verbose);
  status = serve (&o, srv);
  nbd_server_free (srv);
  tb_free (disk);
  if (*tmpdir)
    rmdir (tmpdir);
  return status;
}
