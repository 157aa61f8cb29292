/* Test harness for the QMP tests: real QEMU, real NBD servers.
 *
 * Every process started here dies with the test (PR_SET_PDEATHSIG), and
 * an atexit handler kills what is left and removes the scratch directory.
 * A program that cannot be started (qemu-system-x86_64 missing) fails
 * the test: nothing is skipped.
 */
#ifndef CDP_TESTS_QMP_HARNESS_H
#define CDP_TESTS_QMP_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "cdp/hv/qmp/qmp.h"

#define DISK_SIZE (64 << 20)
#define DISK_SIZE_STR "64M"
#define GUEST_DEVICE "vd0/virtio-backend"

struct harness {
  char dir[64];
  char img[128];            /* qcow2 behind node disk0 */
  char qmp_sock[128];
  char nbd_sock[128];       /* the mirror target */
  char nbd_log[128];        /* nbdkit's log filter output */
  pid_t qemu;
  pid_t nbd;
};

#define CHECK(cond, ...)                                                \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf (stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
      fprintf (stderr, __VA_ARGS__);                                    \
      fprintf (stderr, "\n");                                           \
      exit (1);                                                         \
    }                                                                   \
  } while (0)

/* r must be >= 0; else fail with what cdp_get_error says. */
#define CHECK_OK(r, what)                                               \
  CHECK ((r) >= 0, "%s: %s (%s)", what, strerror (-(r)), cdp_get_error ())

/* Make the scratch directory and a qcow2 image of DISK_SIZE. */
void h_init (struct harness *h);

/* Start QEMU (-S, node disk0 under device vd0) and connect to its QMP. */
struct qmp *h_start_qemu (struct harness *h);

/* Start `nbdkit memory SIZE` with the log filter on h->nbd_sock. */
void h_start_nbdkit (struct harness *h, const char *size);

/* Kill *pid with SIGKILL, reap it, set *pid to 0. */
void h_kill (pid_t *pid);

/* Run a program to completion; fail the test unless it exits 0. */
void h_run (const char *const argv[]);

/* qemu-io through the guest device; fail unless it reports the I/O. */
void h_guest_io (struct qmp *q, const char *qemu_io_command);

/* Poll m until it is in state want; fail after timeout_ms. */
void h_wait_state (struct qmp_mirror *m, enum qmp_mirror_state want,
                   int timeout_ms);

/* Poll query-jobs until job id has that status; fail after 10 s. */
void h_wait_job_status (struct qmp *q, const char *id, const char *status);

/* Start the mirror of disk0 to h->nbd_sock and wait until PROTECTED. */
struct qmp_mirror *h_mirror_ready (struct harness *h, struct qmp *q);

/* Read size bytes of a whole NBD export (nbdcopy) or of the source
 * image as QEMU sees it (flush through the device, qemu-img convert
 * -U); malloc'd. */
unsigned char *h_read_export (struct harness *h, size_t size);
unsigned char *h_read_source (struct harness *h, struct qmp *q, size_t size);

#endif
