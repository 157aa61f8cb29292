/* --progress lines (JSON Lines on stdout or a line for people on
 * stderr) and cancelling by SIGINT/SIGTERM/SIGHUP through a signalfd;
 * the contract is progress.h. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli-internal.h"
#include "cdp/cli/progress.h"
#include "common/timeutil.h"

/* ---- progress -------------------------------------------------------------- */

static bool stream;
static atomic_bool cancel_seen;     /* a signal, or the stream's reader gone */

void
cli_progress_init (struct cli_progress *pr, const char *cmd, bool on,
                   bool json)
{
  *pr = (struct cli_progress) { .cmd = cmd, .on = on, .json = json,
                                .tty = isatty (2), .total = -1 };
  stream |= on && json;
  if (on && json)                   /* a reader gone is a write error: cancel */
    signal (SIGPIPE, SIG_IGN);
}

bool
cli_progress_stream (void)
{
  return stream;
}

static void
json_line (const struct cli_progress *pr, uint64_t done)
{
  char total[24] = "null";

  if (pr->total >= 0)
    snprintf (total, sizeof total, "%" PRId64, pr->total);
  printf ("{\"version\":%d,\"event\":\"progress\",\"phase\":\"%s\","
          "\"done\":%" PRIu64 ",\"total\":%s,\"unit\":\"%s\"}\n",
          CDP_JSON_VERSION, pr->phase, done, total, pr->unit);
  /* Nobody reads the stream any more (or it cannot be written): the
   * result would be lost, so the command stops as at SIGTERM, removing
   * what it made, rather than finish unseen or die of SIGPIPE with a
   * partial output left behind. */
  if (fflush (stdout) != 0 || ferror (stdout))
    atomic_store (&cancel_seen, true);
}

/* "1.0 GiB of 2.0 GiB  55.0 MiB/s  ETA 0:12" and the like. */
static void
people_line (const struct cli_progress *pr, uint64_t done, bool end)
{
  double secs = (double) (time_mono_ns () - pr->t_start) / 1e9;
  double rate = secs > 0 ? (double) done / secs : 0;
  char pct[8] = "", d[32], t[32] = "";

  if (pr->total > 0)
    snprintf (pct, sizeof pct, "%3.0f%%  ", 100.0 * (double) done / (double) pr->total);
  else if (pr->total == 0)
    snprintf (pct, sizeof pct, "100%%  ");
  if (strcmp (pr->unit, "bytes") == 0) {
    format_size (done, d, sizeof d);
    if (pr->total >= 0)
      format_size ((uint64_t) pr->total, t, sizeof t);
  }
  else if (pr->total >= 0) {
    snprintf (d, sizeof d, "%" PRIu64, done);
    snprintf (t, sizeof t, "%" PRId64 " %s", pr->total, pr->unit);
  }
  else
    snprintf (d, sizeof d, "%" PRIu64 " %s", done, pr->unit);
  fprintf (stderr, "%scdp %s: %s %s%s%s%s", pr->tty ? "\r" : "", pr->cmd,
           pr->phase, pct, d, *t ? " of " : "", *t ? t : "");
  if (strcmp (pr->unit, "bytes") == 0 && rate > 0) {
    fprintf (stderr, "  %.1f MiB/s", rate / 1048576);
    if (!end && pr->total > 0 && (uint64_t) pr->total > done) {
      long eta = (long) ((double) ((uint64_t) pr->total - done) / rate + 0.5);
      fprintf (stderr, "  ETA %ld:%02ld", eta / 60, eta % 60);
    }
  }
  fputs (pr->tty ? (end ? "\033[K\n" : "\033[K") : "\n", stderr);
}

static void
line (struct cli_progress *pr, uint64_t done, bool end)
{
  pr->t_last = time_mono_ns ();
  if (pr->json)
    json_line (pr, done);
  else
    people_line (pr, done, end);
}

void
cli_progress_start (struct cli_progress *pr, const char *phase,
                    const char *unit, int64_t total)
{
  if (!pr->on)
    return;
  if (pr->phase)
    cli_progress_end (pr, pr->done);
  pr->phase = phase;
  pr->unit = unit;
  pr->total = total;
  pr->done = 0;
  pr->t_start = time_mono_ns ();
  line (pr, 0, false);
}

void
cli_progress_update (struct cli_progress *pr, uint64_t done)
{
  if (!pr->on || pr->phase == NULL)
    return;
  pr->done = done;
  if (time_mono_ns () - pr->t_last < CLI_PROGRESS_INTERVAL_NS)
    return;
  line (pr, done, false);
}

void
cli_progress_end (struct cli_progress *pr, uint64_t done)
{
  if (!pr->on || pr->phase == NULL)
    return;
  pr->done = done;
  line (pr, done, true);
  pr->phase = NULL;
}

/* ---- cancelling ------------------------------------------------------------ */

static int cancel_fd = -1;

int
cli_cancel_init (void)
{
  sigset_t set;

  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGHUP);
  pthread_sigmask (SIG_BLOCK, &set, NULL);
  if (cancel_fd < 0)
    cancel_fd = signalfd (-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (cancel_fd < 0)
    return fail ("cannot watch for SIGINT and SIGTERM: %s", strerror (errno));
  return 0;
}

bool
cli_cancelled (void)
{
  struct signalfd_siginfo si;

  if (atomic_load (&cancel_seen))
    return true;
  if (cancel_fd >= 0 && read (cancel_fd, &si, sizeof si) == sizeof si)
    atomic_store (&cancel_seen, true);
  return atomic_load (&cancel_seen);
}

bool
cli_cancel_wait (int64_t ns)
{
  struct pollfd pfd = { .fd = cancel_fd, .events = POLLIN };
  int64_t deadline = time_mono_ns () + ns, left;

  while (!cli_cancelled () &&
         (left = deadline - time_mono_ns ()) > 0)
    if (poll (&pfd, 1, (int) ((left + 999999) / 1000000)) < 0 && errno != EINTR)
      break;
  return cli_cancelled ();
}

int
cli_cancel_fd (void)
{
  return cancel_fd;
}
