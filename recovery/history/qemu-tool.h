/* cdp recovery: running QEMU's command-line tools (qemu-img, qemu-nbd)
 * as children of cdp.
 *
 * A tool runs with stdin and stdout on /dev/null and stderr kept in a
 * memory file, so that its words end up in cdp's one-line errors
 * instead of on cdp's terminal; in a process group of its own (a
 * terminal's ^C reaches cdp, which stops the tool in order); with
 * PR_SET_PDEATHSIG = SIGKILL, so that it dies with the thread that
 * started it; with signals unblocked and every other descriptor
 * closed.  Optionally a listening socket becomes its fd 3 with
 * LISTEN_PID/LISTEN_FDS=1 (systemd socket activation, which qemu-nbd
 * and qemu-storage-daemon accept): the caller can connect before the
 * tool is ready, without a race and without polling for a socket file.
 *
 * Functions return 0 or -errno, never print and never touch errno.  A
 * struct qemu_tool belongs to one thread at a time; the process must
 * not reap children it did not start (waitpid (-1, ...)).
 */
#ifndef CDP_QEMU_TOOL_H
#define CDP_QEMU_TOOL_H

#include <stddef.h>
#include <sys/types.h>

struct qemu_tool {
  pid_t pid;                /* 0 once reaped */
  int errfd;                /* memfd holding its stderr; -1 when closed */
};

/* Start argv[0] (searched in PATH) with argv.  listen_fd: -1, or a
 * listening socket passed by socket activation.  Errors: the errno of
 * exec (-ENOENT: the tool is not installed), of fork, pipe, memfd. */
int qemu_tool_start (const char *const *argv, int listen_fd,
                     struct qemu_tool *t);

/* Wait up to timeout_ms (-1: for ever, 0: only look) for it to end;
 * *status as waitpid gives it.  -ETIMEDOUT if it still runs. */
int qemu_tool_wait (struct qemu_tool *t, int timeout_ms, int *status);

/* SIGKILL it if it runs, reap it, close its stderr.  Never fails. */
void qemu_tool_kill (struct qemu_tool *t);

/* Why it ended, in words: "killed by signal 9", or what it wrote on
 * stderr (lines without their "qemu-xxx: " prefix, joined by "; "), or
 * "no message".  Returns buf or a constant. */
const char *qemu_tool_why (const struct qemu_tool *t, int status, char *buf,
                           size_t size);

/* Run argv to its end.  0 if it exited with status 0; else -EIO with
 * qemu_tool_why in buf, or the error of qemu_tool_start. */
int qemu_tool_run (const char *const *argv, char *buf, size_t size);

#endif
