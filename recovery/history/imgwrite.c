/* cdp recovery: the image writer — qemu-img create, then qemu-nbd fed
 * by libnbd (qcow2), or a sparse file written directly (raw).  See
 * imgwrite.h for the contract. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <libnbd.h>
#include <linux/fs.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fileio.h"
#include "recovery/history/imgwrite.h"
#include "recovery/history/qemu-tool.h"

#define ZERO_MAX (1ull << 30)       /* largest NBD WRITE_ZEROES sent */
#define EXIT_WAIT_MS 60000          /* for qemu-nbd to exit after finish */

/* One NBD request in flight: the range it writes and its data buffer
 * (allocated on first use, IMGW_REQ_MAX bytes). */
struct slot {
  struct imgw *w;
  void *buf;
  uint64_t off, len;
  bool busy;
};

struct imgw {
  char *path;
  bool qcow2;
  uint64_t size;
  int err;                          /* sticky -errno */
  int fd;                           /* raw: the file; a device: it; else -1 */
  bool device;                      /* a block device: never unlinked */
  struct qemu_tool nbd_tool;        /* qcow2: qemu-nbd */
  struct nbd_handle *nbd;
  uint64_t req_max;
  bool can_zero;
  struct slot slots[IMGW_SLOTS];
  struct slot *idle[IMGW_SLOTS];
  unsigned nidle;
};

/* qemu-img and qemu-nbd parse "proto:..." as a protocol; a relative
 * file name with a colon before any slash gets "./" in front. */
static char *
file_name (const char *path)
{
  const char *colon = strchr (path, ':'), *slash = strchr (path, '/');
  char *s;

  if (colon && (slash == NULL || colon < slash)) {
    if (asprintf (&s, "./%s", path) < 0)
      return NULL;
    return s;
  }
  return strdup (path);
}

/* ---- qcow2: qemu-img create, qemu-nbd, libnbd --------------------------- */

/* A tool that could not start, in words, with a hint when absent. */
static int
start_error (int r, const char *tool)
{
  return cdp_set_error (r, "cannot run %s: %s%s", tool, strerror (-r),
                        r == -ENOENT ? " (is QEMU's qemu-utils installed?)"
                                     : "");
}

static int
qemu_img_create (const char *path, uint64_t size, const char *backing)
{
  char sizes[32], why[512];
  char *file = file_name (path), *back = backing ? file_name (backing) : NULL;
  const char *argv[16] = { "qemu-img", "create", "-q", "-f", "qcow2", "-o",
                           "cluster_size=65536,lazy_refcounts=off" };
  int n = 7, r;

  if (file == NULL || (backing && back == NULL)) {
    r = cdp_set_error (-ENOMEM, "out of memory");
    goto out;
  }
  if (back) {
    argv[n++] = "-b";
    argv[n++] = back;
    argv[n++] = "-F";
    argv[n++] = "qcow2";
  }
  snprintf (sizes, sizeof sizes, "%" PRIu64, size);
  argv[n++] = file;
  argv[n++] = sizes;
  r = qemu_tool_run (argv, why, sizeof why);
  if (r == -EIO)
    cdp_set_error (r, "qemu-img create %s failed: %s", path, why);
  else if (r < 0)
    start_error (r, "qemu-img");
 out:
  free (file);
  free (back);
  return r;
}

/* A listening unix socket in a fresh mode-0700 directory, and *cfd a
 * connection to it, queued until the server accepts.  The socket's name
 * and directory are gone again before this returns: nobody else can
 * ever connect. */
static int
private_socket (int *lfd, int *cfd)
{
  const char *tmp = getenv ("TMPDIR");
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  char dir[sizeof sa.sun_path - 2];
  int r = 0;

  if (tmp == NULL || *tmp != '/' ||
      snprintf (dir, sizeof dir, "%s/cdp-imgw-XXXXXX", tmp) >= (int) sizeof dir)
    strcpy (dir, "/tmp/cdp-imgw-XXXXXX");
  if (mkdtemp (dir) == NULL)
    return cdp_set_error (-errno, "cannot make a directory in %s: %s",
                          tmp ? tmp : "/tmp", strerror (errno));
  snprintf (sa.sun_path, sizeof sa.sun_path, "%s/s", dir);
  *lfd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  *cfd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (*lfd < 0 || *cfd < 0 ||
      bind (*lfd, (struct sockaddr *) &sa, sizeof sa) < 0 ||
      listen (*lfd, 1) < 0 ||
      connect (*cfd, (struct sockaddr *) &sa, sizeof sa) < 0)
    r = cdp_set_error (-errno, "cannot make a socket for qemu-nbd: %s",
                       strerror (errno));
  unlink (sa.sun_path);
  rmdir (dir);
  return r;
}

/* A failure talking to qemu-nbd (errno e, libnbd's words detail):
 * sticky, with qemu-nbd's last words if it died. */
static int
failed (struct imgw *w, const char *what, int e, const char *detail)
{
  char why[512];
  int status;

  if (w->nbd_tool.pid > 0 && qemu_tool_wait (&w->nbd_tool, 200, &status) == 0)
    cdp_set_error (-e, "%s %s: qemu-nbd died: %s", what, w->path,
                   qemu_tool_why (&w->nbd_tool, status, why, sizeof why));
  else
    cdp_set_error (-e, "%s %s: %s", what, w->path, detail);
  if (w->err == 0)
    w->err = -e;
  return w->err;
}

static int
nbd_failed (struct imgw *w, const char *what)
{
  return failed (w, what, nbd_get_errno () ? nbd_get_errno () : EIO,
                 nbd_get_error ());
}

/* O_DIRECT (qemu's cache=none) keeps the image out of the page cache:
 * faster here, and the final flush has little left to do.  File
 * systems without it (tmpfs) get cache=writeback. */
static const char *
cache_mode (const char *path)
{
  int fd = open (path, O_WRONLY | O_DIRECT | O_CLOEXEC);

  if (fd < 0)
    return "--cache=writeback";
  close (fd);
  return "--cache=none";
}

static int
start_qemu_nbd (struct imgw *w)
{
  const char *argv[] = { "qemu-nbd", "-f", "qcow2", cache_mode (w->path),
                         "--discard=unmap", "--detect-zeroes=unmap",
                         NULL, NULL };
  char *file = file_name (w->path);
  int lfd = -1, cfd = -1, r;

  argv[6] = file;
  r = file ? private_socket (&lfd, &cfd)
           : cdp_set_error (-ENOMEM, "out of memory");
  if (r == 0 && (r = qemu_tool_start (argv, lfd, &w->nbd_tool)) < 0)
    start_error (r, "qemu-nbd");
  if (lfd >= 0)
    close (lfd);
  free (file);
  if (r == 0 && (w->nbd = nbd_create ()) == NULL)
    r = cdp_set_error (-ENOMEM, "libnbd: %s", nbd_get_error ());
  if (r == 0 && nbd_connect_socket (w->nbd, cfd) == -1) {
    r = nbd_failed (w, "qemu-nbd cannot serve");
    return w->nbd_tool.pid == 0 ? -EIO : r;   /* it died: it said why */
  }
  if (r < 0 && cfd >= 0)
    close (cfd);
  return r;
}

static int
check_export (struct imgw *w)
{
  int64_t size = nbd_get_size (w->nbd), max;

  if (size < 0)
    return nbd_failed (w, "qemu-nbd cannot serve");
  if ((uint64_t) size != w->size || nbd_is_read_only (w->nbd) != 0)
    return cdp_set_error (-EIO, "qemu-nbd serves %s with size %" PRId64
                          " read-only=%d, expected %" PRIu64 " writable",
                          w->path, size, nbd_is_read_only (w->nbd), w->size);
  max = nbd_get_block_size (w->nbd, LIBNBD_SIZE_MAXIMUM);
  w->req_max = max > 0 && max < IMGW_REQ_MAX ? (uint64_t) max : IMGW_REQ_MAX;
  w->can_zero = nbd_can_zero (w->nbd) == 1;
  for (unsigned i = 0; i < IMGW_SLOTS; i++) {
    w->slots[i].w = w;
    w->idle[i] = &w->slots[i];
  }
  w->nidle = IMGW_SLOTS;
  return 0;
}

static int
on_done (void *opaque, int *error)
{
  struct slot *s = opaque;
  struct imgw *w = s->w;

  if (*error && w->err == 0)
    failed (w, "writing", *error, strerror (*error));
  assert (w->nidle < IMGW_SLOTS && s->busy);
  s->busy = false;
  w->idle[w->nidle++] = s;
  return 1;
}

/* qemu-nbd may run requests in flight in any order: a write waits for
 * those it overlaps, so that later writes win as callers expect. */
static bool
overlaps_in_flight (const struct imgw *w, uint64_t off, uint64_t len)
{
  for (unsigned i = 0; i < IMGW_SLOTS; i++) {
    const struct slot *s = &w->slots[i];
    if (s->busy && off < s->off + s->len && s->off < off + len)
      return true;
  }
  return false;
}

/* An idle slot with its buffer for [off, off+len), waiting while all
 * are in flight or one in flight overlaps the range. */
static int
get_slot (struct imgw *w, uint64_t off, uint64_t len, struct slot **sp)
{
  struct slot *s;

  while (w->err == 0 && (w->nidle == 0 || overlaps_in_flight (w, off, len)))
    if (nbd_poll (w->nbd, -1) == -1)
      return nbd_failed (w, "writing");
  if (w->err)
    return w->err;
  s = w->idle[--w->nidle];
  if (s->buf == NULL && (s->buf = malloc (IMGW_REQ_MAX)) == NULL) {
    w->idle[w->nidle++] = s;
    return cdp_set_error (-ENOMEM, "out of memory");
  }
  *s = (struct slot) { .w = w, .buf = s->buf, .off = off, .len = len,
                       .busy = true };
  *sp = s;
  return 0;
}

/* Send one request: data (NULL: zeroes) of n bytes at off. */
static int
submit (struct imgw *w, const void *data, uint64_t off, uint64_t n)
{
  nbd_completion_callback cb = { .callback = on_done };
  struct slot *s = NULL;
  int64_t cookie;
  int r = get_slot (w, off, n, &s);

  if (r < 0)
    return r;
  cb.user_data = s;
  if (data == NULL && w->can_zero)
    cookie = nbd_aio_zero (w->nbd, n, off, cb, 0);
  else {
    if (data)
      memcpy (s->buf, data, n);
    else
      memset (s->buf, 0, n);
    cookie = nbd_aio_pwrite (w->nbd, s->buf, n, off, cb, 0);
  }
  if (cookie == -1) {           /* not issued: no callback comes */
    s->busy = false;
    w->idle[w->nidle++] = s;
    return nbd_failed (w, "writing");
  }
  return 0;
}

static int
nbd_put (struct imgw *w, const uint8_t *data, uint64_t off, uint64_t len)
{
  uint64_t step = data || !w->can_zero ? w->req_max : ZERO_MAX;
  int r = 0;

  for (uint64_t done = 0, n; r == 0 && done < len; done += n) {
    n = len - done < step ? len - done : step;
    r = submit (w, data ? data + done : NULL, off + done, n);
  }
  return r;
}

static int
drain (struct imgw *w)
{
  while (w->nidle < IMGW_SLOTS)
    if (nbd_poll (w->nbd, -1) == -1)
      return nbd_failed (w, "writing");
  return w->err;
}

/* Flush, disconnect, and see qemu-nbd exit cleanly. */
static int
stop_qemu_nbd (struct imgw *w)
{
  char why[512];
  int r = drain (w), status;

  if (r == 0 && nbd_flush (w->nbd, 0) == -1)
    r = nbd_failed (w, "cannot flush");
  if (r == 0 && nbd_shutdown (w->nbd, 0) == -1)
    r = nbd_failed (w, "cannot disconnect from qemu-nbd serving");
  nbd_close (w->nbd);
  w->nbd = NULL;
  if (r < 0)
    return r;
  r = qemu_tool_wait (&w->nbd_tool, EXIT_WAIT_MS, &status);
  if (r < 0)
    return cdp_set_error (r, "qemu-nbd did not exit after writing %s: %s",
                          w->path, strerror (-r));
  if (!(WIFEXITED (status) && WEXITSTATUS (status) == 0))
    r = cdp_set_error (-EIO, "qemu-nbd failed on %s: %s", w->path,
                       qemu_tool_why (&w->nbd_tool, status, why, sizeof why));
  return r;
}

/* ---- raw: a sparse file ----------------------------------------------- */

static int
raw_write (struct imgw *w, const uint8_t *buf, uint64_t off, uint64_t len)
{
  int r = fio_pwrite_all (w->fd, buf, len, (off_t) off);

  if (r < 0)
    return cdp_set_error (r, "cannot write %s: %s", w->path,
                          strerror (-r));
  return 0;
}

static int
write_zeroes (struct imgw *w, uint64_t off, uint64_t len)
{
  static const uint8_t zeroes[64 << 10];

  for (uint64_t n; len > 0; off += n, len -= n) {
    n = len < sizeof zeroes ? len : sizeof zeroes;
    int r = raw_write (w, zeroes, off, n);
    if (r < 0)
      return r;
  }
  return 0;
}

/* A block device reads as what was on it: zeroes are written, by the
 * device where it can (fallocate on a device zeroes whole blocks), the
 * edges of 4 KiB blocks by hand. */
static int
device_zero (struct imgw *w, uint64_t off, uint64_t len)
{
  uint64_t a = (off + 4095) / 4096 * 4096, b = (off + len) / 4096 * 4096;
  int r;

  if (a >= b)
    return write_zeroes (w, off, len);
  if ((r = write_zeroes (w, off, a - off)) < 0 ||
      (r = write_zeroes (w, b, off + len - b)) < 0)
    return r;
  if (fallocate (w->fd, FALLOC_FL_ZERO_RANGE, (off_t) a, (off_t) (b - a)) == 0)
    return 0;
  if (errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL)
    return cdp_set_error (-errno, "cannot zero a range of %s: %s", w->path,
                          strerror (errno));
  return write_zeroes (w, a, b - a);
}

static int
raw_zero (struct imgw *w, uint64_t off, uint64_t len)
{
  if (w->device)
    return device_zero (w, off, len);
  if (fallocate (w->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                 (off_t) off, (off_t) len) == 0 ||
      fallocate (w->fd, FALLOC_FL_ZERO_RANGE, (off_t) off, (off_t) len) == 0)
    return 0;
  if (errno != EOPNOTSUPP && errno != ENOSYS)
    return cdp_set_error (-errno, "cannot zero a range of %s: %s", w->path,
                          strerror (errno));
  return write_zeroes (w, off, len);
}

/* ---- the writer --------------------------------------------------------- */

static int
fsync_path (const char *path, int flags)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | flags), r = 0;

  if (fd < 0 || fsync (fd) < 0)
    r = cdp_set_error (-errno, "cannot sync %s: %s", path, strerror (errno));
  if (fd >= 0)
    close (fd);
  return r;
}

static int
fsync_dir_of (const char *path)
{
  char *copy = strdup (path);
  int r;

  if (copy == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  r = fsync_path (dirname (copy), O_DIRECTORY);
  free (copy);
  return r;
}

static void release (struct imgw *w, bool remove);

static int
check_args (const char *format, uint64_t size, const char *backing, bool *qcow2)
{
  *qcow2 = strcmp (format, "qcow2") == 0;
  if (!*qcow2 && strcmp (format, "raw") != 0)
    return cdp_set_error (-EINVAL, "unknown image format '%s' (qcow2 or raw)",
                          format);
  if (size == 0 || size > INT64_MAX)
    return cdp_set_error (-EINVAL, "image size %" PRIu64 " out of range", size);
  if (*qcow2 && size % 512)
    return cdp_set_error (-EINVAL, "qcow2 size %" PRIu64
                          " is not a multiple of 512", size);
  if (!*qcow2 && backing)
    return cdp_set_error (-EINVAL, "a raw image cannot have a backing file");
  return 0;
}

int
imgw_create (const char *path, const char *format, uint64_t size,
             const char *backing, struct imgw **wp)
{
  struct imgw *w;
  int r, fd;
  bool qcow2;

  cdp_clear_error ();
  if ((r = check_args (format, size, backing, &qcow2)) < 0)
    return r;
  /* A file left at path (a temporary name of a run that died) is
   * replaced, never written through; qemu-img create fills ours. */
  if (unlink (path) < 0 && errno != ENOENT)
    return cdp_set_error (-errno, "cannot replace %s: %s", path,
                          strerror (errno));
  fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return cdp_set_error (-errno, "cannot create %s: %s", path,
                          strerror (errno));
  w = calloc (1, sizeof *w);
  if (w == NULL || (w->path = strdup (path)) == NULL) {
    free (w);
    close (fd);
    unlink (path);
    return cdp_set_error (-ENOMEM, "out of memory");
  }
  *w = (struct imgw) { .path = w->path, .qcow2 = qcow2, .size = size,
                       .fd = fd, .nbd_tool = { .pid = 0, .errfd = -1 } };
  if (qcow2) {
    close (w->fd);
    w->fd = -1;
    r = qemu_img_create (path, size, backing);
    if (r == 0)
      r = start_qemu_nbd (w);
    if (r == 0)
      r = check_export (w);
  }
  else if (ftruncate (fd, (off_t) size) < 0)
    r = cdp_set_error (-errno, "cannot size %s: %s", path, strerror (errno));
  if (r < 0) {
    release (w, true);
    return r;
  }
  *wp = w;
  return 0;
}

uint64_t
imgw_qcow2_max (uint64_t size)
{
  const uint64_t c = IMGW_CLUSTER;
  uint64_t data = (size + c - 1) / c;
  uint64_t l2 = (data + c / 8 - 1) / (c / 8);
  uint64_t l1 = (l2 * 8 + c - 1) / c;
  uint64_t meta = 1 + l1 + l2, refblocks = 0, reftable = 0, prev;

  /* Refcounts cover themselves: iterate to the fixed point. */
  do {
    prev = refblocks + reftable;
    refblocks = (data + meta + prev + c / 2 - 1) / (c / 2);
    reftable = (refblocks * 8 + c - 1) / c;
  } while (refblocks + reftable != prev);
  return (data + meta + refblocks + reftable) * c;
}

/* The device's size, and room for the image in it. */
static int
check_device (int fd, const char *path, bool qcow2, uint64_t size)
{
  struct stat st;
  uint64_t have, need = qcow2 ? imgw_qcow2_max (size) : size;

  if (fstat (fd, &st) < 0)
    return cdp_set_error (-errno, "cannot look at %s: %s", path,
                          strerror (errno));
  if (!S_ISBLK (st.st_mode))
    return cdp_set_error (-ENOTBLK, "%s is not a block device", path);
  if (ioctl (fd, BLKGETSIZE64, &have) < 0)
    return cdp_set_error (-errno, "cannot get the size of %s: %s", path,
                          strerror (errno));
  if (have < need)
    return cdp_set_error (-EFBIG, "%s holds %" PRIu64 " bytes; the %s image of "
                          "this disk needs %" PRIu64 "%s", path, have,
                          qcow2 ? "qcow2" : "raw", need,
                          qcow2 ? " (every cluster allocated)" : "");
  return 0;
}

int
imgw_open_device (const char *path, const char *format, uint64_t size,
                  struct imgw **wp)
{
  struct imgw *w;
  bool qcow2;
  int r, fd;

  cdp_clear_error ();
  if ((r = check_args (format, size, NULL, &qcow2)) < 0)
    return r;
  /* O_EXCL on a block device: not while it is mounted or claimed. */
  fd = open (path, O_WRONLY | O_EXCL | O_CLOEXEC);
  if (fd < 0)
    return cdp_set_error (-errno, errno == EBUSY ? "%s is in use (mounted, or "
                          "held by another program)" : "cannot open %s: %s",
                          path, strerror (errno));
  if ((r = check_device (fd, path, qcow2, size)) < 0) {
    close (fd);
    return r;
  }
  w = calloc (1, sizeof *w);
  if (w == NULL || (w->path = strdup (path)) == NULL) {
    free (w);
    close (fd);
    return cdp_set_error (-ENOMEM, "out of memory");
  }
  *w = (struct imgw) { .path = w->path, .qcow2 = qcow2, .size = size,
                       .fd = fd, .device = true,
                       .nbd_tool = { .pid = 0, .errfd = -1 } };
  if (qcow2) {
    /* qemu-img and qemu-nbd open it themselves (not exclusively). */
    close (w->fd);
    w->fd = -1;
    r = qemu_img_create (path, size, NULL);
    if (r == 0)
      r = start_qemu_nbd (w);
    if (r == 0)
      r = check_export (w);
  }
  if (r < 0) {
    release (w, false);
    return r;
  }
  *wp = w;
  return 0;
}

static int
check_range (struct imgw *w, uint64_t off, uint64_t len)
{
  uint64_t end;

  if (w->err)
    return w->err;
  if (__builtin_add_overflow (off, len, &end) || end > w->size)
    return cdp_set_error (-EINVAL, "range %" PRIu64 "+%" PRIu64 " past the "
                          "end of %s (%" PRIu64 " bytes)", off, len, w->path,
                          w->size);
  return 0;
}

int
imgw_write (struct imgw *w, const void *buf, uint64_t off, uint64_t len)
{
  int r = check_range (w, off, len);

  if (r == 0)
    r = w->qcow2 ? nbd_put (w, buf, off, len) : raw_write (w, buf, off, len);
  if (r < 0 && w->err == 0 && r != -EINVAL)
    w->err = r;
  return r;
}

int
imgw_raw_fd (const struct imgw *w)
{
  return w->qcow2 ? -1 : w->fd;
}

int
imgw_zero (struct imgw *w, uint64_t off, uint64_t len)
{
  int r = check_range (w, off, len);

  if (r == 0 && len > 0)
    r = w->qcow2 ? nbd_put (w, NULL, off, len) : raw_zero (w, off, len);
  if (r < 0 && w->err == 0 && r != -EINVAL)
    w->err = r;
  return r;
}

/* Free w; remove the file unless it is complete. */
static void
release (struct imgw *w, bool remove)
{
  struct cdp_saved_error saved;

  cdp_save_error (&saved);
  if (w->nbd)
    nbd_close (w->nbd);
  qemu_tool_kill (&w->nbd_tool);
  if (w->fd >= 0)
    close (w->fd);
  if (remove && !w->device)
    unlink (w->path);
  for (unsigned i = 0; i < IMGW_SLOTS; i++)
    free (w->slots[i].buf);
  free (w->path);
  free (w);
  cdp_restore_error (&saved);
}

static int
sync_file (struct imgw *w)
{
  if (w->fd < 0)
    return fsync_path (w->path, 0);
  if (fsync (w->fd) < 0)
    return cdp_set_error (-errno, "cannot sync %s: %s", w->path,
                          strerror (errno));
  return 0;
}

int
imgw_finish (struct imgw *w)
{
  int r = w->err;

  if (r == 0 && w->qcow2)
    r = stop_qemu_nbd (w);
  if (r == 0)
    r = sync_file (w);
  if (r == 0 && !w->device)
    r = fsync_dir_of (w->path);
  release (w, r < 0);
  return r;
}

void
imgw_abort (struct imgw *w)
{
  if (w)
    release (w, true);
}
