/* cdp cat: a file of a point, or a byte range of it, to standard output. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/cli/cli-internal.h"
#include "common/fileio.h"
#include "recovery/files/files.h"

/* ---- cat ------------------------------------------------------------------------ */

static int
to_stdout (void *o, const void *buf, size_t len)
{
  int r = fio_write_all (1, buf, len);

  if (r < 0)
    *(int *) o = r;
  return r;
}

static int
do_cat (struct fsession *s, const struct files_opts *o)
{
  struct files_sink sink = { .data = to_stdout };
  int werr = 0, r;

  r = files_read_range (s->f, o->path, o->offset, o->length, &sink, &werr, NULL);
  if (r == -ENOTSUP)
    r = fsession_gfs_read (s, o->path, o->offset, o->length, &sink, &werr);
  if (werr)
    return fail ("cannot write to standard output: %s", strerror (-werr));
  if (r == -EISDIR)
    return fail ("%s is a directory in %s; 'cdp ls' lists it", o->path, s->what);
  return r == 0 ? EXIT_OK : r == -ENOTSUP ? EXIT_FAIL : fsession_failed (s, "read", o->path, r);
}

int
cmd_cat (const char *store, int argc, char **argv)
{
  return fsession_run (CMD_CAT, store, argc, argv, do_cat);
}
