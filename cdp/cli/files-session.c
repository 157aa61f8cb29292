/* cdp ls, cat, get: what they share, a session with the files of a disk
 * at a point (cmd-ls.c, cmd-cat.c, cmd-get.c do each command's part).
 *
 * The sandboxed reader (recovery/files/files.h) is started before the store is
 * opened, so that it holds nothing of it; then the point is resolved and
 * the reader parses the disk through point_pread, which this process
 * does for it.  File systems the reader does not know go to libguestfs
 * (recovery/files/files-guestfs.c) over an NBD export of the point, when it is
 * installed.
 *
 * get writes only below --output (recovery/files/files-write.c): every file is
 * created relative to its parent directory's descriptor, a name that is
 * not one plain component or that exists already is refused, and no
 * symbolic link is ever followed on this side.
 */
#include <errno.h>
#include <pthread.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "common/error.h"
#include "common/timeutil.h"
#include "nbd-export/nbd-server.h"
#include "recovery/files/files.h"
#include "cdp/cli/cli-internal.h"
#include "cdp/cli/progress.h"

static const char *const usages[] = {
  [CMD_LS] = "usage: cdp ls NAME --at T [--disk D] [PATH] [--json]\n"
             "              [--archive LOCATION]\n",
  [CMD_CAT] = "usage: cdp cat NAME --at T [--disk D] PATH [--offset N] [--length N]\n"
              "               [--archive LOCATION]\n",
  [CMD_GET] = "usage: cdp get NAME --at T [--disk D] PATH --output DEST|- [--tar]\n"
              "               [--json] [--progress] [--archive LOCATION]\n",
};

static const char help_tail[] =
  "Read the files of the disk as it was at T, without mounting anything.\n"
  "PATH is absolute.  A disk with a partition table has its partitions as\n"
  "p1, p2, ... at /, and paths inside them start with one (/p2/etc/fstab);\n"
  "a disk that is one file system has paths from its root.  ext2/3/4 are\n"
  "read by cdp itself, in a sandboxed process; other file systems through\n"
  "libguestfs, when it is installed.\n"
  "--archive LOCATION reads the point from that archive (a directory or\n"
  "s3://BUCKET/PREFIX) alone, with no store: NAME is the task's name there,\n"
  "T an archived point's time or bookmark label.  Without it, a T that is\n"
  "no point of the store is read from the task's archive if it holds one.\n";

static const char cat_tail[] =
  "--offset N and --length N (bytes, or with K M G T) write only that\n"
  "range of the file, cut at its end; only that range is read.\n";

static const char get_tail[] =
  "DEST is created as the file or directory tree (or, if DEST is an existing\n"
  "directory, DEST/NAME); nothing that exists is replaced and nothing is\n"
  "written outside DEST.  Modes and times are kept, owners only when run\n"
  "as root; set-user-ID/set-group-ID bits are dropped; device nodes and\n"
  "sockets are skipped; symbolic links are recreated, never followed.\n"
  "--tar writes one tar archive (POSIX pax) of PATH instead, to the new\n"
  "file DEST or, with --output -, to standard output; its members are\n"
  "named from PATH's last component ('.' for /).  --json prints what was\n"
  "written; --progress reports the bytes copied (JSON Lines with --json).\n"
  "SIGINT or SIGTERM cancels, and what was written is removed.\n";

/* ---- arguments ------------------------------------------------------------- */

/* The option c is not one of cmd's. */
static bool
foreign (enum files_cmd cmd, int c)
{
  switch (c) {
  case 'o': case 't': case 'p': return cmd != CMD_GET;
  case 'j': return cmd == CMD_CAT;
  case 'O': case 'L': return cmd != CMD_CAT;
  }
  return false;
}

static int
byte_count (const char *opt, const char *arg, uint64_t *v)
{
  if (parse_size (arg, v) < 0 || *v > (uint64_t) INT64_MAX)
    return usage_error ("%s takes a number of bytes (512, 4K, 1M), not '%s'", opt, arg);
  return 0;
}

/* What cannot go together, once all is read. */
static int
check_args (enum files_cmd cmd, struct files_opts *o)
{
  if (o->name == NULL || o->at == NULL || o->path == NULL ||
      (cmd == CMD_GET && (o->output == NULL || !*o->output)))
    return usage_error ("%.*s", (int) strcspn (usages[cmd], "\n"), usages[cmd]);
  if (o->path[0] != '/')
    return usage_error ("PATH must be absolute (start with /), not '%s'", o->path);
  if (cmd == CMD_GET && strcmp (o->output, "-") == 0 && !o->tar)
    return usage_error ("--output - (standard output) takes an archive: add --tar");
  if (cmd == CMD_GET && strcmp (o->output, "-") == 0 && o->json)
    return usage_error ("--json cannot go with --tar --output -: both would be on "
                        "standard output");
  if (cmd == CMD_GET && strcmp (o->output, "-") == 0 && isatty (1))
    return usage_error ("refusing to write an archive to a terminal: redirect "
                        "standard output, or name a file with --output");
  return 0;
}

static int
parse_args (enum files_cmd cmd, int argc, char **argv, struct files_opts *o)
{
  static const struct option opts[] = {
    { "at", required_argument, 0, 'a' }, { "disk", required_argument, 0, 'd' },
    { "output", required_argument, 0, 'o' }, { "json", no_argument, 0, 'j' },
    { "tar", no_argument, 0, 't' }, { "progress", no_argument, 0, 'p' },
    { "offset", required_argument, 0, 'O' }, { "length", required_argument, 0, 'L' },
    { "archive", required_argument, 0, 'A' }, { "help", no_argument, 0, 'h' },
    { 0 } };
  int c, r, li = 0;

  *o = (struct files_opts) { .cmd = cmd, .length = UINT64_MAX };
  optind = 1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, ":", opts, &li)) != -1) {
    if (foreign (cmd, c))
      return usage_error ("unknown option --%s; see 'cdp %s --help'", opts[li].name,
                          argv[0]);
    switch (c) {
    case 'a': o->at = optarg; break;
    case 'd': o->disk = optarg; break;
    case 'A': o->archive = optarg; break;
    case 'o': o->output = optarg; break;
    case 'j': o->json = true; break;
    case 't': o->tar = true; break;
    case 'p': o->progress = true; break;
    case 'O':
      if ((r = byte_count ("--offset", optarg, &o->offset)) != 0)
        return r;
      break;
    case 'L':
      if ((r = byte_count ("--length", optarg, &o->length)) != 0)
        return r;
      break;
    case 'h':
      fputs (usages[cmd], stdout);
      fputs (help_tail, stdout);
      fputs (cmd == CMD_GET ? get_tail : cmd == CMD_CAT ? cat_tail : "", stdout);
      return -1;
    default:
      return cli_option_error (c, argv);
    }
  }
  if (optind < argc)
    o->name = argv[optind++];
  if (optind < argc)
    o->path = argv[optind++];
  if (cmd == CMD_LS && o->path == NULL)
    o->path = "/";
  if (optind < argc)
    return usage_error ("%.*s", (int) strcspn (usages[cmd], "\n"), usages[cmd]);
  return check_args (cmd, o);
}

/* ---- the point and its reader ----------------------------------------------- */

/* A read of the point; damage it finds is recorded and kept for the
 * message. */
static int
read_point (void *h, void *buf, uint64_t off, uint64_t len)
{
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  struct fsession *s = h;
  int r = point_pread (&s->p, buf, off, len, NULL);
  char msg[sizeof s->damage];
  bool archived = view_point_archived (&s->p);

  /* An archived chunk that fails its sum: the error names it. */
  if (r == -EUCLEAN && archived)
    snprintf (msg, sizeof msg, "%s", cdp_get_error ());
  if (r == -EUCLEAN &&
      (archived ||
       integrity_read_failed (s->v.task, &s->v.cat, "files", msg, sizeof msg))) {
    pthread_mutex_lock (&lock);     /* libguestfs: from server threads */
    if (!*s->damage)
      memcpy (s->damage, msg, sizeof msg);
    pthread_mutex_unlock (&lock);
  }
  return r;
}

static int
session_open (const char *store, const struct files_opts *o, struct fsession *s)
{
  const struct task_disk *d;
  int64_t t;
  int r;

  memset (s, 0, sizeof *s);
  if ((r = files_start (&s->f)) < 0)
    return fail ("cannot start the file system reader: %s", strerror (-r));
  if ((r = cli_view_disk (store, o->archive, o->name, o->disk, o->at, &s->v,
                          &d)) != 0)
    return r;
  s->view_open = true;
  if ((r = view_point (&s->v, d, o->at, &s->p, &t)) != 0)
    return r;
  format_time (t, s->tbuf, sizeof s->tbuf);
  cli_point_name (s->v.task, d, t, s->what, sizeof s->what);
  if (s->p.size == 0)
    return fail ("the size of disk %s is not known yet", d->name);
  if ((r = files_attach (s->f, s->p.size, read_point, s)) < 0)
    return fail ("cannot read %s: %s", s->what, files_error (s->f));
  return 0;
}

static void
session_close (struct fsession *s)
{
  files_stop (s->f);
  if (s->view_open)
    view_close (&s->v);
}

int
fsession_failed (struct fsession *s, const char *verb, const char *path, int r)
{
  const char *msg = files_error (s->f);

  if (*s->damage)
    return fail ("cannot %s %s in %s: %s", verb, path, s->what, s->damage);
  return fail ("cannot %s %s in %s: %s", verb, path, s->what,
               *msg ? msg : strerror (-r));
}

/* ---- the libguestfs way, over an NBD export of the point ------------------------ */

static int
gx_open (void *opaque, const char *name, void **handle, struct nbd_export_info *info)
{
  struct fsession *s = opaque;

  *handle = s;
  *info = (struct nbd_export_info) { .size = s->p.size, .read_only = true,
                                     .can_multi_conn = true, .description = s->what };
  return 0;
}

static int
gx_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
          struct nbd_extents *extents)
{
  return read_point (handle, buf, offset, count);
}

static const struct nbd_backend_ops gx_ops = { .open = gx_open, .pread = gx_pread };

/* After -ENOTSUP from the sandboxed reader: libguestfs, if there is one,
 * else the reader's message, which names the file system. */
int
fsession_gfs_ensure (struct fsession *s, const char *verb, const char *path)
{
  const struct files_volume *vol = files_unsupported (s->f);
  char sock[128], msg[1024] = "";
  char *bound = NULL;
  int r;

  if (s->gfs)
    return 0;
  if (!files_gfs_available ())
    return fail ("cannot %s %s in %s: %s; cdp was built without libguestfs, "
                 "which could read it", verb, path, s->what, files_error (s->f));
  snprintf (s->sockdir, sizeof s->sockdir, "/tmp/cdp-files-XXXXXX");
  if (mkdtemp (s->sockdir) == NULL) {
    s->sockdir[0] = 0;
    return fail ("cannot make a directory in /tmp: %s", strerror (errno));
  }
  snprintf (sock, sizeof sock, "unix:%s/nbd.sock", s->sockdir);
  signal (SIGPIPE, SIG_IGN);
  if ((r = nbd_server_new (&gx_ops, s, &s->srv)) < 0 ||
      (r = nbd_server_listen (s->srv, sock, &bound)) < 0)
    return fail ("cannot serve the point to libguestfs: %s", strerror (-r));
  free (bound);
  if (isatty (2))
    fprintf (stderr, "cdp: %s; starting libguestfs...\r", files_error (s->f));
  r = files_gfs_open (sock + 5, vol, &s->gfs, msg, sizeof msg);
  if (isatty (2))
    fputs ("\033[K", stderr);
  if (r < 0)
    return fail ("cannot %s %s in %s: %s; %s", verb, path, s->what,
                 files_error (s->f), msg);
  return 0;
}

int
fsession_gfs_failed (struct fsession *s, const char *verb, const char *path, int r)
{
  const char *m = files_gfs_error (s->gfs);

  if (*s->damage)
    return fail ("cannot %s %s in %s: %s", verb, path, s->what, s->damage);
  return fail ("cannot %s %s in %s: %s", verb, path, s->what, *m ? m : strerror (-r));
}

int
fsession_gfs_list (struct fsession *s, const char *path, files_entry_vector *v,
                   struct files_entry *self)
{
  const char *rest = files_unsupported (s->f)->rest;
  int r = fsession_gfs_ensure (s, "list", path);

  if (r == 0 && (r = files_gfs_stat (s->gfs, rest, self)) == 0)
    r = files_gfs_list (s->gfs, rest, v);
  if (r < 0)
    fsession_gfs_failed (s, "list", path, r);
  return r == 0 ? 0 : -ENOTSUP;
}

int
fsession_gfs_read (struct fsession *s, const char *path, uint64_t off, uint64_t len,
                   const struct files_sink *sink, void *o)
{
  int r = fsession_gfs_ensure (s, "read", path);

  if (r != 0)
    return -ENOTSUP;
  r = files_gfs_read (s->gfs, files_unsupported (s->f)->rest, off, len, sink, o);
  if (r == -EISDIR)
    return r;
  if (r < 0 && *(int *) o == 0)
    fsession_gfs_failed (s, "read", path, r);
  return r == 0 ? 0 : -ENOTSUP;
}

static void
gfs_stop (struct fsession *s)
{
  char sock[128];

  files_gfs_close (s->gfs);
  if (s->srv)
    nbd_server_free (s->srv);
  if (s->sockdir[0]) {
    snprintf (sock, sizeof sock, "%s/nbd.sock", s->sockdir);
    unlink (sock);
    rmdir (s->sockdir);
  }
}

/* ---- a command: its arguments, the session, what it does ----------------------- */

int
fsession_run (enum files_cmd cmd, const char *store, int argc, char **argv,
              fsession_fn *run)
{
  struct files_opts o;
  struct fsession s;
  int r = parse_args (cmd, argc, argv, &o);

  if (r != 0)
    return r < 0 ? EXIT_OK : r;
  /* get stops at SIGINT/SIGTERM where it can remove what it wrote. */
  if (cmd == CMD_GET && (r = cli_cancel_init ()) != 0)
    return r;
  if ((r = session_open (store, &o, &s)) == 0)
    r = run (&s, &o);
  gfs_stop (&s);
  session_close (&s);
  return r;
}
