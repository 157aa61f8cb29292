/* libFuzzer entry for the NBD server: the input is everything a client
 * sends in one session (client flags, options, requests, payloads).  It
 * is written into one end of a socketpair while nbd_server_serve_fd
 * serves the other end, and the replies are read and dropped, so the
 * handshake, the request parser, the workers and the writer all run as
 * they do for a real client.
 *
 * The backend is a 1 MiB disk in memory with exports "" (writable),
 * "ro" (read-only) and "b512" (512-byte minimum, 64 KiB maximum block,
 * no fast zero), so inputs reach every validation path.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nbd-export/nbd-server.h"

#define DISK_SIZE (1 << 20)
#define BLOCK 4096

static char disk[DISK_SIZE];
static pthread_mutex_t disk_lock = PTHREAD_MUTEX_INITIALIZER;

static int
f_open (void *opaque, const char *name, void **handle,
        struct nbd_export_info *info)
{
  bool ro = strcmp (name, "ro") == 0, b512 = strcmp (name, "b512") == 0;

  if (*name && !ro && !b512)
    return -ENOENT;
  *handle = NULL;
  *info = (struct nbd_export_info) {
    .size = DISK_SIZE, .read_only = ro,
    .can_trim = true, .can_zero = true, .can_fast_zero = !b512,
    .can_flush = true, .can_fua = !ro, .can_multi_conn = true,
    .min_block = b512 ? 512 : 0, .max_block = b512 ? 65536 : 0,
    .description = ro ? "read-only" : NULL,
  };
  return 0;
}

static int
f_list (void *opaque, struct nbd_export_list *l)
{
  int r = nbd_export_list_add (l, "", NULL);

  if (r == 0)
    r = nbd_export_list_add (l, "ro", "read-only");
  if (r == 0)
    r = nbd_export_list_add (l, "b512", NULL);
  return r;
}

static bool
is_zero (const char *p, size_t n)
{
  return n == 0 || (p[0] == 0 && memcmp (p, p + 1, n - 1) == 0);
}

static int
describe (uint32_t count, uint64_t offset, struct nbd_extents *e)
{
  uint64_t pos = offset, end = offset + count;
  int r = 0;

  while (pos < end && r == 0) {
    uint64_t next = (pos / BLOCK + 1) * BLOCK;
    if (next > end)
      next = end;
    r = nbd_extents_add (e, pos, next - pos,
                         is_zero (disk + pos, next - pos)
                         ? NBD_STATE_HOLE | NBD_STATE_ZERO : 0);
    pos = next;
  }
  return r;
}

static int
f_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
         struct nbd_extents *e)
{
  int r = 0;

  pthread_mutex_lock (&disk_lock);
  memcpy (buf, disk + offset, count);
  if (e)
    r = describe (count, offset, e);
  pthread_mutex_unlock (&disk_lock);
  return r;
}

static int
f_block_status (void *handle, uint32_t count, uint64_t offset,
                struct nbd_extents *e)
{
  int r;

  pthread_mutex_lock (&disk_lock);
  r = describe (count, offset, e);
  pthread_mutex_unlock (&disk_lock);
  return r;
}

static void
f_write (void *handle, struct nbd_request *req)
{
  int err = 0;

  pthread_mutex_lock (&disk_lock);
  switch (req->type) {
  case NBD_CMD_WRITE:
    memcpy (disk + req->offset, req->data, req->count);
    break;
  case NBD_CMD_WRITE_ZEROES:
    if ((req->flags & NBD_CMD_FLAG_FAST_ZERO) && (req->offset & BLOCK))
      err = -ENOTSUP;
    else
      memset (disk + req->offset, 0, req->count);
    break;
  case NBD_CMD_TRIM:
    memset (disk + req->offset, 0, req->count);
    break;
  }
  pthread_mutex_unlock (&disk_lock);
  nbd_request_done (req, err);
}

static const struct nbd_backend_ops ops = {
  .open = f_open, .list = f_list, .pread = f_pread,
  .block_status = f_block_status,
  .write = f_write, .zero = f_write, .trim = f_write, .flush = f_write,
};

struct feed {
  int fd;
  const uint8_t *data;
  size_t size;
};

/* Send the client's bytes, then end the client's side of the stream. */
static void *
feeder (void *arg)
{
  struct feed *f = arg;
  size_t done = 0;

  while (done < f->size) {
    ssize_t n = send (f->fd, f->data + done, f->size - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;                    /* the server hung up */
    done += (size_t) n;
  }
  shutdown (f->fd, SHUT_WR);
  return NULL;
}

/* Read and drop replies until the server closes. */
static void *
drainer (void *arg)
{
  struct feed *f = arg;
  char buf[65536];

  while (recv (f->fd, buf, sizeof buf, 0) > 0)
    ;
  return NULL;
}

/* NBD_FUZZ_LOG=1 shows what the server makes of an input. */
static void
log_stderr (void *opaque, enum nbd_log_level level, const char *msg)
{
  fprintf (stderr, "nbd-fuzz: %d: %s\n", (int) level, msg);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static struct nbd_server *srv;
  struct feed f = { .data = data, .size = size };
  pthread_t t1, t2;
  int sv[2];

  if (srv == NULL) {
    if (nbd_server_new (&ops, NULL, &srv) < 0)
      abort ();
    if (getenv ("NBD_FUZZ_LOG"))
      nbd_server_set_log (srv, log_stderr, NULL);
  }
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    abort ();
  f.fd = sv[1];
  pthread_create (&t1, NULL, feeder, &f);
  pthread_create (&t2, NULL, drainer, &f);
  nbd_server_serve_fd (srv, sv[0]);
  pthread_join (t1, NULL);
  pthread_join (t2, NULL);
  close (sv[1]);
  return 0;
}
