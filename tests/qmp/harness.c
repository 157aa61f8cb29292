/* Test harness for the QMP tests.  See harness.h. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/error.h"
#include "harness.h"

#define MAX_CHILDREN 16

static pid_t children[MAX_CHILDREN];
static char scratch[64];

static int
remove_entry (const char *path, const struct stat *st, int flag,
              struct FTW *ftw)
{
  remove (path);
  return 0;
}

static void
cleanup (void)
{
  for (size_t i = 0; i < MAX_CHILDREN; i++)
    if (children[i] > 0) {
      kill (children[i], SIGKILL);
      waitpid (children[i], NULL, 0);
      children[i] = 0;
    }
  if (scratch[0])
    nftw (scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
on_signal (int sig)
{
  exit (128 + sig);             /* runs cleanup */
}

static void
track (pid_t pid, pid_t old)
{
  for (size_t i = 0; i < MAX_CHILDREN; i++)
    if (children[i] == old) {
      children[i] = pid;
      return;
    }
  CHECK (false, "too many children");
}

static void
sleep_ms (long ms)
{
  struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 };

  nanosleep (&ts, NULL);
}

/* fork + exec; the child dies with us.  An exec failure fails the test
 * (reported back through a close-on-exec pipe). */
static pid_t
spawn (const char *const argv[])
{
  int pfd[2], err = 0;
  pid_t pid;

  CHECK (pipe2 (pfd, O_CLOEXEC) == 0, "pipe: %m");
  pid = fork ();
  CHECK (pid >= 0, "fork: %m");
  if (pid == 0) {
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    execvp (argv[0], (char *const *) argv);
    err = errno;
    if (write (pfd[1], &err, sizeof err) < 0)
      _exit (126);
    _exit (127);
  }
  close (pfd[1]);
  if (read (pfd[0], &err, sizeof err) != sizeof err)
    err = 0;
  close (pfd[0]);
  if (err) {
    waitpid (pid, NULL, 0);
    CHECK (false, "cannot run %s: %s", argv[0], strerror (err));
  }
  track (pid, 0);
  return pid;
}

void
h_kill (pid_t *pid)
{
  if (*pid <= 0)
    return;
  kill (*pid, SIGKILL);
  waitpid (*pid, NULL, 0);
  track (0, *pid);
  *pid = 0;
}

void
h_run (const char *const argv[])
{
  pid_t pid = spawn (argv);
  int status;

  CHECK (waitpid (pid, &status, 0) == pid, "waitpid: %m");
  track (0, pid);
  CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0,
         "%s failed (status 0x%x)", argv[0], status);
}

void
h_init (struct harness *h)
{
  const char *tmp = getenv ("TMPDIR");

  memset (h, 0, sizeof *h);
  snprintf (h->dir, sizeof h->dir, "%s/cdp-qmp-XXXXXX",
            tmp && strlen (tmp) < 32 ? tmp : "/tmp");
  CHECK (mkdtemp (h->dir) != NULL, "mkdtemp: %m");
  strcpy (scratch, h->dir);
  atexit (cleanup);
  signal (SIGTERM, on_signal);
  signal (SIGINT, on_signal);
  snprintf (h->img, sizeof h->img, "%s/disk.qcow2", h->dir);
  snprintf (h->qmp_sock, sizeof h->qmp_sock, "%s/qmp.sock", h->dir);
  snprintf (h->nbd_sock, sizeof h->nbd_sock, "%s/nbd.sock", h->dir);
  snprintf (h->nbd_log, sizeof h->nbd_log, "%s/nbd.log", h->dir);
  h_run ((const char *[]) { "qemu-img", "create", "-q", "-f", "qcow2",
                            h->img, DISK_SIZE_STR, NULL });
}

/* Fail if the child already exited. */
static void
check_alive (pid_t pid, const char *what)
{
  int status;

  if (waitpid (pid, &status, WNOHANG) == pid) {
    track (0, pid);
    CHECK (false, "%s exited early (status 0x%x)", what, status);
  }
}

struct qmp *
h_start_qemu (struct harness *h)
{
  char blockdev[300];
  char qmp[200];
  struct qmp *q;
  int r;

  snprintf (qmp, sizeof qmp, "unix:%s,server=on,wait=off", h->qmp_sock);
  snprintf (blockdev, sizeof blockdev, "driver=qcow2,node-name=disk0,"
            "file.driver=file,file.filename=%s", h->img);
  h->qemu = spawn ((const char *[]) {
      "qemu-system-x86_64", "-M", "pc", "-S", "-nodefaults",
      "-display", "none", "-qmp", qmp, "-blockdev", blockdev,
      "-device", "virtio-blk-pci,drive=disk0,id=vd0", NULL });
  for (int i = 0; ; i++) {
    r = qmp_connect (h->qmp_sock, &q);
    if (r == 0)
      return q;
    check_alive (h->qemu, "qemu-system-x86_64");
    CHECK (i < 1000 && (r == -ENOENT || r == -ECONNREFUSED),
           "QMP connect: %s", cdp_get_error ());
    sleep_ms (10);
  }
}

void
h_start_nbdkit (struct harness *h, const char *size)
{
  char memsize[32], logfile[160], pidfile[160];

  snprintf (memsize, sizeof memsize, "size=%s", size);
  snprintf (logfile, sizeof logfile, "logfile=%s", h->nbd_log);
  snprintf (pidfile, sizeof pidfile, "%s/nbdkit.pid", h->dir);
  unlink (pidfile);
  unlink (h->nbd_sock);         /* a killed nbdkit leaves it behind */
  h->nbd = spawn ((const char *[]) {
      "nbdkit", "-f", "--exit-with-parent", "-U", h->nbd_sock,
      "-P", pidfile, "--filter=log", "memory", memsize, logfile,
      "logappend=true", NULL });
  /* nbdkit writes its pidfile once it accepts connections. */
  for (int i = 0; access (pidfile, F_OK) != 0; i++) {
    check_alive (h->nbd, "nbdkit");
    CHECK (i < 1000, "nbdkit did not start");
    sleep_ms (10);
  }
}

void
h_guest_io (struct qmp *q, const char *qemu_io_command)
{
  char cmd[256];
  char *out = NULL;
  int r;

  snprintf (cmd, sizeof cmd, "qemu-io -d %s \"%s\"", GUEST_DEVICE,
            qemu_io_command);
  r = qmp_hmp (q, cmd, &out);
  CHECK_OK (r, cmd);
  CHECK (out && (strstr (out, "wrote ") || strstr (out, "discard ")
                 || strstr (out, "read ") || out[0] == '\0'),
         "%s: %s", cmd, out ? out : "(no output)");
  free (out);
}

void
h_wait_state (struct qmp_mirror *m, enum qmp_mirror_state want,
              int timeout_ms)
{
  const char *reason;
  enum qmp_mirror_state st;
  int r;

  for (int waited = 0; ; waited += 100) {
    st = qmp_mirror_state (m, &reason, NULL);
    if (st == want)
      return;
    CHECK (waited < timeout_ms, "state %d, want %d (%s)", st, want, reason);
    r = qmp_mirror_poll (m, 100);
    CHECK (r >= 0 || want == QMP_MIRROR_BROKEN, "poll: %s",
           cdp_get_error ());
  }
}

void
h_wait_job_status (struct qmp *q, const char *id, const char *status)
{
  for (int waited = 0; ; waited += 20) {
    json_object *jobs = NULL, *v;
    const char *st = NULL;
    size_t n;

    CHECK_OK (qmp_execute (q, "query-jobs", NULL, &jobs), "query-jobs");
    n = json_object_array_length (jobs);
    for (size_t i = 0; i < n; i++) {
      json_object *job = json_object_array_get_idx (jobs, i);

      if (json_object_object_get_ex (job, "id", &v)
          && strcmp (json_object_get_string (v), id) == 0
          && json_object_object_get_ex (job, "status", &v))
        st = json_object_get_string (v);
    }
    if (st && strcmp (st, status) == 0) {
      json_object_put (jobs);
      return;
    }
    CHECK (waited < 10000, "job %s is %s, want %s", id, st ? st : "gone",
           status);
    json_object_put (jobs);
    sleep_ms (20);
  }
}

struct qmp_mirror *
h_mirror_ready (struct harness *h, struct qmp *q)
{
  struct qmp_mirror *m;
  int r;

  r = qmp_mirror_start (q, "disk0", h->nbd_sock, "cdp", NULL, NULL, &m);
  CHECK_OK (r, "qmp_mirror_start");
  h_wait_state (m, QMP_MIRROR_PROTECTED, 10000);
  return m;
}

static unsigned char *
read_file (const char *path, size_t size)
{
  unsigned char *buf = malloc (size);
  FILE *fp = fopen (path, "rb");

  CHECK (buf && fp, "%s: %m", path);
  CHECK (fread (buf, 1, size, fp) == size, "%s: short read", path);
  fclose (fp);
  unlink (path);
  return buf;
}

unsigned char *
h_read_export (struct harness *h, size_t size)
{
  char uri[200], out[160];

  snprintf (uri, sizeof uri, "nbd+unix:///cdp?socket=%s", h->nbd_sock);
  snprintf (out, sizeof out, "%s/export.raw", h->dir);
  h_run ((const char *[]) { "nbdcopy", uri, out, NULL });
  return read_file (out, size);
}

unsigned char *
h_read_source (struct harness *h, struct qmp *q, size_t size)
{
  char out[160];

  /* QEMU caches qcow2 metadata: flush, then read with -U. */
  h_guest_io (q, "flush");
  snprintf (out, sizeof out, "%s/source.raw", h->dir);
  h_run ((const char *[]) { "qemu-img", "convert", "-U", "-f", "qcow2",
                            "-O", "raw", h->img, out, NULL });
  return read_file (out, size);
}
