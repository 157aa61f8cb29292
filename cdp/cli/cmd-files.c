/* cdp ls, cat, get: the files of a disk at a point.
 *
 * The sandboxed reader (recovery/files.h) is started before the store is
 * opened, so that it holds nothing of it; then the point is resolved and
 * the reader parses the disk through point_pread, which this process
 * does for it.  File systems the reader does not know go to libguestfs
 * (recovery/files-guestfs.c) over an NBD export of the point, when it is
 * installed.
 *
 * get writes only below --output (recovery/files-write.c): every file is
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
#include "common/fileio.h"
#include "common/timeutil.h"
#include "nbd-export/nbd-server.h"
#include "recovery/files/files.h"

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

static const char *const usages[] = {
  [CMD_LS] = "usage: cdp ls NAME --at T [--disk D] [PATH] [--json]\n",
  [CMD_CAT] = "usage: cdp cat NAME --at T [--disk D] PATH\n",
  [CMD_GET] = "usage: cdp get NAME --at T [--disk D] PATH --output DEST\n",
};

static const char help_tail[] =
  "Read the files of the disk as it was at T, without mounting anything.\n"
  "PATH is absolute.  A disk with a partition table has its partitions as\n"
  "p1, p2, ... at /, and paths inside them start with one (/p2/etc/fstab);\n"
  "a disk that is one file system has paths from its root.  ext2/3/4 are\n"
  "read by cdp itself, in a sandboxed process; other file systems through\n"
  "libguestfs, when it is installed.\n";

static const char get_tail[] =
  "DEST is created as the file or directory tree (or, if DEST is an existing\n"
  "directory, DEST/NAME); nothing that exists is replaced and nothing is\n"
  "written outside DEST.  Modes and times are kept, owners only when run\n"
  "as root; set-user-ID/set-group-ID bits are dropped; device nodes and\n"
  "sockets are skipped; symbolic links are recreated, never followed.\n";

/* ---- arguments ------------------------------------------------------------- */

static int
parse_args (enum files_cmd cmd, int argc, char **argv, struct files_opts *o)
{
  static const struct option opts[] = {
    { "at", required_argument, 0, 'a' }, { "disk", required_argument, 0, 'd' },
    { "output", required_argument, 0, 'o' }, { "json", no_argument, 0, 'j' },
    { "help", no_argument, 0, 'h' }, { 0 } };
  int c;

  *o = (struct files_opts) { .cmd = cmd };
  optind = 1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, ":", opts, NULL)) != -1)
    switch (c) {
    case 'a': o->at = optarg; break;
    case 'd': o->disk = optarg; break;
    case 'o': if (cmd != CMD_GET) goto unknown; o->output = optarg; break;
    case 'j': if (cmd != CMD_LS) goto unknown; o->json = true; break;
    case 'h':
      fputs (usages[cmd], stdout);
      fputs (help_tail, stdout);
      if (cmd == CMD_GET)
        fputs (get_tail, stdout);
      return -1;
    case ':': return usage_error ("%s needs a value; see 'cdp %s --help'",
                                  argv[optind - 1], argv[0]);
    default:
    unknown:
      return usage_error ("unknown option %s; see 'cdp %s --help'",
                          argv[optind - 1], argv[0]);
    }
  if (optind < argc)
    o->name = argv[optind++];
  if (optind < argc)
    o->path = argv[optind++];
  if (cmd == CMD_LS && o->path == NULL)
    o->path = "/";
  if (optind < argc || o->name == NULL || o->at == NULL || o->path == NULL ||
      (cmd == CMD_GET && (o->output == NULL || !*o->output)))
    return usage_error ("%.*s", (int) strcspn (usages[cmd], "\n"), usages[cmd]);
  if (o->path[0] != '/')
    return usage_error ("PATH must be absolute (start with /), not '%s'", o->path);
  return 0;
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

  if (r == -EUCLEAN &&
      integrity_read_failed (s->v.task, &s->v.cat, "files", msg, sizeof msg)) {
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
  if (view_open (store, o->name, &s->v) != 0)
    return EXIT_FAIL;
  s->view_open = true;
  if ((d = task_pick_disk (s->v.task, o->disk)) == NULL)
    return EXIT_USAGE;
  if ((r = view_point (&s->v, d, o->at, &s->p, &t)) != 0)
    return r;
  format_time (t, s->tbuf, sizeof s->tbuf);
  snprintf (s->what, sizeof s->what, "%s/%s at %s", s->v.task->name, d->name, s->tbuf);
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

static int
failed (struct fsession *s, const char *verb, const char *path, int r)
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
static int
gfs_ensure (struct fsession *s, const char *verb, const char *path)
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

static int
gfs_failed (struct fsession *s, const char *verb, const char *path, int r)
{
  const char *m = files_gfs_error (s->gfs);

  if (*s->damage)
    return fail ("cannot %s %s in %s: %s", verb, path, s->what, s->damage);
  return fail ("cannot %s %s in %s: %s", verb, path, s->what, *m ? m : strerror (-r));
}

static int
gfs_list (struct fsession *s, const char *path, files_entry_vector *v)
{
  int r = gfs_ensure (s, "list", path);

  if (r == 0 && (r = files_gfs_list (s->gfs, files_unsupported (s->f)->rest, v)) < 0)
    gfs_failed (s, "list", path, r);
  return r == 0 ? 0 : -ENOTSUP;
}

static int
gfs_read (struct fsession *s, const char *path, const struct files_sink *sink, void *o)
{
  int r = gfs_ensure (s, "read", path);

  if (r != 0)
    return -ENOTSUP;
  r = files_gfs_read (s->gfs, files_unsupported (s->f)->rest, sink, o);
  if (r == -EISDIR)
    return r;
  if (r < 0 && *(int *) o == 0)
    gfs_failed (s, "read", path, r);
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

/* ---- ls ------------------------------------------------------------------------ */

static int
by_name (const void *a, const void *b)
{
  return strcmp (((const struct files_entry *) a)->name,
                 ((const struct files_entry *) b)->name);
}

/* Control characters as \xNN, so that a name cannot drive the terminal. */
static void
print_name (const char *s)
{
  for (; *s; s++)
    if ((unsigned char) *s < 0x20 || *s == 0x7f || *s == '\\')
      printf (*s == '\\' ? "\\\\" : "\\x%02x", (unsigned char) *s);
    else
      putchar (*s);
}

static void
local_time (int64_t ns, char *buf, size_t len)
{
  time_t t = (time_t) (ns / 1000000000 - (ns % 1000000000 < 0));
  struct tm tm;

  if (localtime_r (&t, &tm) == NULL || strftime (buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
    snprintf (buf, len, "@%" PRId64, ns / 1000000000);
}

static int
imax (int a, int b)
{
  return a > b ? a : b;
}

static void
print_long (const files_entry_vector *v)
{
  int wsize = 1, wlink = 1, wuid = 1, wgid = 1;
  char mode[11], tm[64];

  for (size_t i = 0; i < v->len; i++) {
    const struct files_entry *e = &v->ptr[i];
    wsize = imax (wsize, snprintf (NULL, 0, "%" PRIu64, e->size));
    wlink = imax (wlink, snprintf (NULL, 0, "%u", e->nlink));
    wuid = imax (wuid, snprintf (NULL, 0, "%u", e->uid));
    wgid = imax (wgid, snprintf (NULL, 0, "%u", e->gid));
  }
  for (size_t i = 0; i < v->len; i++) {
    const struct files_entry *e = &v->ptr[i];
    if (e->fs[0]) {                 /* a partition */
      format_size (e->size, tm, sizeof tm);
      printf ("%-6s %-10s %s\n", e->name, e->fs, tm);
      continue;
    }
    files_mode_string (e->mode, mode);
    local_time (e->mtime_ns, tm, sizeof tm);
    printf ("%s %*u %*u %*u %*" PRIu64 " %s ", mode, wlink, e->nlink, wuid, e->uid,
            wgid, e->gid, wsize, e->size, tm);
    print_name (e->name);
    if (e->target) {
      fputs (" -> ", stdout);
      print_name (e->target);
    }
    putchar ('\n');
  }
}

static bool
valid_utf8 (const unsigned char *s)
{
  while (*s) {
    int n = *s < 0x80 ? 0 : (*s & 0xe0) == 0xc0 ? 1 : (*s & 0xf0) == 0xe0 ? 2
          : (*s & 0xf8) == 0xf0 ? 3 : -1;
    if (n < 0 || (n == 1 && *s < 0xc2))
      return false;
    s++;
    for (int i = 0; i < n; i++, s++)
      if ((*s & 0xc0) != 0x80)
        return false;
  }
  return true;
}

/* A name as a JSON string: as it is when UTF-8, else with each bad byte
 * as U+FFFD and the exact bytes in hex beside it (key_hex). */
static void
add_name (json_object *o, const char *key, const char *s)
{
  char hexkey[32];

  if (valid_utf8 ((const unsigned char *) s)) {
    json_object_object_add (o, key, json_object_new_string (s));
    return;
  }
  size_t n = strlen (s);
  char *lossy = malloc (3 * n + 1), *hex = malloc (2 * n + 1), *p = lossy;
  if (lossy == NULL || hex == NULL)
    abort ();
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char) s[i];
    if (c < 0x80) {
      *p++ = (char) c;
    }
    else {
      memcpy (p, "\xef\xbf\xbd", 3);
      p += 3;
    }
    sprintf (hex + 2 * i, "%02x", c);
  }
  *p = 0;
  json_object_object_add (o, key, json_object_new_string (lossy));
  snprintf (hexkey, sizeof hexkey, "%s_hex", key);
  json_object_object_add (o, hexkey, json_object_new_string (hex));
  free (lossy);
  free (hex);
}

static void
add_time (json_object *o, const char *key, int64_t ns)
{
  char buf[64];

  format_time (ns, buf, sizeof buf);
  json_object_object_add (o, key, json_object_new_string (buf));
}

static json_object *
entry_json (const struct files_entry *e)
{
  json_object *o = json_object_new_object ();
  char mode[11];

  add_name (o, "name", e->name);
  json_object_object_add (o, "type", json_object_new_string (files_type_name (e->mode)));
  json_object_object_add (o, "mode", json_object_new_int (e->mode & 07777));
  files_mode_string (e->mode, mode);
  json_object_object_add (o, "mode_string", json_object_new_string (mode));
  json_object_object_add (o, "uid", json_object_new_int64 (e->uid));
  json_object_object_add (o, "gid", json_object_new_int64 (e->gid));
  json_object_object_add (o, "size", json_object_new_int64 ((int64_t) e->size));
  json_object_object_add (o, "nlink", json_object_new_int64 (e->nlink));
  json_object_object_add (o, "ino", json_object_new_int64 ((int64_t) e->ino));
  if (e->fs[0])
    json_object_object_add (o, "fs", json_object_new_string (e->fs));
  else {
    add_time (o, "mtime", e->mtime_ns);
    add_time (o, "atime", e->atime_ns);
    add_time (o, "ctime", e->ctime_ns);
  }
  if (e->target)
    add_name (o, "target", e->target);
  return o;
}

static void
print_json (const struct fsession *s, const char *path, const files_entry_vector *v)
{
  json_object *root = json_object_new_object (), *a = json_object_new_array ();

  add_name (root, "path", path);
  json_object_object_add (root, "point", json_object_new_string (s->tbuf));
  for (size_t i = 0; i < v->len; i++)
    json_object_array_add (a, entry_json (&v->ptr[i]));
  json_object_object_add (root, "entries", a);
  puts (json_object_to_json_string_ext (root, JSON_C_TO_STRING_PRETTY |
                                        JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put (root);
}

static int
do_ls (struct fsession *s, const struct files_opts *o)
{
  files_entry_vector v = empty_vector;
  int r = files_list (s->f, o->path, &v);

  if (r == -ENOTSUP)
    r = gfs_list (s, o->path, &v);
  if (r < 0) {
    files_entry_vector_clear (&v);
    return r == -ENOTSUP ? EXIT_FAIL : failed (s, "list", o->path, r);
  }
  if (v.len)
    qsort (v.ptr, v.len, sizeof *v.ptr, by_name);
  if (o->json)
    print_json (s, o->path, &v);
  else
    print_long (&v);
  files_entry_vector_clear (&v);
  return fflush (stdout) == 0 ? EXIT_OK : fail ("cannot write the listing: %s",
                                               strerror (errno));
}

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
  int werr = 0, r = files_read (s->f, o->path, &sink, &werr, NULL);

  if (r == -ENOTSUP)
    r = gfs_read (s, o->path, &sink, &werr);
  if (werr)
    return fail ("cannot write to standard output: %s", strerror (-werr));
  if (r == -EISDIR)
    return fail ("%s is a directory in %s; 'cdp ls' lists it", o->path, s->what);
  return r == 0 ? EXIT_OK : r == -ENOTSUP ? EXIT_FAIL : failed (s, "read", o->path, r);
}

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
    if ((r = gfs_ensure (s, "get", o->path)) != 0)
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
    r = via_gfs ? gfs_failed (s, "get", o->path, r) : failed (s, "get", o->path, r);
  files_writer_free (w);
  return r;
}

/* ---- the commands ---------------------------------------------------------------- */

static int
run_cmd (enum files_cmd cmd, const char *store, int argc, char **argv)
{
  struct files_opts o;
  struct fsession s;
  int r = parse_args (cmd, argc, argv, &o);

  if (r != 0)
    return r < 0 ? EXIT_OK : r;
  if ((r = session_open (store, &o, &s)) == 0)
    r = cmd == CMD_LS ? do_ls (&s, &o) : cmd == CMD_CAT ? do_cat (&s, &o)
                                                       : do_get (&s, &o);
  gfs_stop (&s);
  session_close (&s);
  return r;
}

int
cmd_ls (const char *store, int argc, char **argv)
{
  return run_cmd (CMD_LS, store, argc, argv);
}

int
cmd_cat (const char *store, int argc, char **argv)
{
  return run_cmd (CMD_CAT, store, argc, argv);
}

int
cmd_get (const char *store, int argc, char **argv)
{
  return run_cmd (CMD_GET, store, argc, argv);
}
