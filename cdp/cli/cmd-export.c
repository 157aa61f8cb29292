/* cdp export: serve one recovery point over NBD.
 *
 * Read-only by default.  With --writable, writes go to a throw-away
 * overlay (an unlinked sparse file in the task's run directory, or in
 * $TMPDIR for a point read from an archive alone with --archive; 4 KiB
 * blocks, a bitmap of the blocks written) and never reach stored data.
 * Once clients can connect, the URI is printed (--json: a document,
 * docs/JSON.md), and the export runs until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/cli/cli-internal.h"
#include "cdp/rapid/rapid.h"
#include "common/timeutil.h"
#include "cdp/rapid/pointexp.h"
#include "common/cleanup.h"
#include "common/jsonfile.h"
#include "nbd-export/nbd-server.h"

#define OBLK 4096u

struct exp {
  struct pexp *px;                  /* the point (reopened after folds) */
  uint64_t size;
  const char *name;
  char desc[128];
  bool writable;
  int ofd;                          /* overlay file, -1 if read-only */
  uint8_t *bitmap;
  pthread_mutex_t lock;
};

static bool
written (struct exp *x, uint64_t blk)
{
  return x->bitmap && (x->bitmap[blk / 8] >> (blk % 8) & 1);
}

static int
ex_open (void *opaque, const char *name, void **handle,
         struct nbd_export_info *info)
{
  struct exp *x = opaque;

  if (*name && strcmp (name, x->name) != 0)
    return -ENOENT;
  *handle = x;
  *info = (struct nbd_export_info) {
    .size = x->size, .read_only = !x->writable, .can_flush = x->writable,
    .can_zero = x->writable, .can_trim = x->writable, .can_fua = x->writable,
    .can_multi_conn = true, .min_block = x->writable ? 512 : 1,
    .pref_block = 4096, .max_block = 32 << 20, .description = x->desc,
  };
  return 0;
}

static int
ex_list (void *opaque, struct nbd_export_list *l)
{
  struct exp *x = opaque;

  return nbd_export_list_add (l, x->name, x->desc);
}

/* Read the point, then lay the overlay's blocks over it. */
static int
ex_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
          struct nbd_extents *extents)
{
  struct exp *x = handle;
  point_extent_vector holes = empty_vector;
  uint8_t *b = buf;
  int r = pexp_read (x->px, 0, buf, count, offset,
                       extents && !x->writable ? &holes : NULL);

  if (r == 0 && extents) {
    uint64_t at = offset;
    for (size_t i = 0; i < holes.len; i++) {
      if (holes.ptr[i].off > at)
        nbd_extents_add (extents, at, holes.ptr[i].off - at, 0);
      nbd_extents_add (extents, holes.ptr[i].off, holes.ptr[i].len,
                       NBD_STATE_HOLE | NBD_STATE_ZERO);
      at = holes.ptr[i].off + holes.ptr[i].len;
    }
    if (at < offset + count)
      nbd_extents_add (extents, at, offset + count - at, 0);
  }
  point_extent_vector_reset (&holes);
  for (uint64_t blk = offset / OBLK; r == 0 && x->writable &&
         blk * OBLK < offset + count; blk++) {
    uint64_t a = blk * OBLK > offset ? blk * OBLK : offset;
    uint64_t e = (blk + 1) * OBLK < offset + count ? (blk + 1) * OBLK : offset + count;
    if (written (x, blk) && pread (x->ofd, b + (a - offset), e - a, a) != (ssize_t) (e - a))
      r = -EIO;
  }
  return r;
}

/* [off, end) is a hole of the point: reported as one in whole units of
 * min_block (the parts of a unit outside it as data), but for the
 * blocks written in the overlay, which are data. */
static void
hole_extents (struct exp *x, struct nbd_extents *extents, uint64_t off,
              uint64_t end)
{
  uint64_t unit = x->writable ? 512 : 1;
  uint64_t a = (off + unit - 1) / unit * unit, b = end / unit * unit;

  if (a >= b) {
    nbd_extents_add (extents, off, end - off, 0);
    return;
  }
  if (a > off)
    nbd_extents_add (extents, off, a - off, 0);
  while (a < b) {
    bool data = written (x, a / OBLK);
    uint64_t next = (a / OBLK + 1) * OBLK;

    while (next < b && written (x, next / OBLK) == data)
      next += OBLK;
    next = next < b ? next : b;
    nbd_extents_add (extents, a, next - a,
                     data ? 0 : NBD_STATE_HOLE | NBD_STATE_ZERO);
    a = next;
  }
  if (end > b)
    nbd_extents_add (extents, b, end - b, 0);
}

/* From the point's index and base allocation, without reading data. */
static int
ex_block_status (void *handle, uint32_t count, uint64_t offset,
                 struct nbd_extents *extents)
{
  struct exp *x = handle;
  point_extent_vector holes = empty_vector;
  uint64_t at = offset, end = offset + count;
  int r = pexp_read (x->px, 0, NULL, count, offset, &holes);

  for (size_t i = 0; r == 0 && i <= holes.len; i++) {
    const struct point_extent *h = i < holes.len ? &holes.ptr[i] : NULL;
    uint64_t data_end = h ? h->off : end;

    if (data_end > at)
      nbd_extents_add (extents, at, data_end - at, 0);
    if (h) {
      hole_extents (x, extents, h->off, h->off + h->len);
      at = h->off + h->len;
    }
  }
  point_extent_vector_reset (&holes);
  return r;
}

/* Overlay write of [off, off+len) with data (NULL: zeroes). */
static int
overlay_write (struct exp *x, const uint8_t *data, uint64_t off, uint64_t len)
{
  uint8_t blk[OBLK];
  int r = 0;

  pthread_mutex_lock (&x->lock);
  for (uint64_t n = off / OBLK; r == 0 && n * OBLK < off + len; n++) {
    uint64_t a = n * OBLK, s = off > a ? off : a;
    uint64_t e = off + len < a + OBLK ? off + len : a + OBLK;
    uint64_t bl = x->size - a < OBLK ? x->size - a : OBLK;
    if (!written (x, n) && (s > a || e < a + bl))
      r = ex_pread (x, blk, (uint32_t) bl, a, NULL);
    else if (written (x, n) && pread (x->ofd, blk, bl, a) != (ssize_t) bl)
      r = -EIO;
    if (r == 0) {
      if (data)
        memcpy (blk + (s - a), data + (s - off), e - s);
      else
        memset (blk + (s - a), 0, e - s);
      if (pwrite (x->ofd, blk, bl, a) != (ssize_t) bl)
        r = -EIO;
      else
        x->bitmap[n / 8] |= 1 << (n % 8);
    }
  }
  pthread_mutex_unlock (&x->lock);
  return r;
}

static void ex_write (void *h, struct nbd_request *q) { nbd_request_done (q, overlay_write (h, q->data, q->offset, q->count)); }
static void ex_zero (void *h, struct nbd_request *q) { nbd_request_done (q, overlay_write (h, NULL, q->offset, q->count)); }
static void ex_flush (void *h, struct nbd_request *q) { nbd_request_done (q, 0); }

/* Clients refused (TLS, the bound on connections) and broken ones. */
static void
ex_log (void *opaque, enum nbd_log_level level, const char *msg)
{
  if (level <= NBD_LOG_WARNING)
    log_msg ("export: %s", msg);
}

static const struct nbd_backend_ops ex_ops = {
  .open = ex_open, .list = ex_list, .pread = ex_pread,
  .block_status = ex_block_status,
  .write = ex_write, .zero = ex_zero, .trim = ex_zero, .flush = ex_flush,
};

/* In the task's run directory; with no store (--archive) in $TMPDIR. */
static int
make_overlay (struct exp *x, const char *task_dir)
{
  const char *tmp = getenv ("TMPDIR");
  CLEANUP_FREE char *run = task_dir ? path_join (task_dir, "run")
                           : strdup (tmp && *tmp ? tmp : "/tmp");
  CLEANUP_FREE char *path = run ? path_join (run, "overlay-XXXXXX") : NULL;

  if (path == NULL || run == NULL)
    return -ENOMEM;
  if (task_dir)
    mkdir_p (run, 0700);
  x->ofd = mkstemp (path);
  if (x->ofd >= 0)
    unlink (path);
  if (x->ofd < 0 || ftruncate (x->ofd, (off_t) x->size) < 0)
    return -errno;
  x->bitmap = calloc (x->size / OBLK / 8 + 1, 1);
  return x->bitmap ? 0 : -ENOMEM;
}

/* The export's URI (malloc'd), or NULL: out of memory. */
static char *
uri_of (const char *bound, const char *name, bool tls)
{
  char *uri;
  int n = strncmp (bound, "unix:", 5) == 0
    ? asprintf (&uri, "nbd+unix:///%s?socket=%s", name, bound + 5)
    : asprintf (&uri, "%s://%s/%s", tls ? "nbds" : "nbd", bound + 4, name);

  return n < 0 ? NULL : uri;
}

/* --json: what a client needs, once it can connect. */
static int
print_json (const char *task, const char *disk, int64_t at, const char *archive,
            const struct exp *x, const char *uri, const struct listen_opts *lo)
{
  json_object *o = json_object_new_object ();
  char tb[64];

  format_time (at, tb, sizeof tb);
  jf_add (o, "task", json_object_new_string (task));
  jf_add (o, "disk", json_object_new_string (disk));
  jf_add (o, "at", json_object_new_string (tb));
  if (archive)
    jf_add (o, "archive", json_object_new_string (archive));
  else
    jf_add_null (o, "archive");
  jf_add (o, "uri", json_object_new_string (uri));
  jf_add (o, "export", json_object_new_string (x->name));
  jf_add (o, "size", json_object_new_int64 ((int64_t) x->size));
  jf_add (o, "writable", json_object_new_boolean (x->writable));
  jf_add (o, "tls", json_object_new_string (lo->tls_creds ? "x509"
                                            : lo->tls_psk ? "psk" : "none"));
  jf_add (o, "pid", json_object_new_int64 ((int64_t) getpid ()));
  return cli_print_json (o);
}

/* --run: run cmd with $uri set; return its exit status. */
static int
run_captive (const char *cmd, const char *uri)
{
  pid_t pid = fork ();
  int status;

  if (pid == 0) {
    setenv ("uri", uri, 1);
    execl ("/bin/sh", "sh", "-c", cmd, (char *) NULL);
    _exit (127);
  }
  if (pid < 0 || waitpid (pid, &status, 0) < 0)
    return EXIT_FAIL;
  return WIFEXITED (status) ? WEXITSTATUS (status) : EXIT_FAIL;
}

int
cmd_export (const char *store, int argc, char **argv)
{
  static const struct option opts[] = {
    { "at", required_argument, 0, 'a' }, { "disk", required_argument, 0, 'd' },
    { "listen", required_argument, 0, 'l' }, { "name", required_argument, 0, 'n' },
    { "writable", no_argument, 0, 'w' }, { "run", required_argument, 0, 'r' },
    { "json", no_argument, 0, 'j' }, { "archive", required_argument, 0, 'A' },
    { "help", no_argument, 0, 'h' }, LISTEN_LONG_OPTIONS, { 0 } };
  const char *at = NULL, *disk = NULL, *listen = NULL, *run = NULL;
  const char *archive = NULL, *from;
  CLEANUP_FREE char *task_dir = NULL;   /* the view's, which pexp takes */
  CLEANUP_FREE char *disk_name = NULL;
  CLEANUP_FREE char *read_from = NULL;  /* the archive the point is read from */
  struct exp x = { .ofd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };
  CLEANUP_LISTEN_OPTS struct listen_opts lo = { 0 };
  struct task_view v;
  const struct task_disk *d;
  struct nbd_server *srv = NULL;
  char *bound = NULL, *uri;
  int64_t t;
  bool json = false;
  int c, r;

  optind = 1;
  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    switch (c) {
    case 'a': at = optarg; break;
    case 'j': json = true; break;
    case 'd': disk = optarg; break;
    case 'l': listen = optarg; break;
    case 'n': x.name = optarg; break;
    case 'w': x.writable = true; break;
    case 'r': run = optarg; break;
    case 'A': archive = optarg; break;
    case 'h':
      puts ("usage: cdp export NAME --at T [--disk D] --listen unix:PATH|tcp:HOST:PORT\n"
            "                  [--tls-creds DIR | --tls-psk FILE | --no-tls]\n"
            "                  [--max-connections N] [--name EXPORT] [--writable]\n"
            "                  [--run CMD | --json] [--archive LOCATION]\n"
            "Prints the NBD URI once clients can connect (--json: a JSON document\n"
            "with the URI, the point's time, the disk and whether it is writable)\n"
            "and serves until SIGINT or SIGTERM; --run CMD runs CMD with $uri set\n"
            "instead and exits with its status.\n"
            "tcp needs one of --tls-creds DIR (X.509, the layout of QEMU's\n"
            "tls-creds-x509; client certificates checked against the CA),\n"
            "--tls-psk FILE (username:hexkey lines) and --no-tls (plain)\n"
            "--archive LOCATION serves the point from that archive (a directory\n"
            "or s3://BUCKET/PREFIX) alone, with no store: NAME is the task's\n"
            "name there, T an archived point's time or bookmark label.  Without\n"
            "it, a T that is no point of the store is read from the task's\n"
            "archive if it holds one.");
      return 0;
    case LISTEN_OPT_TLS_CREDS: case LISTEN_OPT_TLS_PSK:
    case LISTEN_OPT_NO_TLS: case LISTEN_OPT_MAX_CONNECTIONS:
      if ((r = listen_opt (c, optarg, &lo)) != 0)
        return r;
      break;
    default:
      return usage_error ("see 'cdp export --help'");
    }
  if (optind + 1 != argc || at == NULL || listen == NULL)
    return usage_error ("usage: cdp export NAME --at T [--disk D] --listen ADDR");
  if (json && run)
    return usage_error ("--json and --run: give one; --run prints nothing");
  if ((r = listen_check (listen, &lo)) != 0)
    return r;
  if ((r = cli_view_disk (store, archive, argv[optind], disk, at, &v, &d)) != 0)
    return r;
  if ((r = view_time (&v, at, &t)) != 0) {
    view_close (&v);
    return r;
  }
  cli_point_name (v.task, d, t, x.desc, sizeof x.desc);
  from = archive ? archive : v.task->archive.location;
  if ((disk_name = strdup (d->name)) == NULL ||
      (v.task->dir && (task_dir = strdup (v.task->dir)) == NULL) ||
      (from && (read_from = strdup (from)) == NULL)) {
    view_close (&v);
    return fail ("%s", strerror (ENOMEM));
  }
  string_vector disks = empty_vector;
  string_vector_append (&disks, disk_name);
  /* pexp takes the view over (d stays valid: it is the view's task's). */
  r = pexp_open (store, argv[optind], t, &disks, &v, &x.px);
  string_vector_reset (&disks);
  if (r != 0)
    return EXIT_FAIL;
  x.name = x.name ? x.name : disk_name;
  x.size = pexp_size (x.px, 0);
  if (!pexp_archived (x.px, 0)) {
    free (read_from);
    read_from = NULL;
  }
  if (x.writable && (r = make_overlay (&x, task_dir)) < 0) {
    pexp_close (x.px);
    return fail ("cannot create the overlay: %s", strerror (-r));
  }
  sigset_t set;
  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  pthread_sigmask (SIG_BLOCK, &set, NULL);
  signal (SIGPIPE, SIG_IGN);
  r = nbd_server_new (&ex_ops, &x, &srv);
  if (r == 0)
    nbd_server_set_log (srv, ex_log, NULL);
  if (r == 0 && listen_apply (srv, listen, &lo) != 0)
    r = -EINVAL;
  else if (r == 0 && (r = nbd_server_listen (srv, listen, &bound)) < 0)
    fail ("cannot listen on %s: %s", listen, strerror (-r));
  else if (r < 0)
    fail ("cannot serve: %s", strerror (-r));
  if (r < 0) {
    nbd_server_free (srv);
    r = EXIT_FAIL;
    goto out;
  }
  uri = uri_of (bound, x.name, lo.tls_creds || lo.tls_psk);
  if (uri == NULL)
    r = fail ("cannot serve on %s: %s", bound, strerror (ENOMEM));
  else if (run) {
    pthread_sigmask (SIG_UNBLOCK, &set, NULL);
    r = run_captive (run, uri);
  }
  else {
    r = json ? print_json (argv[optind], disk_name, t, read_from, &x, uri,
                           &lo) : 0;
    if (!json)
      printf ("%s\n", uri);
    fflush (stdout);
    int sig;
    if (r == 0)
      sigwait (&set, &sig);
  }
  nbd_server_free (srv);
  free (uri);
  free (bound);
 out:
  free (x.bitmap);
  if (x.ofd >= 0)
    close (x.ofd);
  pexp_close (x.px);
  return r;
}
