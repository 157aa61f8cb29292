/* cdp/cli: --progress streams and cancelling by SIGINT/SIGTERM, the
 * rules of docs/JSON.md ("Progress streams") in one place for every
 * command that runs long (restore, recover, get, verify, fold).
 *
 * A command that takes --progress adds { "progress", no_argument, .. }
 * to its options, calls cli_progress_init with what it was given, and
 * brackets each step of its work with cli_progress_start and
 * cli_progress_end, calling cli_progress_update as it goes.  With
 * --json the lines are JSON Lines on stdout:
 *
 *   {"version":1,"event":"progress","phase":"copy","done":0,"total":8388608,"unit":"bytes"}
 *
 * each flushed when written; without --json a line for people on
 * stderr ("cdp restore: copy  42%  1.0 GiB of 2.0 GiB  55.0 MiB/s  ETA
 * 0:12"), redrawn in place on a terminal.  Lines are written at the
 * start and the end of a phase and otherwise at most every
 * CLI_PROGRESS_INTERVAL_NS.  The command's result document comes after
 * the last line (cli_print_json, which then prints it on one line), on
 * success only.
 *
 * The functions of one struct cli_progress are called from one thread
 * (the command's main thread, which reads counters the workers keep).
 *
 * A command that can be cancelled calls cli_cancel_init first, before
 * it starts threads, and polls cli_cancelled in its long loops (or
 * waits in cli_cancel_wait).  Once it is true the command stops,
 * removes what it made that is not complete, and fails with a line
 * that says "cancelled" (exit 1).  Nothing else handles the signals:
 * they are blocked in every thread the command starts afterwards. */
#ifndef CDP_CLI_PROGRESS_H
#define CDP_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

/* At most four lines a second between a phase's start and end. */
#define CLI_PROGRESS_INTERVAL_NS 250000000

struct cli_progress {
  const char *cmd;                  /* "restore": names the lines for people */
  bool on;                          /* --progress given */
  bool json;                        /* JSON Lines on stdout, else stderr */
  bool tty;                         /* stderr is a terminal: redraw in place */
  const char *phase, *unit;         /* the current phase; NULL: none */
  int64_t total;                    /* of the phase; -1: not known */
  uint64_t done;                    /* of the phase, as last told */
  int64_t t_start, t_last;          /* time_mono_ns of its start, last line */
};

/* Set pr up for command cmd (a string that outlives pr): on, whether
 * --progress was given; json, whether --json was.  When on is false
 * every cli_progress_* call on pr does nothing. */
void cli_progress_init (struct cli_progress *pr, const char *cmd, bool on,
                        bool json);

/* Is stdout a stream of JSON Lines (cli_progress_init with on and
 * json)?  Then cli_print_json prints the result document on one line. */
bool cli_progress_stream (void);

/* Start phase, a word that names the step (docs/JSON.md lists each
 * command's), counted in unit ("bytes", "files", "records" or "steps";
 * both strings are constants, never escaped) with total units to do,
 * or -1 when that is not known in advance: writes its first line (done
 * 0).  A phase still open is ended first, at its last done. */
void cli_progress_start (struct cli_progress *pr, const char *phase,
                         const char *unit, int64_t total);

/* done units of the phase are done: a line if the last one is
 * CLI_PROGRESS_INTERVAL_NS old. */
void cli_progress_update (struct cli_progress *pr, uint64_t done);

/* The phase ended with done units done: its last line, always.  No
 * phase open: nothing. */
void cli_progress_end (struct cli_progress *pr, uint64_t done);

/* Block SIGINT, SIGTERM and SIGHUP in the calling thread (threads it
 * starts afterwards inherit that) and receive them through a signalfd,
 * so that a command stops where it chooses.  Call once, at the start
 * of the command.  0, or EXIT_FAIL with the one line said. */
int cli_cancel_init (void);

/* Has one of those signals come since cli_cancel_init, or could a JSON
 * progress line not be written (its reader gone: SIGPIPE is ignored
 * once cli_progress_init has a JSON stream)?  Never waits; once true,
 * true until the process ends.  Any thread. */
bool cli_cancelled (void);

/* Wait up to ns nanoseconds for a cancel: cli_cancelled at the end.
 * For a thread that waits anyway (a progress tick). */
bool cli_cancel_wait (int64_t ns);

/* The signalfd, readable while a signal is pending, for a loop that
 * polls other descriptors too: after poll, ask cli_cancelled (which
 * reads the fd).  -1 before cli_cancel_init. */
int cli_cancel_fd (void);

#endif
