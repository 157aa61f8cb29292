/* cdp serve: resuming a rapid recovery that stopped before its data was
 * home (cdp recover killed, the host restarted).
 *
 * The VM still needs the export for every block not yet copied, so an
 * interrupted recovery is not left to wait for an operator for long:
 * after a grace period (60 s, or $CDP_RECOVER_RESUME_AFTER seconds: time
 * for an operator to act, say --cancel), serve
 * starts `cdp recover NAME --resume` as a child of its own (new session,
 * output to serve's log), and again with a growing delay while it keeps
 * failing.  The recovery's flock makes sure only one runs.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/daemon/daemon.h"
#include "cdp/rapid/rapid.h"
#include "common/timeutil.h"

#define SEC 1000000000LL

static int64_t
resume_grace (void)
{
  const char *s = getenv ("CDP_RECOVER_RESUME_AFTER");
  char *end;
  long v = s ? strtol (s, &end, 10) : -1;

  return v >= 0 && s && *s && *end == 0 ? v * SEC : 60 * SEC;
}
#define RESUME_GRACE (resume_grace ())
#define MAX_BACKOFF (600 * SEC)

static pid_t
spawn_resume (const char *store, const char *task)
{
  pid_t pid = fork ();

  if (pid == 0) {
    sigset_t none;
    sigemptyset (&none);
    pthread_sigmask (SIG_SETMASK, &none, NULL);
    setsid ();
    execl ("/proc/self/exe", "cdp", "--store", store, "recover", task,
           "--resume", (char *) NULL);
    _exit (127);
  }
  return pid;
}

void
recover_watch (const char *store, const struct task *t, struct recover_watch *w)
{
  struct rapid_state r;
  int64_t now = time_now_ns ();
  int status;

  if (w->pid > 0 && waitpid (w->pid, &status, WNOHANG) == w->pid) {
    bool ok = WIFEXITED (status) && WEXITSTATUS (status) == 0;
    log_msg ("task %s: the resumed recovery %s", t->name,
             ok ? "is done" : "stopped; cdp serve tries again later");
    w->pid = 0;
    w->backoff_ns = ok ? 0 : (w->backoff_ns ? w->backoff_ns * 2 : RESUME_GRACE);
    if (w->backoff_ns > MAX_BACKOFF)
      w->backoff_ns = MAX_BACKOFF;
    w->next_ns = now + w->backoff_ns;
  }
  if (w->pid > 0 || now < w->check_ns)
    return;
  w->check_ns = now + 5 * SEC;
  if (rapid_state_load (t, &r) < 0)
    return;
  if (strcmp (rapid_state_shown (t, &r), "interrupted") != 0) {
    w->seen_ns = 0;
    rapid_state_clear (&r);
    return;
  }
  if (w->seen_ns == 0) {
    w->seen_ns = now;
    w->next_ns = now + RESUME_GRACE;
    log_msg ("task %s: the recovery of %s was interrupted; cdp serve "
             "resumes it in %lld s unless 'cdp recover %s --resume' or "
             "'--cancel' runs first", t->name, r.domain ? r.domain : "the VM",
             (long long) (RESUME_GRACE / SEC), t->name);
  }
  if (now >= w->next_ns) {
    w->pid = spawn_resume (store, t->name);
    if (w->pid > 0)
      log_msg ("task %s: resuming the interrupted recovery (pid %d)", t->name,
               (int) w->pid);
    else
      w->next_ns = now + RESUME_GRACE;
  }
  rapid_state_clear (&r);
}
