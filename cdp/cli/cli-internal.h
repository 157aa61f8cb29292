/* cdp/cli: what the commands' files share, grouped by defining file.
 * Not part of the contract (cli.h). */
#ifndef CDP_CLI_INTERNAL_H
#define CDP_CLI_INTERNAL_H

#include "cdp/task/task.h"
#include "recovery/files/files.h"

/* ---- files-session.c: cdp ls, cat and get ------------------------------- */

enum files_cmd { CMD_LS, CMD_CAT, CMD_GET };

struct files_opts {
  enum files_cmd cmd;
  const char *name, *at, *disk, *path, *output;
  bool json;
};

/* The point, its reader and how to name it in messages. */
struct fsession {
  struct task_view v;
  bool view_open;
  struct point p;
  struct files *f;
  struct nbd_server *srv;           /* the export libguestfs reads */
  char sockdir[64];
  struct files_gfs *gfs;
  char what[256];                   /* "TASK/DISK at TIME" */
  char tbuf[64];
  char damage[512];                 /* damaged history a read found */
};

/* What one command does with the open session: its exit code. */
typedef int fsession_fn (struct fsession *s, const struct files_opts *o);
/* Parse the arguments of cmd, start the sandboxed reader, open the
 * point, run, and close it all: the exit code. */
int fsession_run (enum files_cmd cmd, const char *store, int argc, char **argv,
                  fsession_fn *run);
/* Say that verb (list, read, get) of path failed with r, naming the
 * damage a read found if there was some.  Returns EXIT_FAIL. */
int fsession_failed (struct fsession *s, const char *verb, const char *path,
                     int r);
/* The file systems the sandboxed reader does not know (-ENOTSUP from
 * it) go to libguestfs over an NBD export of the point.  ensure starts
 * that (0, or the exit code: said why); failed is fsession_failed for
 * its errors; list and read are files_list and files_read through it
 * (-ENOTSUP: failed, said why). */
int fsession_gfs_ensure (struct fsession *s, const char *verb, const char *path);
int fsession_gfs_failed (struct fsession *s, const char *verb, const char *path,
                         int r);
int fsession_gfs_list (struct fsession *s, const char *path,
                       files_entry_vector *v);
int fsession_gfs_read (struct fsession *s, const char *path,
                       const struct files_sink *sink, void *o);

#endif
