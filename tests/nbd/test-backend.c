/* A file-descriptor test backend for the NBD server; see test-backend.h. */
#include "tests/nbd/test-backend.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 4096

struct tb_disk {
  struct tb_config cfg;
  struct tb_stats stats;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  struct nbd_request *head, *tail;   /* I/O thread queue */
  bool stop;
  bool has_thread;
  pthread_t thread;
};

int
tb_memfd (uint64_t size)
{
  int fd = memfd_create ("nbd-test-disk", MFD_CLOEXEC);

  if (fd < 0)
    return -errno;
  if (ftruncate (fd, (off_t) size) < 0) {
    int r = -errno;
    close (fd);
    return r;
  }
  return fd;
}

static int
full_pread (int fd, char *buf, size_t count, uint64_t offset)
{
  while (count > 0) {
    ssize_t n = pread (fd, buf, count, (off_t) offset);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    if (n == 0) {               /* past the end of the file: zeroes */
      memset (buf, 0, count);
      return 0;
    }
    buf += n;
    count -= (size_t) n;
    offset += (uint64_t) n;
  }
  return 0;
}

static int
full_pwrite (int fd, const char *buf, size_t count, uint64_t offset)
{
  while (count > 0) {
    ssize_t n = pwrite (fd, buf, count, (off_t) offset);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    buf += n;
    count -= (size_t) n;
    offset += (uint64_t) n;
  }
  return 0;
}

static bool
is_zero (const char *p, size_t n)
{
  return n == 0 || (p[0] == 0 && memcmp (p, p + 1, n - 1) == 0);
}

/* Describe buf (the data at offset) block by block: zero or data. */
static int
describe_zeroes (const char *buf, uint32_t count, uint64_t offset,
                 struct nbd_extents *e)
{
  uint64_t pos = offset, end = offset + count;
  int r;

  while (pos < end) {
    uint64_t next = (pos / BLOCK + 1) * BLOCK;
    if (next > end)
      next = end;
    r = nbd_extents_add (e, pos, next - pos,
                         is_zero (buf + (pos - offset), next - pos)
                         ? NBD_STATE_HOLE | NBD_STATE_ZERO : 0);
    if (r < 0)
      return r;
    pos = next;
  }
  return 0;
}

static int
tb_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
          struct nbd_extents *e)
{
  struct tb_disk *d = handle;
  int r;

  d->stats.reads++;
  r = full_pread (d->cfg.fd, buf, count, offset);
  if (r == 0 && e)
    r = describe_zeroes (buf, count, offset, e);
  return r;
}

static int
tb_block_status (void *handle, uint32_t count, uint64_t offset,
                 struct nbd_extents *e)
{
  struct tb_disk *d = handle;
  uint64_t pos = offset, end = offset + count;
  off_t data, hole;
  int r = 0;

  while (pos < end && r == 0) {
    data = lseek (d->cfg.fd, (off_t) pos, SEEK_DATA);
    if (data < 0 || (uint64_t) data >= end)
      return nbd_extents_add (e, pos, end - pos,
                              NBD_STATE_HOLE | NBD_STATE_ZERO);
    if ((uint64_t) data > pos) {
      r = nbd_extents_add (e, pos, (uint64_t) data - pos,
                           NBD_STATE_HOLE | NBD_STATE_ZERO);
      pos = (uint64_t) data;
      continue;
    }
    hole = lseek (d->cfg.fd, (off_t) pos, SEEK_HOLE);
    if (hole < 0 || (uint64_t) hole > end)
      hole = (off_t) end;
    r = nbd_extents_add (e, pos, (uint64_t) hole - pos, 0);
    pos = (uint64_t) hole;
  }
  return r;
}

static int
write_zero_bytes (int fd, uint64_t count, uint64_t offset)
{
  static const char zero[65536];
  int r = 0;

  while (count > 0 && r == 0) {
    size_t n = count < sizeof zero ? (size_t) count : sizeof zero;
    r = full_pwrite (fd, zero, n, offset);
    count -= n;
    offset += n;
  }
  return r;
}

static int
do_zero (struct tb_disk *d, const struct nbd_request *req)
{
  int mode = req->flags & NBD_CMD_FLAG_NO_HOLE
    ? FALLOC_FL_ZERO_RANGE : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;

  if (req->flags & NBD_CMD_FLAG_NO_HOLE)
    d->stats.no_hole++;
  if ((req->flags & NBD_CMD_FLAG_FAST_ZERO) && d->cfg.no_fast_zero) {
    d->stats.fast_zero_refused++;
    return -ENOTSUP;
  }
  if (fallocate (d->cfg.fd, mode, (off_t) req->offset,
                 (off_t) req->count) == 0)
    return 0;
  if (req->flags & NBD_CMD_FLAG_FAST_ZERO) {
    d->stats.fast_zero_refused++;
    return -ENOTSUP;
  }
  return write_zero_bytes (d->cfg.fd, req->count, req->offset);
}

/* Carry out one asynchronous request; returns 0 or -errno. */
static int
execute (struct tb_disk *d, const struct nbd_request *req)
{
  int r = 0;

  switch (req->type) {
  case NBD_CMD_WRITE:
    d->stats.writes++;
    r = full_pwrite (d->cfg.fd, req->data, req->count, req->offset);
    break;
  case NBD_CMD_WRITE_ZEROES:
    d->stats.zeroes++;
    r = do_zero (d, req);
    break;
  case NBD_CMD_TRIM:
    d->stats.trims++;
    fallocate (d->cfg.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
               (off_t) req->offset, (off_t) req->count);
    break;                      /* advisory: failure is not an error */
  case NBD_CMD_FLUSH:
    d->stats.flushes++;
    break;
  }
  if (req->flags & NBD_CMD_FLAG_FUA)
    d->stats.fua++;
  if (r == 0 && (req->type == NBD_CMD_FLUSH ||
                 (req->flags & NBD_CMD_FLAG_FUA)))
    r = fdatasync (d->cfg.fd) < 0 && errno != EINVAL ? -errno : 0;
  return r;
}

static void *
io_thread (void *arg)
{
  struct tb_disk *d = arg;
  struct nbd_request *req;

  for (;;) {
    pthread_mutex_lock (&d->lock);
    while (d->head == NULL && !d->stop)
      pthread_cond_wait (&d->cond, &d->lock);
    req = d->head;
    if (req) {
      d->head = req->backend_data;
      if (d->head == NULL)
        d->tail = NULL;
    }
    pthread_mutex_unlock (&d->lock);
    if (req == NULL)
      return NULL;
    nbd_request_done (req, execute (d, req));
  }
}

static void
tb_submit (void *handle, struct nbd_request *req)
{
  struct tb_disk *d = handle;

  if (!d->cfg.async) {
    nbd_request_done (req, execute (d, req));
    return;
  }
  req->backend_data = NULL;
  pthread_mutex_lock (&d->lock);
  if (d->tail)
    d->tail->backend_data = req;
  else
    d->head = req;
  d->tail = req;
  pthread_cond_signal (&d->cond);
  pthread_mutex_unlock (&d->lock);
}

static int
find_export (const struct tb_config *c, const char *name)
{
  if (c->names[0] == NULL)
    return 0;
  for (int i = 0; i < TB_MAX_EXPORTS && c->names[i]; i++)
    if (strcmp (c->names[i], name) == 0)
      return i;
  return -ENOENT;
}

static int
tb_open (void *opaque, const char *name, void **handle,
         struct nbd_export_info *info)
{
  struct tb_disk *d = opaque;
  int i = find_export (&d->cfg, name);

  if (i < 0)
    return i;
  d->stats.opens++;
  *handle = d;
  *info = (struct nbd_export_info) {
    .size = d->cfg.size,
    .read_only = d->cfg.read_only,
    .can_trim = true, .can_zero = true, .can_fast_zero = true,
    .can_flush = true, .can_fua = true, .can_multi_conn = true,
    .min_block = d->cfg.min_block,
    .max_block = d->cfg.max_block,
    .description = d->cfg.names[0] ? d->cfg.descriptions[i] : NULL,
  };
  return 0;
}

static void
tb_close (void *handle)
{
  struct tb_disk *d = handle;

  d->stats.closes++;
}

static int
tb_list (void *opaque, struct nbd_export_list *l)
{
  struct tb_disk *d = opaque;
  int r = 0;

  if (d->cfg.names[0] == NULL)
    return nbd_export_list_add (l, "", NULL);
  for (int i = 0; i < TB_MAX_EXPORTS && d->cfg.names[i] && r == 0; i++)
    r = nbd_export_list_add (l, d->cfg.names[i], d->cfg.descriptions[i]);
  return r;
}

const struct nbd_backend_ops tb_ops = {
  .open = tb_open,
  .close = tb_close,
  .list = tb_list,
  .pread = tb_pread,
  .block_status = tb_block_status,
  .write = tb_submit,
  .zero = tb_submit,
  .trim = tb_submit,
  .flush = tb_submit,
};

int
tb_new (const struct tb_config *cfg, struct tb_disk **dp)
{
  struct tb_disk *d = calloc (1, sizeof *d);
  struct stat st;

  if (d == NULL)
    return -ENOMEM;
  d->cfg = *cfg;
  if (d->cfg.size == 0 && fstat (cfg->fd, &st) == 0)
    d->cfg.size = (uint64_t) st.st_size;
  pthread_mutex_init (&d->lock, NULL);
  pthread_cond_init (&d->cond, NULL);
  if (cfg->async && pthread_create (&d->thread, NULL, io_thread, d) != 0) {
    free (d);
    return -EAGAIN;
  }
  d->has_thread = cfg->async;
  *dp = d;
  return 0;
}

void
tb_free (struct tb_disk *d)
{
  if (d == NULL)
    return;
  if (d->has_thread) {
    pthread_mutex_lock (&d->lock);
    d->stop = true;
    pthread_cond_signal (&d->cond);
    pthread_mutex_unlock (&d->lock);
    pthread_join (d->thread, NULL);
  }
  close (d->cfg.fd);
  pthread_cond_destroy (&d->cond);
  pthread_mutex_destroy (&d->lock);
  free (d);
}

struct tb_stats *
tb_stats (struct tb_disk *d)
{
  return &d->stats;
}

int
tb_fd (struct tb_disk *d)
{
  return d->cfg.fd;
}
