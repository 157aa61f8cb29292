/* cdp get: a file or directory tree of a point, written below --output,
 * or as one tar archive (--tar) to a new file or standard output. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/cli/cli-internal.h"
#include "cdp/cli/progress.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"
#include "recovery/files/files.h"

/* ---- the walk, relayed ------------------------------------------------------------ */

#define HOLE_PIECE (16u << 20)

/* Between the reader and what writes (files_writer_ops, files_tar_ops):
 * counts what came, so that libguestfs is tried only when nothing was
 * written yet; draws the progress (the bytes of the files; their total
 * is known when PATH is one file) and stops the walk at a cancel. */
struct relay {
  const struct files_walk_ops *ops;
  void *o;
  struct cli_progress *pr;
  uint64_t entries, bytes;
};

/* Before each entry: the phase starts with the first. */
static int
next_entry (struct relay *y, const struct files_entry *e)
{
  if (y->entries++ == 0)
    cli_progress_start (y->pr, "copy", "bytes",
                        S_ISREG (e->mode) ? (int64_t) e->size : -1);
  return cli_cancelled () ? -ECANCELED : 0;
}

/* After len bytes of a file. */
static int
more_bytes (struct relay *y, uint64_t len)
{
  y->bytes += len;
  cli_progress_update (y->pr, y->bytes);
  return cli_cancelled () ? -ECANCELED : 0;
}

static int
r_enter (void *o, const struct files_entry *e)
{
  struct relay *y = o;
  int r = next_entry (y, e);

  return r < 0 ? r : y->ops->enter (y->o, e);
}

static int
r_leave (void *o, const struct files_entry *e)
{
  struct relay *y = o;

  return y->ops->leave (y->o, e);
}

static int
r_file (void *o, const struct files_entry *e)
{
  struct relay *y = o;
  int r = next_entry (y, e);

  return r < 0 ? r : y->ops->file (y->o, e);
}

static int
r_file_end (void *o, const struct files_entry *e)
{
  struct relay *y = o;

  return y->ops->file_end (y->o, e);
}

static int
r_hardlink (void *o, const struct files_entry *e)
{
  struct relay *y = o;
  int r = next_entry (y, e);

  return r < 0 ? r : y->ops->hardlink (y->o, e);
}

static int
r_symlink (void *o, const struct files_entry *e)
{
  struct relay *y = o;
  int r = next_entry (y, e);

  return r < 0 ? r : y->ops->symlink (y->o, e);
}

static int
r_special (void *o, const struct files_entry *e)
{
  struct relay *y = o;
  int r = next_entry (y, e);

  return r < 0 ? r : y->ops->special (y->o, e);
}

static int
r_data (void *o, const void *buf, size_t len)
{
  struct relay *y = o;
  int r = y->ops->sink.data (y->o, buf, len);

  return r < 0 ? r : more_bytes (y, len);
}

/* In pieces: a hole of a sparse file may be terabytes of zeros in an
 * archive, and a cancel must not wait for all of them. */
static int
r_hole (void *o, uint64_t len)
{
  struct relay *y = o;
  int r = 0;

  while (r == 0 && len > 0) {
    uint64_t n = len < HOLE_PIECE ? len : HOLE_PIECE;
    if ((r = y->ops->sink.hole (y->o, n)) == 0)
      r = more_bytes (y, n);
    len -= n;
  }
  return r;
}

static const struct files_walk_ops relay_ops = {
  .enter = r_enter, .leave = r_leave, .file = r_file, .file_end = r_file_end,
  .hardlink = r_hardlink, .symlink = r_symlink, .special = r_special,
  .sink = { .data = r_data, .hole = r_hole },
};

/* files_walk of o->path through y, or files_gfs_walk when the sandboxed
 * reader does not know the file system.  0, -errno, or -EINTR when the
 * failure was said already.  *via_gfs: libguestfs read it. */
static int
walk (struct fsession *s, const struct files_opts *o, struct relay *y, bool *via_gfs)
{
  int r = files_walk (s->f, o->path, &relay_ops, y);

  *via_gfs = false;
  if (r == -ENOTSUP && y->entries == 0) {
    *via_gfs = true;
    if (fsession_gfs_ensure (s, "get", o->path) != 0)
      return -EINTR;
    r = files_gfs_walk (s->gfs, files_unsupported (s->f)->rest, &relay_ops, y);
  }
  /* A cancel before the result is said still removes the output. */
  if (r == 0 && cli_cancelled ())
    r = -ECANCELED;
  if (r == 0)
    cli_progress_end (y->pr, y->bytes);
  return r;
}

/* After walk failed with r: the one line, EXIT_FAIL.  werr: the
 * writer's error ("" if none); made: what a cancel removed. */
static int
walk_failed (struct fsession *s, const struct files_opts *o, int r, bool via_gfs,
             const char *werr, const char *made)
{
  if (r == -ECANCELED && strcmp (o->output, "-") == 0)
    return fail ("get of %s from %s cancelled; the archive on standard output "
                 "is cut short", o->path, s->what);
  if (r == -ECANCELED)
    return fail ("get of %s from %s cancelled; %s removed", o->path, s->what, made);
  if (*werr)
    return fail ("cannot get %s from %s: %s", o->path, s->what, werr);
  if (r == -EINTR)
    return EXIT_FAIL;
  return via_gfs ? fsession_gfs_failed (s, "get", o->path, r)
                 : fsession_failed (s, "get", o->path, r);
}

/* ---- what was written --------------------------------------------------------------- */

static int
report (struct fsession *s, const struct files_opts *o, const char *output,
        const struct files_counts *c, bool via_gfs)
{
  json_object *j;
  char size[32];

  if (!o->json) {
    format_size (c->bytes, size, sizeof size);
    fprintf (stderr, "cdp: wrote %s (%u file%s, %s%s) from %s\n", output, c->files,
             c->files == 1 ? "" : "s", size,
             c->skipped ? "; device nodes and sockets skipped" : "", s->what);
    return EXIT_OK;
  }
  j = json_object_new_object ();
  jf_add (j, "path", json_object_new_string (o->path));
  jf_add (j, "point", json_object_new_string (s->tbuf));
  jf_add (j, "output", json_object_new_string (output));
  jf_add (j, "format", json_object_new_string (o->tar ? "tar" : "tree"));
  jf_add (j, "files", json_object_new_int64 (c->files));
  jf_add (j, "directories", json_object_new_int64 (c->directories));
  jf_add (j, "symlinks", json_object_new_int64 (c->symlinks));
  jf_add (j, "bytes", json_object_new_int64 ((int64_t) c->bytes));
  jf_add (j, "skipped", json_object_new_int64 (c->skipped));
  if (o->tar)
    jf_add (j, "archive_bytes", json_object_new_int64 ((int64_t) c->archive));
  else
    jf_add_null (j, "archive_bytes");
  jf_add (j, "reader", json_object_new_string (via_gfs ? "libguestfs" : "cdp"));
  return cli_print_json (j);
}

/* ---- a tree below DEST ---------------------------------------------------------------- */

static int
get_tree (struct fsession *s, const struct files_opts *o, struct cli_progress *pr)
{
  struct files_writer *w;
  struct files_counts c;
  bool via_gfs;
  int r = files_writer_new (o->output, o->path, &w);
  struct relay y = { &files_writer_ops, w, pr, 0, 0 };

  if (r < 0) {
    r = *files_writer_error (w) ? fail ("%s", files_writer_error (w))
                                : fail ("cannot use %s: %s", o->output, strerror (-r));
    files_writer_free (w);
    return r;
  }
  r = walk (s, o, &y, &via_gfs);
  files_writer_counts (w, &c);
  if (r == -ECANCELED) {
    int rr = files_writer_remove (w);
    if (rr < 0) {
      r = fail ("get of %s from %s cancelled; cannot remove %s: %s", o->path, s->what,
                files_writer_path (w), strerror (-rr));
      files_writer_free (w);
      return r;
    }
  }
  r = r == 0 ? report (s, o, files_writer_path (w), &c, via_gfs)
             : walk_failed (s, o, r, via_gfs, files_writer_error (w),
                            files_writer_path (w));
  files_writer_free (w);
  return r;
}

/* ---- one archive ------------------------------------------------------------------------ */

/* The walk as a tar stream on fd, ended: 0, else the exit code (said). */
static int
write_tar (struct fsession *s, const struct files_opts *o, int fd,
           struct cli_progress *pr, struct files_counts *c, bool *via_gfs)
{
  struct files_tar *t;
  int r = files_tar_new (fd, o->path, &t);
  struct relay y = { &files_tar_ops, t, pr, 0, 0 };

  *via_gfs = false;
  if (t == NULL)
    return fail ("cannot get %s from %s: %s", o->path, s->what, strerror (ENOMEM));
  if (r == 0 && (r = walk (s, o, &y, via_gfs)) == 0)
    r = files_tar_finish (t);
  if (r == -ENOMEM && !*files_tar_error (t))
    r = fail ("cannot get %s from %s: %s", o->path, s->what, strerror (ENOMEM));
  else if (r < 0)
    r = walk_failed (s, o, r, *via_gfs, files_tar_error (t), o->output);
  files_tar_counts (t, c);
  files_tar_free (t);
  return r;
}

static int
get_tar (struct fsession *s, const struct files_opts *o, struct cli_progress *pr)
{
  bool to_stdout = strcmp (o->output, "-") == 0, via_gfs;
  int fd = to_stdout ? 1 : open (o->output, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  struct files_counts c;
  int r;

  if (fd < 0)
    return errno == EEXIST ? fail ("%s exists; cdp get replaces nothing", o->output)
                           : fail ("cannot create %s: %s", o->output, strerror (errno));
  signal (SIGPIPE, SIG_IGN);        /* a reader gone is a write error, said */
  r = write_tar (s, o, fd, pr, &c, &via_gfs);
  if (!to_stdout && close (fd) < 0 && r == 0)
    r = fail ("cannot write %s: %s", o->output, strerror (errno));
  if (r == 0)
    r = report (s, o, o->output, &c, via_gfs);
  if (r != EXIT_OK && !to_stdout)
    unlink (o->output);             /* a partial archive is no archive */
  return r;
}

static int
do_get (struct fsession *s, const struct files_opts *o)
{
  struct cli_progress pr;

  /* --progress; or, for people on a terminal, progress on it anyway. */
  cli_progress_init (&pr, "get", o->progress || isatty (2), o->json && o->progress);
  return o->tar ? get_tar (s, o, &pr) : get_tree (s, o, &pr);
}

int
cmd_get (const char *store, int argc, char **argv)
{
  return fsession_run (CMD_GET, store, argc, argv, do_get);
}
