/* cdp restore: a standalone image (qcow2 or raw, no backing file) of one
 * recovery point.
 *
 * Reader threads take the point in CHUNK-sized pieces (point_pread is
 * thread-safe), drop what reads as zero (holes, and all-zero blocks of
 * data: the new image reads as zero there anyway) and hand the rest to
 * the image writer (recovery/history/imgwrite.h) under one lock, or for a raw
 * image pwrite it themselves, all at once.  The main
 * thread draws the progress (progress.h: --progress, or a terminal) and
 * watches for SIGINT/SIGTERM/SIGHUP, which cancel the restore.
 *
 * Durability order: the image is written to FILE.tmp-XXXXXX in FILE's
 * directory, made durable (imgw_finish: flush, fsync file and
 * directory), then renamed to FILE, then the directory is synced.  FILE
 * is never a partial image: an interrupted restore removes its
 * temporary file, a killed one leaves only FILE.tmp-XXXXXX (qemu-nbd
 * dies with it).
 *
 * A block device as FILE (--force) is written into instead, never
 * replaced (imgw_open_device): raw from its start, zeroes written where
 * the point reads as zero (the device is not empty), or a qcow2 made on
 * it.  There is no name to hide a partial image behind: a restore that
 * fails says the device holds part of one.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <libgen.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/cli/cli-internal.h"
#include "cdp/cli/progress.h"
#include "common/error.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"
#include "recovery/history/imgwrite.h"

#define CHUNK (8u << 20)            /* one read of the point */
#define ZBLOCK IMGW_CLUSTER         /* all-zero blocks of this size are skipped */
#define MAX_READERS 4
#define TICK_NS 100000000           /* the main thread looks this often */

struct restore {
  const struct point *p;
  const struct task_view *v;        /* to name damage found */
  struct imgw *w;
  int raw_fd;                       /* raw output: written without the lock */
  bool fill_zero;                   /* raw onto a device: zeroes are written */
  pthread_mutex_t lock;             /* w, err, msg */
  atomic_uint_fast64_t next;        /* offset of the next chunk to read */
  atomic_uint_fast64_t done;        /* bytes read */
  atomic_uint_fast64_t data;        /* bytes written */
  atomic_uint running;              /* readers not yet ended */
  atomic_bool stop;
  int err;
  char msg[512];
};

static void __attribute__ ((format (printf, 3, 4)))
set_failure (struct restore *rs, int err, const char *fmt, ...)
{
  va_list ap;

  pthread_mutex_lock (&rs->lock);
  if (rs->err == 0) {
    rs->err = err;
    va_start (ap, fmt);
    vsnprintf (rs->msg, sizeof rs->msg, fmt, ap);
    va_end (ap);
  }
  pthread_mutex_unlock (&rs->lock);
  atomic_store (&rs->stop, true);
}

static bool
all_zero (const uint8_t *b, size_t len)
{
  return len == 0 || (b[0] == 0 && memcmp (b, b + 1, len - 1) == 0);
}

/* Write the data range [off, off+len) of buf (which starts at boff),
 * leaving out ZBLOCK-aligned blocks that are all zero.  Lock held. */
static int
write_run (struct restore *rs, const uint8_t *buf, uint64_t boff,
           uint64_t off, uint64_t len)
{
  const uint8_t *p = buf + (off - boff);

  if (len == 0)
    return 0;
  atomic_fetch_add (&rs->data, len);
  if (rs->raw_fd < 0)
    return imgw_write (rs->w, p, off, len);
  while (len > 0) {
    ssize_t n = pwrite (rs->raw_fd, p, len, (off_t) off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? -errno : -EIO;
    p += n;
    off += (uint64_t) n;
    len -= (uint64_t) n;
  }
  return 0;
}

/* A new file reads as zeroes where nothing is written; a device reads
 * as what was on it, so there zeroes are written too.  Raw only: the
 * lock serializes the writer's own calls. */
static int
zero_run (struct restore *rs, uint64_t off, uint64_t len)
{
  int r;

  if (!rs->fill_zero || len == 0)
    return 0;
  assert (rs->raw_fd >= 0);
  pthread_mutex_lock (&rs->lock);
  r = imgw_zero (rs->w, off, len);
  pthread_mutex_unlock (&rs->lock);
  if (r < 0)
    set_failure (rs, r, "%s", cdp_get_error ());
  return r;
}

static int
write_data (struct restore *rs, const uint8_t *buf, uint64_t boff,
            uint64_t off, uint64_t len)
{
  uint64_t end = off + len, run = off;
  int r = 0;

  for (uint64_t at = off; r == 0 && at < end;) {
    uint64_t next = (at / ZBLOCK + 1) * ZBLOCK;
    if (next > end)
      next = end;
    if (all_zero (buf + (at - boff), next - at)) {
      r = write_run (rs, buf, boff, run, at - run);
      if (r == 0)
        r = zero_run (rs, at, next - at);
      run = next;
    }
    at = next;
  }
  return r == 0 ? write_run (rs, buf, boff, run, end - run) : r;
}

/* Write what is not a hole of the chunk buf = [off, off+len). */
static int
write_chunk (struct restore *rs, const uint8_t *buf, uint64_t off,
             uint64_t len, const point_extent_vector *holes)
{
  uint64_t at = off;
  int r = 0;

  /* A raw file takes pwrites from every reader at once; the qcow2
   * writer is one NBD connection, used by one thread at a time. */
  if (rs->raw_fd < 0)
    pthread_mutex_lock (&rs->lock);
  for (size_t i = 0; r == 0 && i <= holes->len; i++) {
    uint64_t h = i < holes->len ? holes->ptr[i].off : off + len;
    if (h > at)
      r = write_data (rs, buf, off, at, h - at);
    if (r == 0 && i < holes->len)
      r = zero_run (rs, holes->ptr[i].off, holes->ptr[i].len);
    if (i < holes->len)
      at = holes->ptr[i].off + holes->ptr[i].len;
  }
  if (rs->raw_fd < 0)
    pthread_mutex_unlock (&rs->lock);
  if (r < 0 && rs->raw_fd < 0)
    set_failure (rs, r, "%s", cdp_get_error ());
  else if (r < 0)
    set_failure (rs, r, "cannot write the image: %s", strerror (-r));
  return r;
}

static void
read_failure (struct restore *rs, int r, uint64_t off)
{
  bool archived = view_point_archived (rs->p);
  const char *detail = point_last_failure () == POINT_SRC_BASE && !archived
                       ? "" : cdp_get_error ();
  char msg[512];

  /* An archived chunk that fails its sum names itself (detail). */
  if (r == -EUCLEAN && !archived &&
      integrity_read_failed (rs->v->task, &rs->v->cat, "restore", msg, sizeof msg))
    set_failure (rs, r, "%s", msg);
  else if (r == -ESTALE)
    set_failure (rs, r, "the journal under this point was reclaimed during "
                 "the restore (retention); choose a later point");
  else
    set_failure (rs, r, "cannot read the point at offset %" PRIu64 ": %s%s%s",
                 off, strerror (-r), *detail ? ": " : "", detail);
}

static void *
reader (void *opaque)
{
  struct restore *rs = opaque;
  point_extent_vector holes = empty_vector;
  uint8_t *buf = malloc (CHUNK);

  if (buf == NULL)
    set_failure (rs, -ENOMEM, "out of memory");
  while (buf && !atomic_load (&rs->stop)) {
    uint64_t off = atomic_fetch_add (&rs->next, CHUNK), len;
    if (off >= rs->p->size)
      break;
    len = rs->p->size - off < CHUNK ? rs->p->size - off : CHUNK;
    holes.len = 0;
    int r = point_pread (rs->p, buf, off, len, &holes);
    if (r < 0) {
      read_failure (rs, r, off);
      break;
    }
    if (write_chunk (rs, buf, off, len, &holes) < 0)
      break;
    atomic_fetch_add (&rs->done, len);
  }
  point_extent_vector_reset (&holes);
  free (buf);
  atomic_fetch_sub (&rs->running, 1);
  return NULL;
}

/* ---- progress ------------------------------------------------------------ */

static double
seconds_since (int64_t t0)
{
  return (double) (time_mono_ns () - t0) / 1e9;
}

/* Run the readers until they end or a cancel (progress.h) stops them. */
static void
run_readers (struct restore *rs, unsigned n, struct cli_progress *pr)
{
  pthread_t th[MAX_READERS];
  unsigned started = 0;

  atomic_store (&rs->running, n);
  cli_progress_start (pr, "copy", "bytes", (int64_t) rs->p->size);
  for (; started < n; started++)
    if (pthread_create (&th[started], NULL, reader, rs) != 0)
      break;
  if (started < n) {
    set_failure (rs, -EAGAIN, "cannot start reader threads");
    atomic_fetch_sub (&rs->running, n - started);
  }
  while (atomic_load (&rs->running) > 0) {
    if (cli_cancel_wait (TICK_NS))
      set_failure (rs, -ECANCELED, "cancelled");
    cli_progress_update (pr, atomic_load (&rs->done));
  }
  for (unsigned i = 0; i < started; i++)
    pthread_join (th[i], NULL);
  if (rs->err == 0)
    cli_progress_end (pr, atomic_load (&rs->done));
}

/* ---- the output file ------------------------------------------------------ */

static const char *
format_of (const char *output, const char *opt)
{
  size_t n = strlen (output);

  if (opt)
    return strcmp (opt, "qcow2") == 0 || strcmp (opt, "raw") == 0 ? opt : NULL;
  return n > 6 && strcasecmp (output + n - 6, ".qcow2") == 0 ? "qcow2" : "raw";
}

/* A temporary name next to output, claimed (created empty). */
static char *
claim_temp (const char *output)
{
  char *tmp;
  int fd;

  if (asprintf (&tmp, "%s.tmp-XXXXXX", output) < 0) {
    fail ("cannot create a file next to %s: %s", output, strerror (ENOMEM));
    return NULL;
  }
  fd = mkstemp (tmp);
  if (fd < 0) {
    fail ("cannot create a file next to %s: %s", output, strerror (errno));
    free (tmp);
    return NULL;
  }
  close (fd);
  return tmp;
}

static int
sync_dir_of (const char *path)
{
  char *copy = strdup (path);
  int fd = copy ? open (dirname (copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  int r = fd >= 0 && fsync (fd) == 0 ? 0 : -errno;

  if (fd >= 0)
    close (fd);
  free (copy);
  return r;
}

/* Give the complete image its name: never over an existing file unless
 * force, then sync the directory entry. */
static int
publish (const char *tmp, const char *output, bool force)
{
  int r = 0;

  if (force)
    r = rename (tmp, output);
  else if ((r = renameat2 (AT_FDCWD, tmp, AT_FDCWD, output, RENAME_NOREPLACE)) < 0 &&
           errno == EINVAL) {           /* no RENAME_NOREPLACE here */
    r = link (tmp, output);
    if (r == 0)
      unlink (tmp);
  }
  if (r < 0)
    return fail (errno == EEXIST ? "%s appeared during the restore; not replaced "
                 "(the image was not kept)" : "cannot rename the image to %s: %s",
                 output, strerror (errno));
  if ((r = sync_dir_of (output)) < 0)
    return fail ("cannot sync the directory of %s: %s", output, strerror (-r));
  return 0;
}

/* May output be written?  A block device (also through a symlink, as
 * LVs are) is written into, never replaced: *device says so. */
static int
check_output (const char *output, bool force, bool *device)
{
  struct stat st;

  *device = stat (output, &st) == 0 && S_ISBLK (st.st_mode);
  if (*device)
    return force ? 0 : fail ("%s is a block device: the restore writes the "
                             "disk over what it holds; pass --force to do so",
                             output);
  if (lstat (output, &st) < 0)
    return errno == ENOENT ? 0 : fail ("cannot use %s: %s", output, strerror (errno));
  if (S_ISDIR (st.st_mode))
    return fail ("%s is a directory; --output names the image file", output);
  if (!S_ISREG (st.st_mode) && !S_ISLNK (st.st_mode))
    return fail ("%s is neither a regular file nor a block device; --output "
                 "names the image file or the device to write", output);
  if (!force)
    return fail ("%s exists; remove it or pass --force to replace it", output);
  return 0;
}

/* ---- the command ------------------------------------------------------------ */

struct restore_opts {
  const char *at, *disk, *output, *format, *archive;
  bool force, json, progress;
};

static const char usage[] =
  "usage: cdp restore NAME --at T [--disk D] --output FILE [--format qcow2|raw]\n"
  "                   [--force] [--json] [--progress] [--archive LOCATION]\n"
  "Write the disk as it was at T to FILE, a standalone image (no backing\n"
  "file).  The format is qcow2 when FILE ends in .qcow2, else raw, unless\n"
  "--format says.  FILE appears only once complete; an existing FILE is\n"
  "replaced only with --force.  A block device as FILE (--force) is\n"
  "written into, from its start; it must hold the image.\n"
  "--json prints what was written as one JSON document; --progress shows\n"
  "the copy as it goes (JSON Lines on stdout with --json, else on stderr).\n"
  "SIGINT or SIGTERM cancels: FILE is not written (a device holds part of\n"
  "the image).\n"
  "--archive LOCATION reads the point from that archive (a directory or\n"
  "s3://BUCKET/PREFIX) alone, with no store: NAME is the task's name there,\n"
  "T an archived point's time or bookmark label.  Without it, a T that is\n"
  "no point of the store is read from the task's archive if it holds one.\n";

static int
parse_args (int argc, char **argv, struct restore_opts *o)
{
  static const struct option opts[] = {
    { "at", required_argument, 0, 'a' }, { "disk", required_argument, 0, 'd' },
    { "output", required_argument, 0, 'o' }, { "format", required_argument, 0, 'f' },
    { "force", no_argument, 0, 'F' }, { "json", no_argument, 0, 'j' },
    { "progress", no_argument, 0, 'P' }, { "archive", required_argument, 0, 'A' },
    { "help", no_argument, 0, 'h' }, { 0 } };
  int c;

  optind = 1;
  opterr = 0;                       /* one line of our own instead */
  while ((c = getopt_long (argc, argv, ":", opts, NULL)) != -1)
    switch (c) {
    case 'a': o->at = optarg; break;
    case 'd': o->disk = optarg; break;
    case 'o': o->output = optarg; break;
    case 'f': o->format = optarg; break;
    case 'F': o->force = true; break;
    case 'j': o->json = true; break;
    case 'P': o->progress = true; break;
    case 'A': o->archive = optarg; break;
    case 'h': fputs (usage, stdout); return -1;
    default: return cli_option_error (c, argv);
    }
  if (optind + 1 != argc || o->at == NULL || o->output == NULL || !*o->output)
    return usage_error ("usage: cdp restore NAME --at T [--disk D] --output FILE "
                        "[--format qcow2|raw] [--force] [--json] [--progress] "
                        "[--archive LOCATION]");
  if (format_of (o->output, o->format) == NULL)
    return usage_error ("--format must be qcow2 or raw, not '%s'", o->format);
  return 0;
}

static unsigned
reader_count (void)
{
  long n = sysconf (_SC_NPROCESSORS_ONLN);

  return n < 2 ? 2 : n > MAX_READERS ? MAX_READERS : (unsigned) n;
}

/* What a restore works on: the point of disk d of view v at time t,
 * named what in messages, written as the options say. */
struct job {
  const struct task_view *v;
  const struct task_disk *d;
  const struct point *p;
  int64_t t;
  const char *archive;              /* where an archived point is read from */
  char what[256];
  const struct restore_opts *o;
  bool device;
  struct cli_progress pr;
};

/* What was written: one line on stderr, or with --json the document
 * (docs/JSON.md, "restore") on stdout. */
static int
report (const struct restore *rs, const struct job *jb, int64_t t0)
{
  const struct restore_opts *o = jb->o;
  const char *fmt = format_of (o->output, o->format);
  char size[32], data[32], tb[64];
  double secs = seconds_since (t0);
  json_object *j;

  if (o->json) {
    j = json_object_new_object ();
    format_time (jb->t, tb, sizeof tb);
    jf_add (j, "task", json_object_new_string (jb->v->task->name));
    jf_add (j, "disk", json_object_new_string (jb->d->name));
    jf_add (j, "at", json_object_new_string (tb));
    jf_add (j, "output", json_object_new_string (o->output));
    jf_add (j, "format", json_object_new_string (fmt));
    jf_add (j, "device", json_object_new_boolean (jb->device));
    jf_add (j, "size", json_object_new_int64 ((int64_t) rs->p->size));
    jf_add (j, "bytes_written",
            json_object_new_int64 ((int64_t) atomic_load (&rs->data)));
    if (view_point_archived (rs->p))
      jf_add (j, "archive", json_object_new_string (jb->archive));
    else
      jf_add_null (j, "archive");
    jf_add (j, "seconds", json_object_new_double (secs));
    return cli_print_json (j);
  }
  format_size (rs->p->size, size, sizeof size);
  format_size (atomic_load (&rs->data), data, sizeof data);
  fprintf (stderr, "cdp: restored %s%s%s to %s (%s, %s, %s of data) in "
           "%.1f s, %.0f MiB/s\n", jb->what,
           view_point_archived (rs->p) ? " from the archive " : "",
           view_point_archived (rs->p) ? jb->archive : "", o->output, fmt,
           size, data, secs,
           secs > 0 ? (double) rs->p->size / secs / 1048576 : 0);
  return 0;
}

/* Write the point into a temporary image and publish it as output.  A
 * cancel removes the temporary image: output is never touched. */
static int
restore_point (struct job *jb)
{
  const struct restore_opts *o = jb->o;
  struct restore rs = { .p = jb->p, .v = jb->v,
                        .lock = PTHREAD_MUTEX_INITIALIZER };
  const char *fmt = format_of (o->output, o->format);
  int64_t t0;
  char *tmp = claim_temp (o->output);
  int r;

  if (tmp == NULL)
    return EXIT_FAIL;
  t0 = time_mono_ns ();
  r = imgw_create (tmp, fmt, jb->p->size, NULL, &rs.w);
  if (r < 0) {
    unlink (tmp);
    free (tmp);
    return fail ("cannot create the image: %s", cdp_get_error ());
  }
  rs.raw_fd = imgw_raw_fd (rs.w);
  run_readers (&rs, reader_count (), &jb->pr);
  if (rs.err) {
    imgw_abort (rs.w);
    free (tmp);
    if (rs.err == -ECANCELED)
      return fail ("restore of %s cancelled; %s not written", jb->what,
                   o->output);
    return fail ("restore of %s failed, %s not written: %s", jb->what,
                 o->output, rs.msg);
  }
  r = imgw_finish (rs.w);
  if (r == 0 && cli_cancelled ()) {
    unlink (tmp);
    r = fail ("restore of %s cancelled; %s not written", jb->what, o->output);
  }
  else if (r < 0)
    r = fail ("cannot complete the image %s: %s", o->output, cdp_get_error ());
  else if ((r = publish (tmp, o->output, o->force)) != 0)
    unlink (tmp);
  else
    r = report (&rs, jb, t0);
  free (tmp);
  return r;
}

/* Write the point into the block device output itself.  There is no
 * temporary name to hide a partial image behind: a restore that fails
 * or is cancelled says that the device holds part of it. */
static int
restore_to_device (struct job *jb)
{
  const struct restore_opts *o = jb->o;
  struct restore rs = { .p = jb->p, .v = jb->v,
                        .lock = PTHREAD_MUTEX_INITIALIZER };
  const char *fmt = format_of (o->output, o->format);
  int64_t t0;
  int r;

  t0 = time_mono_ns ();
  r = imgw_open_device (o->output, fmt, jb->p->size, &rs.w);
  if (r < 0)
    return fail ("cannot restore onto %s: %s", o->output, cdp_get_error ());
  rs.raw_fd = imgw_raw_fd (rs.w);
  rs.fill_zero = rs.raw_fd >= 0;
  run_readers (&rs, reader_count (), &jb->pr);
  if (rs.err) {
    imgw_abort (rs.w);
    return fail ("restore of %s %s, %s holds part of the image%s%s", jb->what,
                 rs.err == -ECANCELED ? "cancelled" : "failed", o->output,
                 rs.err == -ECANCELED ? "" : ": ",
                 rs.err == -ECANCELED ? "" : rs.msg);
  }
  r = imgw_finish (rs.w);
  if (r < 0)
    return fail ("cannot complete the image on %s (it holds part of it): %s",
                 o->output, cdp_get_error ());
  /* A cancel now comes too late to stop anything: the image is complete. */
  return report (&rs, jb, t0);
}

int
cmd_restore (const char *store, int argc, char **argv)
{
  struct restore_opts o = { 0 };
  struct task_view v;
  struct point p;
  struct job jb = { .v = &v, .p = &p, .o = &o };
  int r = parse_args (argc, argv, &o);

  if (r != 0)
    return r < 0 ? EXIT_OK : r;
  if ((r = check_output (o.output, o.force, &jb.device)) != 0)
    return r;
  /* Signals wait for the main thread, which stops in order. */
  if ((r = cli_cancel_init ()) != 0)
    return r;
  if ((r = cli_view_disk (store, o.archive, argv[optind], o.disk, o.at, &v,
                          &jb.d)) != 0)
    return r;
  if ((r = view_point (&v, jb.d, o.at, &p, &jb.t)) != 0) {
    view_close (&v);
    return r;
  }
  cli_point_name (v.task, jb.d, jb.t, jb.what, sizeof jb.what);
  jb.archive = o.archive ? o.archive : v.task->archive.location;
  /* --progress; or, for people on a terminal, progress on it anyway. */
  cli_progress_init (&jb.pr, "restore", o.progress || isatty (2),
                     o.json && o.progress);
  r = p.size == 0 ? fail ("the size of disk %s is not known yet", jb.d->name)
    : jb.device ? restore_to_device (&jb) : restore_point (&jb);
  view_close (&v);
  return r;
}
