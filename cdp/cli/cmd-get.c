/* cdp get: a file or directory tree of a point, written below --output. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/cli/cli-internal.h"
#include "common/timeutil.h"
#include "recovery/files/files.h"

/* ---- get ------------------------------------------------------------------------ */

static int
do_get (struct fsession *s, const struct files_opts *o)
{
  struct files_writer *w;
  char size[32];
  unsigned files, skipped;
  uint64_t bytes;
  bool via_gfs = false;
  int r = files_writer_new (o->output, o->path, &w);

  if (r < 0) {
    r = *files_writer_error (w) ? fail ("%s", files_writer_error (w))
                                : fail ("cannot use %s: %s", o->output, strerror (-r));
    files_writer_free (w);
    return r;
  }
  r = files_walk (s->f, o->path, &files_writer_ops, w);
  if (r == -ENOTSUP && !*files_writer_error (w)) {
    via_gfs = true;
    if ((r = fsession_gfs_ensure (s, "get", o->path)) != 0)
      r = -EINTR;                   /* said why */
    else
      r = files_gfs_walk (s->gfs, files_unsupported (s->f)->rest, &files_writer_ops, w);
  }
  files_writer_counts (w, &files, &bytes, &skipped);
  if (r == 0) {
    format_size (bytes, size, sizeof size);
    fprintf (stderr, "cdp: wrote %s (%u file%s, %s%s) from %s\n", o->output, files,
             files == 1 ? "" : "s", size,
             skipped ? "; device nodes and sockets skipped" : "", s->what);
  }
  else if (*files_writer_error (w))
    r = fail ("cannot get %s from %s: %s", o->path, s->what, files_writer_error (w));
  else if (r == -EINTR)
    r = EXIT_FAIL;
  else
    r = via_gfs ? fsession_gfs_failed (s, "get", o->path, r) : fsession_failed (s, "get", o->path, r);
  files_writer_free (w);
  return r;
}

int
cmd_get (const char *store, int argc, char **argv)
{
  return fsession_run (CMD_GET, store, argc, argv, do_get);
}
