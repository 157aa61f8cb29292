/* cdp recover: what the command (cmd-recover.c: the point, the export,
 * the overlays, the domain) and the streaming (recover-stream.c: the
 * pulls, their progress, the end) share.  One thread: the command's. */
#ifndef CDP_RECOVER_H
#define CDP_RECOVER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "cdp/cdp.h"

struct lv;
struct pexp;
struct nbd_server;

struct rec {
  const char *store;
  struct task *t;                   /* the task (owned) */
  struct recovery r;                /* what recover.json says */
  unsigned long bandwidth;          /* MiB/s, 0: no limit */
  struct pexp *px;
  struct nbd_server *srv;
  struct lv *l;                     /* libvirt: the domain on the overlays */
  sigset_t sigs;
  bool tty;
  int64_t t0;                       /* when the command started */
  bool resuming;                    /* --resume */
  char *made_dir;                   /* PATH, when this recovery creates it */
};

double rec_secs (int64_t ns);
/* Write recover.json; prints the error. */
int rec_save (struct rec *c);
/* Let go of the point's lock, if this recovery made it. */
void rec_unlock_point (struct rec *c);
/* The export's URI for disk (malloc'd). */
char *rec_uri (const struct rec *c, const char *disk);
void rec_stop_export (struct rec *c);

/* recover-stream.c.  How to boot and stream the point without libvirt,
 * on stdout. */
void rec_print_qmp_howto (struct rec *c);
/* Stream until every overlay stands alone (libvirt: drive the pulls;
 * else wait for someone's block-stream), then stop the export, unlock,
 * record the recovery done.  EXIT_OK or EXIT_FAIL (said why). */
int rec_finish (struct rec *c);

#endif
