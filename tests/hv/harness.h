/* What the hypervisor driver tests share: a scratch store, task
 * create's mode steps run as `cdp task create` runs them, and what a
 * call said on stderr. */
#ifndef CDP_TESTS_HV_HARNESS_H
#define CDP_TESTS_HV_HARNESS_H

#include "cdp/hv/hv.h"

/* A new empty store under /tmp (malloc'd); h_store_remove removes it. */
char *h_store (void);
void h_store_remove (char *store);

/* Run task create's mode steps on the options in args (NULL-ended, no
 * command or NAME): its shared options --listen and the TLS ones, every
 * driver's options (hv_create_opt), hv_create_check, hv_create_disks.
 * Returns what they return (EXIT_OK, EXIT_USAGE, EXIT_FAIL); *tp is the
 * task (h_task_free), named "x" in store. */
int h_create (const char *store, const char *const *args, struct task **tp);
void h_task_free (struct task *t);

/* A task of mode saved in store as name (one disk, disk0, 1 MiB). */
/* mode: the driver's name. */
void h_save_task (const char *store, const char *name, const char *mode);

/* A scripted QEMU monitor on a unix socket (path), one connection after
 * another until h_qmp_peer_stop: it greets, says the block nodes are
 * `nodes` (a JSON list) to query-named-block-nodes, an empty list to
 * every other query, and an empty success to every other command. */
#include <pthread.h>
struct h_qmp_peer {
  char path[108];
  int listen_fd;
  const char *nodes;
  pthread_t thread;
};
void h_qmp_peer_start (struct h_qmp_peer *p, const char *dir, const char *nodes);
void h_qmp_peer_stop (struct h_qmp_peer *p);

/* Catch what is written to stderr from h_stderr_begin on; h_stderr_end
 * returns it (malloc'd). */
void h_stderr_begin (void);
char *h_stderr_end (void);

#endif
