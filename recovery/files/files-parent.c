/* cdp recovery, file-level browse: the parent side (the API of files.h).
 *
 * It forks the sandboxed child, sends it one request at a time, and
 * serves the child's reads of the disk while the answer streams back.
 * Nothing the child says is trusted: every read it asks for must lie
 * inside the disk and be at most FM_MAX_PREAD bytes, every message must
 * have the length its type implies, names and targets are bounded and
 * free of NUL bytes, the extents of a file must lie inside the disk and
 * add up to the file's size, and a child silent for CHILD_TIMEOUT_MS is
 * killed.  After anything unexpected the child is killed and f is dead:
 * every later call fails.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "recovery/files/files-internal.h"

#define CHILD_TIMEOUT_MS 60000
#define COPY_CHUNK (4u << 20)
#define MAX_LIST (16u << 20)          /* entries of one directory */

struct files {
  int sock;
  pid_t pid;
  bool dead;
  uint64_t size;
  files_pread_fn pread;
  void *h;
  void *buf;                        /* received messages */
  size_t cap;
  uint8_t *copy;                    /* file data on its way */
  char msg[1024];
  struct files_volume vol;
};

static int __attribute__ ((format (printf, 3, 4)))
say (struct files *f, int err, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (f->msg, sizeof f->msg, fmt, ap);
  va_end (ap);
  return err;
}

/* ---- the child's life -------------------------------------------------------- */

static void
child_failed_start (int sock, int err)
{
  struct fm_done d = { .err = err };
  char msg[128];
  int n = snprintf (msg, sizeof msg, "cannot sandbox the file system reader: %s",
                    strerror (-err));

  fm_send (sock, FM_DONE, &d, sizeof d, msg, (size_t) n);
  _exit (1);
}

int
files_start (struct files **fp)
{
  struct files *f = calloc (1, sizeof *f);
  int sv[2], r;

  if (f == NULL)
    return -ENOMEM;
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    free (f);
    return -errno;
  }
  fflush (NULL);
  f->pid = fork ();
  if (f->pid == 0) {
    close (sv[0]);
    if ((r = files_sandbox_enter (sv[1])) < 0)
      child_failed_start (sv[1], r);
    _exit (files_child_main (3));   /* _exit: no atexit work in the sandbox */
  }
  r = -errno;
  close (sv[1]);
  if (f->pid < 0) {
    close (sv[0]);
    free (f);
    return r;
  }
  f->sock = sv[0];
  *fp = f;
  return 0;
}

/* Kill the child (if not gone) and say how it ended, unless a message
 * was already set. */
static int
kill_child (struct files *f, int err, const char *why)
{
  int status = 0;
  bool signalled = false;

  if (f->pid > 0) {
    /* The socket ends only when the child does: it cannot close it
     * (seccomp), so after end of file waiting for it is safe. */
    if (err == -EPIPE || waitpid (f->pid, &status, WNOHANG) != 0) {
      waitpid (f->pid, &status, 0);
      signalled = WIFSIGNALED (status);
    }
    else {
      kill (f->pid, SIGKILL);
      waitpid (f->pid, &status, 0);
    }
    if (signalled && !f->msg[0] && WTERMSIG (status) == SIGSYS)
      say (f, 0, "the file system reader died: its sandbox stopped a system "
           "call it does not allow (the file system is damaged or hostile, "
           "or a sanitizer in this build reported an error)");
    else if (signalled && !f->msg[0])
      say (f, 0, "the file system reader died (signal %d, %s): the file "
           "system is damaged or hostile", WTERMSIG (status),
           strsignal (WTERMSIG (status)));
    f->pid = 0;
  }
  if (!f->msg[0])
    say (f, 0, "the file system reader %s", why);
  f->dead = true;
  return err;
}

void
files_stop (struct files *f)
{
  if (f == NULL)
    return;
  close (f->sock);
  if (f->pid > 0)
    waitpid (f->pid, NULL, 0);     /* it ends on end of file */
  free (f->buf);
  free (f->copy);
  free (f);
}

const char *
files_error (const struct files *f)
{
  return f->msg;
}

int
files_pid (const struct files *f)
{
  return f->pid;
}

const struct files_volume *
files_unsupported (const struct files *f)
{
  return &f->vol;
}

/* ---- messages -------------------------------------------------------------------- */

static int
recv_msg (struct files *f, struct fmsg *m)
{
  struct pollfd p = { .fd = f->sock, .events = POLLIN };
  int r;

  do
    r = poll (&p, 1, CHILD_TIMEOUT_MS);
  while (r < 0 && errno == EINTR);
  if (r == 0)
    return kill_child (f, -ETIMEDOUT, "stopped answering and was killed");
  r = fm_recv (f->sock, m, &f->buf, &f->cap);
  if (r == -EPROTO)
    return kill_child (f, -EPROTO, "sent a malformed message");
  if (r < 0) {
    kill_child (f, -EPIPE, "ended unexpectedly");
    return -EPROTO;
  }
  return 0;
}

static int
serve_pread (struct files *f, const struct fmsg *m)
{
  struct { uint64_t off; uint32_t len; } __attribute__ ((packed)) q;
  int32_t err = 0;
  int r;

  if (m->len != sizeof q)
    return kill_child (f, -EPROTO, "sent a malformed read request");
  memcpy (&q, f->buf, sizeof q);
  if (q.len > FM_MAX_PREAD || q.off > f->size || q.len > f->size - q.off)
    return kill_child (f, -EPROTO, "asked for a read outside the disk");
  if (f->copy == NULL && (f->copy = malloc (COPY_CHUNK)) == NULL)
    return -ENOMEM;
  if ((err = f->pread (f->h, f->copy, q.off, q.len)) < 0) {
    say (f, 0, "cannot read the disk at offset %llu: %s",
         (unsigned long long) q.off, strerror (-err));
    r = fm_send (f->sock, FM_DATA, &err, sizeof err, NULL, 0);
  }
  else
    r = fm_send (f->sock, FM_DATA, &err, sizeof err, f->copy, q.len);
  return r < 0 ? kill_child (f, -EPROTO, "ended unexpectedly") : 0;
}

/* A received FM_ENTRY as a files_entry pointing into f->buf (names end
 * with a NUL we place there). */
static int
parse_entry (struct files *f, const struct fmsg *m, struct files_entry *e,
             uint32_t *flags)
{
  struct fm_entry w;
  char *p = (char *) f->buf + sizeof w;
  static char target[4097];

  if (m->len < sizeof w)
    return kill_child (f, -EPROTO, "sent a malformed entry");
  memcpy (&w, f->buf, sizeof w);
  if (w.name_len > 4096 || w.target_len > 4096 ||
      (size_t) m->len != sizeof w + w.name_len + w.target_len ||
      memchr (p, 0, w.name_len + w.target_len) ||
      (w.target_len > 0) != S_ISLNK (w.mode))
    return kill_child (f, -EPROTO, "sent a malformed entry");
  memcpy (target, p + w.name_len, w.target_len);
  target[w.target_len] = 0;
  memmove (f->buf, p, w.name_len);
  ((char *) f->buf)[w.name_len] = 0;
  *e = (struct files_entry) {
    .name = f->buf, .target = w.target_len ? target : NULL, .ino = w.ino,
    .size = w.size, .atime_ns = w.atime_ns, .mtime_ns = w.mtime_ns,
    .ctime_ns = w.ctime_ns, .mode = w.mode, .uid = w.uid, .gid = w.gid,
    .nlink = w.nlink,
  };
  memcpy (e->fs, w.fs, sizeof e->fs);
  e->fs[sizeof e->fs - 1] = 0;
  *flags = w.flags;
  return 0;
}

static int
parse_done (struct files *f, const struct fmsg *m)
{
  struct fm_done d;
  const char *p = (const char *) f->buf + sizeof d;

  if (m->len < sizeof d)
    return kill_child (f, -EPROTO, "sent a malformed answer");
  memcpy (&d, f->buf, sizeof d);
  if (d.err > 0 || d.err < -4095 || d.rest_len >= sizeof f->vol.rest ||
      d.rest_len > m->len - sizeof d)
    return kill_child (f, -EPROTO, "sent a malformed answer");
  if (d.err == -ENOTSUP) {
    f->vol = (struct files_volume) { .part = d.part, .off = d.off, .size = d.size };
    memcpy (f->vol.fs, d.fs, sizeof f->vol.fs);
    f->vol.fs[sizeof f->vol.fs - 1] = 0;
    memcpy (f->vol.rest, p, d.rest_len);
    f->vol.rest[d.rest_len] = 0;
    if (f->vol.off > f->size || f->vol.size > f->size - f->vol.off)
      return kill_child (f, -EPROTO, "sent a malformed answer");
  }
  if (d.err < 0 && !f->msg[0])
    say (f, 0, "%.*s", (int) (m->len - sizeof d - d.rest_len), p + d.rest_len);
  return d.err;
}

/* ---- one request ------------------------------------------------------------------- */

struct handler {
  int (*entry) (void *o, const struct files_entry *e, uint32_t flags);
  int (*leave) (void *o);
  void *o;                          /* of entry and leave */
  const struct files_sink *sink;
  void *so;                         /* of sink and file_end */
  int (*file_end) (void *so, const struct files_entry *e);
  /* the file whose data is coming: bytes still expected, the offset
   * of the next, and the range [lo, hi) of them that sink wants */
  bool in_file;
  uint64_t left, pos;
  uint64_t lo, hi;
};

/* The next len bytes of the file are coming: after skip of them, n are
 * in the range.  They are counted as come. */
static int
take (struct files *f, struct handler *h, uint64_t len, uint64_t *skip, uint64_t *n)
{
  uint64_t a, b;

  if (!h->in_file || len > h->left)
    return kill_child (f, -EPROTO, "sent more data than the file holds");
  a = h->pos > h->lo ? h->pos : h->lo;   /* pos + left <= size <= INT64_MAX */
  b = h->pos + len < h->hi ? h->pos + len : h->hi;
  *skip = a - h->pos;
  *n = a < b ? b - a : 0;
  if (*n == 0)
    *skip = 0;
  h->left -= len;
  h->pos += len;
  return 0;
}

static int
give_bytes (struct files *f, struct handler *h, const void *buf, uint64_t len)
{
  uint64_t skip, n;
  int r = take (f, h, len, &skip, &n);

  if (r < 0 || n == 0)
    return r;
  return h->sink->data (h->so, (const char *) buf + skip, n);
}

static int
copy_extent (struct files *f, struct handler *h, const struct fmsg *m)
{
  uint64_t q[2], skip, n;
  int r = 0;

  if (m->len != sizeof q)
    return kill_child (f, -EPROTO, "sent a malformed extent");
  memcpy (q, f->buf, sizeof q);
  if (q[0] > f->size || q[1] > f->size - q[0])
    return kill_child (f, -EPROTO, "named file data outside the disk");
  if ((r = take (f, h, q[1], &skip, &n)) < 0)
    return r;
  if (n && f->copy == NULL && (f->copy = malloc (COPY_CHUNK)) == NULL)
    return -ENOMEM;
  for (uint64_t at = q[0] + skip, end = at + n; r == 0 && at < end;) {
    uint64_t c = end - at < COPY_CHUNK ? end - at : COPY_CHUNK;
    if ((r = f->pread (f->h, f->copy, at, c)) < 0)
      return say (f, r, "cannot read the disk at offset %llu: %s",
                  (unsigned long long) at, strerror (-r));
    r = h->sink->data (h->so, f->copy, c);
    at += c;
  }
  return r;
}

static int
give_zero (struct files *f, struct handler *h, const struct fmsg *m)
{
  uint64_t len, skip, n;
  int r = 0;

  if (m->len != sizeof len)
    return kill_child (f, -EPROTO, "sent a malformed hole");
  memcpy (&len, f->buf, sizeof len);
  if ((r = take (f, h, len, &skip, &n)) < 0 || n == 0)
    return r;
  if (h->sink->hole)
    return h->sink->hole (h->so, n);
  if (f->copy == NULL && (f->copy = malloc (COPY_CHUNK)) == NULL)
    return -ENOMEM;
  memset (f->copy, 0, n < COPY_CHUNK ? n : COPY_CHUNK);
  for (uint64_t at = 0; r == 0 && at < n;) {
    uint64_t c = n - at < COPY_CHUNK ? n - at : COPY_CHUNK;
    r = h->sink->data (h->so, f->copy, c);
    at += c;
  }
  return r;
}

/* A file's data ended (the next message is not data). */
static int
end_file (struct files *f, struct handler *h)
{
  if (!h->in_file)
    return 0;
  if (h->left)
    return kill_child (f, -EPROTO, "sent less data than the file holds");
  h->in_file = false;
  return h->file_end ? h->file_end (h->so, NULL) : 0;
}

static int
on_entry (struct files *f, struct handler *h, const struct fmsg *m)
{
  struct files_entry e;
  uint32_t flags = 0;
  int r = parse_entry (f, m, &e, &flags);

  if (r == 0 && h->entry == NULL)
    r = kill_child (f, -EPROTO, "sent an entry out of place");
  if (r == 0 && (r = h->entry (h->o, &e, flags)) == 0 && S_ISREG (e.mode) &&
      h->sink && !(flags & FE_HARDLINK)) {
    if (e.size > (uint64_t) INT64_MAX)
      return kill_child (f, -EPROTO, "gave a file larger than any can be");
    h->in_file = true;
    h->left = e.size;
    h->pos = 0;
  }
  return r;
}

static int
dispatch (struct files *f, struct handler *h, const struct fmsg *m)
{
  bool data = m->type == FM_EXTENT || m->type == FM_ZERO || m->type == FM_BYTES;
  int r;

  if (!data && m->type != FM_PREAD && (r = end_file (f, h)) < 0)
    return r;
  switch (m->type) {
  case FM_PREAD: return serve_pread (f, m);
  case FM_ENTRY: return on_entry (f, h, m);
  case FM_LEAVE:
    return h->leave ? h->leave (h->o) : kill_child (f, -EPROTO, "sent a leave out of place");
  case FM_EXTENT: return copy_extent (f, h, m);
  case FM_ZERO: return give_zero (f, h, m);
  case FM_BYTES: return give_bytes (f, h, f->buf, m->len);
  }
  return kill_child (f, -EPROTO, "sent an unknown message");
}

/* The caller's side failed in the middle of an answer (a sink's write,
 * a cancel): there is no way to resume, so the child is killed, never
 * waited for (an -EPIPE of the caller's own output says nothing of the
 * child, which waits for its next request). */
static void
stop_child (struct files *f)
{
  if (!f->dead)
    kill_child (f, -ECANCELED, "was stopped");
}

/* Send request (type, a, b) and handle what comes back until DONE. */
static int
run (struct files *f, uint32_t type, const void *a, size_t alen,
     const char *path, struct handler *h)
{
  struct fmsg m;
  int r, done;

  f->msg[0] = 0;
  if (f->dead)
    return say (f, -EPROTO, "the file system reader is gone");
  if (path && strlen (path) >= 4096)
    return say (f, -ENAMETOOLONG, "the path is too long");
  fm_send (f->sock, type, a, alen, path, path ? strlen (path) + 1 : 0);
  while ((r = recv_msg (f, &m)) == 0 && m.type != FM_DONE)
    if ((r = dispatch (f, h, &m)) < 0) {
      stop_child (f);
      return r;
    }
  if (r < 0)
    return r;
  done = parse_done (f, &m);
  /* The reader's own error (a damaged inode, an unreadable block) may
   * cut a file short: that error is the answer, not a broken protocol. */
  if (done < 0 && h->in_file) {
    h->in_file = false;
    return done;
  }
  if ((r = end_file (f, h)) < 0) {
    stop_child (f);
    return r;
  }
  return done;
}

int
files_attach (struct files *f, uint64_t size, files_pread_fn pread, void *h)
{
  struct handler none = { 0 };

  f->size = size;
  f->pread = pread;
  f->h = h;
  return run (f, FM_OPEN, &size, sizeof size, NULL, &none);
}

/* ---- the operations ----------------------------------------------------------------- */

static int
copy_entry (const struct files_entry *e, struct files_entry *out)
{
  *out = *e;
  out->name = strdup (e->name);
  out->target = e->target ? strdup (e->target) : NULL;
  if (out->name == NULL || (e->target && out->target == NULL)) {
    files_entry_clear (out);
    return -ENOMEM;
  }
  return 0;
}

struct one {
  struct files_entry *e;
  int n;
};

static int
take_one (void *o, const struct files_entry *e, uint32_t flags)
{
  struct one *one = o;

  if (one->n++ > 0)
    return -EPROTO;
  return one->e ? copy_entry (e, one->e) : 0;
}

int
files_stat (struct files *f, const char *path, bool follow, struct files_entry *e)
{
  uint32_t fl = follow;
  struct one one = { e, 0 };
  struct handler h = { .entry = take_one, .o = &one };
  int r = run (f, FM_STAT, &fl, sizeof fl, path, &h);

  if (r == 0 && one.n != 1)
    r = kill_child (f, -EPROTO, "gave no entry");
  return r;
}

static int
take_all (void *o, const struct files_entry *e, uint32_t flags)
{
  files_entry_vector *v = o;
  struct files_entry c;
  int r;

  if (v->len >= MAX_LIST)
    return -EFBIG;
  if ((r = copy_entry (e, &c)) == 0 && (r = files_entry_vector_append (v, c)) < 0)
    files_entry_clear (&c);
  return r;
}

int
files_list (struct files *f, const char *path, files_entry_vector *v)
{
  struct handler h = { .entry = take_all, .o = v };

  return run (f, FM_LIST, NULL, 0, path, &h);
}

int
files_read (struct files *f, const char *path, const struct files_sink *sink,
            void *o, struct files_entry *e)
{
  return files_read_range (f, path, 0, UINT64_MAX, sink, o, e);
}

int
files_read_range (struct files *f, const char *path, uint64_t off, uint64_t len,
                  const struct files_sink *sink, void *o, struct files_entry *e)
{
  struct files_entry tmp = { 0 };
  struct one one = { e ? e : &tmp, 0 };
  struct handler h = { .entry = take_one, .o = &one, .sink = sink, .so = o,
                       .lo = off, .hi = len < UINT64_MAX - off ? off + len : UINT64_MAX };
  int r = run (f, FM_READ, NULL, 0, path, &h);

  if (r == 0 && one.n != 1)
    r = kill_child (f, -EPROTO, "gave no entry");
  files_entry_clear (&tmp);
  return r;
}

/* Walk: the entries go to ops, checked for names that are safe to
 * create, and for directories entered and left in pairs. */
struct walker {
  struct files *f;
  const struct files_walk_ops *ops;
  void *o;
  unsigned depth;                   /* entered and not left */
  bool top;                         /* the first entry came */
};

static int
walk_entry (void *o, const struct files_entry *e, uint32_t flags)
{
  struct walker *w = o;
  bool top = !w->top;
  int r;

  w->top = true;
  if (!top && w->depth == 0)
    return kill_child (w->f, -EPROTO, "sent an entry after the end of the walk");
  if (!top && !files_name_safe (e->name))
    return say (w->f, -EPERM, "refused to write a file named '%s': not a plain "
                "name (the file system is damaged or hostile)", e->name);
  if (S_ISDIR (e->mode)) {
    w->depth++;
    r = w->ops->enter (w->o, e);
  }
  else if (S_ISREG (e->mode))
    r = flags & FE_HARDLINK ? w->ops->hardlink (w->o, e) : w->ops->file (w->o, e);
  else if (S_ISLNK (e->mode))
    r = w->ops->symlink (w->o, e);
  else
    r = w->ops->special (w->o, e);
  return r;
}

static int
walk_leave (void *o)
{
  struct walker *w = o;

  if (w->depth == 0)
    return kill_child (w->f, -EPROTO, "left a directory it did not enter");
  w->depth--;
  return w->ops->leave (w->o, NULL);
}

int
files_walk (struct files *f, const char *path, const struct files_walk_ops *ops,
            void *o)
{
  struct walker w = { .f = f, .ops = ops, .o = o };
  struct handler h = { .entry = walk_entry, .leave = walk_leave, .o = &w,
                       .sink = &ops->sink, .so = o, .file_end = ops->file_end,
                       .hi = UINT64_MAX };
  int r = run (f, FM_WALK, NULL, 0, path, &h);

  if (r == 0 && (!w.top || w.depth != 0))
    r = kill_child (f, -EPROTO, "ended the walk in the middle");
  return r;
}

/* ---- entries ------------------------------------------------------------------------ */

void
files_entry_clear (struct files_entry *e)
{
  free (e->name);
  free (e->target);
  e->name = e->target = NULL;
}

void
files_entry_vector_clear (files_entry_vector *v)
{
  for (size_t i = 0; i < v->len; i++)
    files_entry_clear (&v->ptr[i]);
  files_entry_vector_reset (v);
}

void
files_mode_string (uint32_t mode, char buf[11])
{
  static const char rwx[] = "rwxrwxrwx";
  char t = S_ISDIR (mode) ? 'd' : S_ISLNK (mode) ? 'l' : S_ISCHR (mode) ? 'c'
         : S_ISBLK (mode) ? 'b' : S_ISFIFO (mode) ? 'p' : S_ISSOCK (mode) ? 's'
         : S_ISREG (mode) ? '-' : '?';

  buf[0] = t;
  for (int i = 0; i < 9; i++)
    buf[1 + i] = mode & (0400u >> i) ? rwx[i] : '-';
  if (mode & S_ISUID)
    buf[3] = mode & S_IXUSR ? 's' : 'S';
  if (mode & S_ISGID)
    buf[6] = mode & S_IXGRP ? 's' : 'S';
  if (mode & S_ISVTX)
    buf[9] = mode & S_IXOTH ? 't' : 'T';
  buf[10] = 0;
}

const char *
files_type_name (uint32_t mode)
{
  return S_ISREG (mode) ? "file" : S_ISDIR (mode) ? "dir" : S_ISLNK (mode) ? "symlink"
       : S_ISCHR (mode) ? "chardev" : S_ISBLK (mode) ? "blockdev"
       : S_ISFIFO (mode) ? "fifo" : S_ISSOCK (mode) ? "socket" : "unknown";
}

bool
files_name_safe (const char *name)
{
  return name[0] && strcmp (name, ".") != 0 && strcmp (name, "..") != 0 &&
         strchr (name, '/') == NULL && strlen (name) <= 255;
}
