/* cdp recovery: running QEMU's tools as children (see qemu-tool.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "recovery/history/qemu-tool.h"

#define HIGH_FD 10                  /* fds handed to a child start here */

extern char **environ;

/* fd moved to HIGH_FD or above, close-on-exec; the old fd is closed. */
static int
high_fd (int fd)
{
  int h;

  if (fd < 0)
    return -1;
  h = fcntl (fd, F_DUPFD_CLOEXEC, HIGH_FD);
  close (fd);
  return h;
}

/* Decimal n into buf, async-signal-safe. */
static void
put_uint (char *buf, unsigned long n)
{
  char tmp[24];
  int i = 0;

  do
    tmp[i++] = (char) ('0' + n % 10);
  while ((n /= 10) > 0);
  while (i > 0)
    *buf++ = tmp[--i];
  *buf = '\0';
}

struct spawn {
  const char *const *argv;
  char **envp;
  char *listen_pid;     /* "LISTEN_PID=" + room for digits, or NULL */
  int null_fd, err_fd, listen_fd, status_fd;   /* all >= HIGH_FD */
  pid_t parent;
};

/* Between fork and exec: async-signal-safe calls only.  If exec fails,
 * its errno goes down the status pipe. */
static void __attribute__ ((noreturn))
child (const struct spawn *s)
{
  sigset_t none;
  int e, first = s->listen_fd >= 0 ? 4 : 3;

  if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid () != s->parent)
    _exit (127);
  setpgid (0, 0);
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  if (dup2 (s->null_fd, 0) < 0 || dup2 (s->null_fd, 1) < 0 ||
      dup2 (s->err_fd, 2) < 0 ||
      (s->listen_fd >= 0 && dup2 (s->listen_fd, 3) < 0))
    goto fail;
  if (close_range (first, s->status_fd - 1, 0) < 0 ||
      close_range (s->status_fd + 1, ~0u, 0) < 0)
    for (int fd = first; fd < 1024; fd++)
      if (fd != s->status_fd)
        close (fd);
  if (s->listen_pid)
    put_uint (s->listen_pid + strlen ("LISTEN_PID="), (unsigned long) getpid ());
  execvpe (s->argv[0], (char *const *) s->argv, s->envp);
 fail:
  e = errno;
  if (write (s->status_fd, &e, sizeof e) < 0)
    _exit (127);
  _exit (127);
}

/* environ without LISTEN_*, plus LISTEN_FDS=1 and s->listen_pid. */
static int
activation_env (struct spawn *s, char *listen_fds)
{
  size_t n = 0;

  while (environ[n])
    n++;
  s->envp = calloc (n + 3, sizeof *s->envp);
  if (s->envp == NULL)
    return -ENOMEM;
  n = 0;
  for (char **v = environ; *v; v++)
    if (strncmp (*v, "LISTEN_", 7) != 0)
      s->envp[n++] = *v;
  s->envp[n++] = listen_fds;
  s->envp[n++] = s->listen_pid;
  return 0;
}

/* Fork and exec; 0 once exec succeeded, else its -errno. */
static int
fork_exec (const struct spawn *s, int status_rd, pid_t *pid)
{
  ssize_t n;
  int e;

  *pid = fork ();
  if (*pid == 0)
    child (s);
  e = errno;
  close (s->status_fd);
  if (*pid < 0)
    return -e;
  /* The pipe closes at exec; a child that could not exec says why. */
  while ((n = read (status_rd, &e, sizeof e)) < 0 && errno == EINTR)
    ;
  if (n != sizeof e)
    return 0;
  waitpid (*pid, NULL, 0);
  return -e;
}

int
qemu_tool_start (const char *const *argv, int listen_fd, struct qemu_tool *t)
{
  char listen_pid[40] = "LISTEN_PID=", listen_fds[] = "LISTEN_FDS=1";
  struct spawn s = { .argv = argv, .envp = environ, .listen_fd = -1,
                     .status_fd = -1, .parent = getpid () };
  int pipefd[2] = { -1, -1 }, r = 0;

  *t = (struct qemu_tool) { .pid = 0, .errfd = -1 };
  if (listen_fd >= 0) {
    s.listen_pid = listen_pid;
    s.listen_fd = fcntl (listen_fd, F_DUPFD_CLOEXEC, HIGH_FD);
    r = s.listen_fd < 0 ? -errno : activation_env (&s, listen_fds);
  }
  s.null_fd = high_fd (open ("/dev/null", O_RDWR | O_CLOEXEC));
  s.err_fd = high_fd (memfd_create ("cdp-tool-stderr", MFD_CLOEXEC));
  if (pipe2 (pipefd, O_CLOEXEC) == 0)
    s.status_fd = high_fd (pipefd[1]);
  if (r == 0 && (s.null_fd < 0 || s.err_fd < 0 || pipefd[0] < 0 || s.status_fd < 0))
    r = errno ? -errno : -EMFILE;
  if (r == 0)
    r = fork_exec (&s, pipefd[0], &t->pid);
  else if (s.status_fd >= 0)
    close (s.status_fd);
  if (r == 0)
    t->errfd = s.err_fd;
  else {
    t->pid = 0;
    if (s.err_fd >= 0)
      close (s.err_fd);
  }
  if (s.null_fd >= 0)
    close (s.null_fd);
  if (s.listen_fd >= 0)
    close (s.listen_fd);
  if (pipefd[0] >= 0)
    close (pipefd[0]);
  if (s.envp != environ)
    free (s.envp);
  return r;
}

int
qemu_tool_wait (struct qemu_tool *t, int timeout_ms, int *status)
{
  const struct timespec tick = { 0, 10 * 1000 * 1000 };
  int st;

  if (status == NULL)
    status = &st;
  for (int waited = 0; t->pid > 0; waited += 10) {
    pid_t r = waitpid (t->pid, status, timeout_ms < 0 ? 0 : WNOHANG);
    if (r == t->pid)
      t->pid = 0;
    else if (r < 0 && errno != EINTR)
      return -errno;
    else if (r == 0 && waited >= timeout_ms)
      return -ETIMEDOUT;
    else if (r == 0)
      nanosleep (&tick, NULL);
  }
  return 0;
}

void
qemu_tool_kill (struct qemu_tool *t)
{
  if (t->pid > 0) {
    kill (t->pid, SIGKILL);
    qemu_tool_wait (t, -1, NULL);
  }
  if (t->errfd >= 0)
    close (t->errfd);
  t->errfd = -1;
}

/* What the tool wrote on stderr: the last KiB of it, line by line. */
static const char *
stderr_lines (int errfd, char *buf, size_t size)
{
  char raw[1024], *line, *save = NULL;
  size_t used = 0;
  struct stat st;
  off_t from;
  ssize_t n;

  buf[0] = '\0';
  if (errfd < 0 || fstat (errfd, &st) < 0)
    return "no message";
  from = st.st_size > (off_t) sizeof raw - 1 ? st.st_size - (off_t) sizeof raw + 1 : 0;
  n = pread (errfd, raw, sizeof raw - 1, from);
  raw[n > 0 ? n : 0] = '\0';
  for (line = strtok_r (raw, "\n", &save); line && used < size;
       line = strtok_r (NULL, "\n", &save)) {
    if (strncmp (line, "qemu-", 5) == 0 && strstr (line, ": "))
      line = strstr (line, ": ") + 2;
    used += (size_t) snprintf (buf + used, size - used, "%s%s",
                               used ? "; " : "", line);
  }
  return buf[0] ? buf : "no message";
}

const char *
qemu_tool_why (const struct qemu_tool *t, int status, char *buf, size_t size)
{
  if (WIFSIGNALED (status)) {
    snprintf (buf, size, "killed by signal %d", WTERMSIG (status));
    return buf;
  }
  return stderr_lines (t->errfd, buf, size);
}

int
qemu_tool_run (const char *const *argv, char *buf, size_t size)
{
  struct qemu_tool t;
  int status = 0, r = qemu_tool_start (argv, -1, &t);

  if (r == 0)
    r = qemu_tool_wait (&t, -1, &status);
  if (r == 0 && !(WIFEXITED (status) && WEXITSTATUS (status) == 0)) {
    qemu_tool_why (&t, status, buf, size);
    r = -EIO;
  }
  qemu_tool_kill (&t);
  return r;
}
