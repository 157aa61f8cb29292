/* cdp: the points of a task at one time T, one per disk, served
 * read-only over NBD (exports named after the disks).  See pointexp.c. */
#ifndef CDP_POINTEXP_H
#define CDP_POINTEXP_H

#include <stdbool.h>
#include <stdint.h>

#include "common/vector.h"
#include "nbd-export/nbd-server.h"
#include "recovery/history/point.h"

struct pexp;

/* Open the task (or take over the open view v, which is then emptied)
 * and the points of disks at t (at most 4 disks); prints the error and
 * returns -1 when it cannot. */
struct task_view;
int pexp_open (const char *store, const char *task, int64_t t,
               const string_vector *disks, struct task_view *v,
               struct pexp **ep);
/* After the server that used it is freed. */
void pexp_close (struct pexp *e);
/* The size of disk i (in the order given). */
uint64_t pexp_size (const struct pexp *e, size_t i);
/* Is disk i read from the task's archive (no local point at t)? */
bool pexp_archived (const struct pexp *e, size_t i);

/* Read [offset, offset+count) of disk i into buf (with its holes appended
 * to holes if not NULL), or with buf NULL only its holes (no data read;
 * holes required).  Opens the points again when a fold took the journal
 * from under them.  Errors as point_pread. */
int pexp_read (struct pexp *e, size_t i, void *buf, uint32_t count,
               uint64_t offset, point_extent_vector *holes);

/* The backend: server_opaque is the struct pexp. */
extern const struct nbd_backend_ops pexp_ops;

#endif
