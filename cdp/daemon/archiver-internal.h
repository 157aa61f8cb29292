/* cdp/daemon: what the files of serve's archiver share (archiver.c,
 * archiver-due.c).  Not part of the contract (daemon.h). */
#ifndef CDP_DAEMON_ARCHIVER_INTERNAL_H
#define CDP_DAEMON_ARCHIVER_INTERNAL_H

#include <stdint.h>

#include "cdp/task/task.h"
#include "common/vector.h"

DEFINE_VECTOR_TYPE (time_vector, int64_t)

struct due_point {
  int64_t time_ns;
  const char *kind;                 /* "base", "lock", "bookmark" */
  char label[256];
};
DEFINE_VECTOR_TYPE (due_vector, struct due_point)

/* ---- archiver-due.c ------------------------------------------------------ */

struct receiver;
/* v: a view of t on the receiver's index, the journal reader jr (the
 * archiver thread's own, refreshed) and a fresh copy of the catalog.
 * 0, or catalog_load's error.  archiver_view_end lets go of what it
 * opened (not the index, the reader or t). */
int archiver_view_begin (struct task *t, struct receiver *rx,
                         struct journal_reader *jr, struct task_view *v);
void archiver_view_end (struct task_view *v);
/* The points of v's task due (oldest first): the newest base point of
 * every disk when the newest of archived (this store's points of the
 * task) is of an earlier UTC day; each lock and bookmark not in
 * archived that every disk can read.  pinned: the times of every lock
 * and bookmark (sorted).  0, or -errno with the thread's error set. */
int archiver_due (struct task_view *v, const time_vector *archived,
                  due_vector *due, time_vector *pinned);

#endif
