/* cdp: checking what a task stores (verify.c); used by `cdp verify` and
 * by serve's background verification. */
#ifndef CDP_VERIFY_H
#define CDP_VERIFY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cdp/task/task.h"

struct json_object;

struct verify_source {
  const struct task *t;
  struct journal_reader *jr;
  struct cdp_index *ix;             /* NULL: the index is not checked */
  const struct base_catalog *cat;
};

struct verify_opts {
  const struct point *points;       /* check what these points read; */
  size_t npoints;                   /* NULL: everything the task holds */
  uint64_t rate;                    /* journal bytes read per second; 0: all out */
  const atomic_bool *stop;          /* may be NULL */
  const char *found_by;             /* "verify", "serve" */
  uint64_t upto_seq;                /* everything: only records up to this
                                       (0: all; a journal still written) */
  /* May be NULL: called from the calling thread as the check goes, with
   * phase "journal" (done: records read), "index" (entries read) or
   * "base" (base point images checked, of total); total -1 when not
   * known.  Each phase starts with done 0. */
  void (*progress) (void *opaque, const char *phase, uint64_t done,
                    int64_t total);
  void *progress_opaque;
};

struct verify_result {
  struct json_object *damage;       /* array of integrity entries */
  struct json_object *notes;        /* array of strings */
  uint64_t journal_segments, journal_records, journal_bytes;
  uint64_t index_extents, index_times;
  uint64_t base_points, base_bytes;
  uint64_t base_summed, base_unsummed;   /* base points with, without sums */
  uint64_t base_checked_bytes;      /* data read to check sums */
  double seconds;
};

/* Run the checks.  0 (damage or not: see res->damage), or -errno when
 * they could not run (the journal or index unreadable as a whole).
 * res is filled in either case; free it with verify_result_free. */
int verify_run (const struct verify_source *src, const struct verify_opts *o,
                struct verify_result *res);
void verify_result_free (struct verify_result *res);

/* "points of DISK from T to before T' that read base point FILE". */
void verify_base_affects (const struct task *t, const struct base_catalog *cat,
                          const struct base_point *bp, char *buf, size_t len);

#endif
