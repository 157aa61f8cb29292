/* cdp: the control socket of a served task (TASK/run/control.sock).
 *
 * Commands that must go through the daemon — it owns the journal's
 * writer and the base points — send one JSON object on one line and read
 * one JSON reply line:
 *   {"op":"mark","label":L}  -> {"ok":true,"seq":N,"time_ns":T}
 *   {"op":"fold"}            -> {"ok":true}  (base points of every disk now)
 *   {"op":"release"}         -> {"ok":true}  (serve lets the task go: its
 *                               receiver closes, its jobs end, serve.lock
 *                               is released; `task delete` waits for that)
 *   {"op":"reload"}          -> {"ok":true}  (serve reads the policies in
 *                               task.json again and runs by them from now
 *                               on: `task set`)
 *   {"op":"resize","disk":D,"size":N}
 *                            -> {"ok":true,"old_size":N,"seq":N} (the
 *                               protector resizes the disk: `cdp resize`)
 *   {"op":"detach","disk":D} -> {"ok":true} (the protector ends the copy
 *                               and detaches the disk: `cdp detach`)
 * errors: {"ok":false,"error":"..."}.  The socket is mode 0600: root only.
 */
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/daemon/daemon.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"

struct control {
  struct task *t;
  struct receiver *rx;
  struct maint *m;
  int fd;
  char *path;
  pthread_t thread;
  volatile bool stop;
  void (*on_release) (void *);
  void *release_opaque;
  control_disk_fn on_disk;
  void *disk_opaque;
  pthread_mutex_t reload_lock;      /* one reload at a time */
};

static int
sock_addr (const struct task *t, struct sockaddr_un *sa)
{
  char *path = task_path (t, "run/control.sock");
  size_t n;

  if (path == NULL)
    return -ENOMEM;
  n = strlen (path);
  memset (sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  if (n >= sizeof sa->sun_path) {
    free (path);
    return -ENAMETOOLONG;
  }
  memcpy (sa->sun_path, path, n + 1);
  free (path);
  return 0;
}

static json_object *
do_mark (struct control *c, json_object *req)
{
  json_object *rep = json_object_new_object ();
  const char *label = json_object_get_string (json_object_object_get (req, "label"));
  int e = receiver_event (c->rx, JOURNAL_BOOKMARK, UINT32_MAX,
                          label ? label : "", 0);

  jf_add (rep, "ok", json_object_new_boolean (e == 0));
  if (e < 0)
    jf_add (rep, "error", json_object_new_string (strerror (-e)));
  else
    jf_add (rep, "seq", json_object_new_int64 (
        (int64_t) journal_last_seq (receiver_journal (c->rx))));
  return rep;
}

static json_object *
reply_error (const char *fmt, ...)
{
  json_object *rep = json_object_new_object ();
  char msg[512];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  jf_add (rep, "ok", json_object_new_boolean (false));
  jf_add (rep, "error", json_object_new_string (msg));
  return rep;
}

/* Are the policies task set changes the same in a and b? */
static bool
same_policies (const struct task_policy *a, const struct task_policy *b)
{
  return a->bp_interval == b->bp_interval &&
         a->journal_retention == b->journal_retention &&
         a->bp_retention == b->bp_retention && a->max_chain == b->max_chain &&
         a->verify_interval == b->verify_interval && a->rpo == b->rpo;
}

/* The archive (task.json "archive") to its archiver. */
static int
reload_archive (struct control *c, char *why, size_t len)
{
  struct task_archive a;
  int e = task_archive_load (c->t, &a);

  if (e < 0) {
    snprintf (why, len, "cannot read %s/task.json: %s", c->t->dir,
              jf_strerror (e));
    return e;
  }
  if ((e = maint_archive_changed (c->m, &a)) < 0)
    snprintf (why, len, "cannot start archiving into %s: %s", a.location,
              strerror (-e));
  task_archive_free (&a);
  return e;
}

/* The receiver goes on with the new RPO (no gap, no new copy);
 * maintenance and the background check read the new values at their
 * next look (task_policy). */
static int
reload (struct control *c, char *why, size_t len)
{
  struct task_policy p, now = task_policy (c->t);
  char a[32], b[32], d[32], v[32], rpo[32];
  int e = task_policy_load (c->t, &p);

  if (e < 0) {
    snprintf (why, len, "cannot read %s/task.json: %s", c->t->dir,
              jf_strerror (e));
    return e;
  }
  if (same_policies (&p, &now))
    return reload_archive (c, why, len);
  policy_format_rpo (p.rpo, rpo, sizeof rpo);
  /* The receiver first: if it cannot take the RPO, nothing changes. */
  if ((e = receiver_set_rpo (c->rx, p.rpo)) < 0) {
    snprintf (why, len, "the receiver cannot take RPO %s: %s", rpo,
              strerror (-e));
    return e;
  }
  task_policy_set (c->t, &p);
  maint_policy_changed (c->m);
  format_duration (p.bp_interval, a, sizeof a);
  format_duration (p.journal_retention, b, sizeof b);
  format_duration (p.bp_retention, d, sizeof d);
  format_duration (p.verify_interval, v, sizeof v);
  log_msg ("task %s: policies read again (task set): rpo %s, base points "
           "every %s, journal %s, base points %s, chain <= %u, verified "
           "every %s", c->t->name, rpo, a, b, d, p.max_chain, v);
  return reload_archive (c, why, len);
}

int
control_reload (struct control *c, char *why, size_t len)
{
  int e;

  pthread_mutex_lock (&c->reload_lock);
  e = reload (c, why, len);
  pthread_mutex_unlock (&c->reload_lock);
  return e;
}

static json_object *
do_reload (struct control *c)
{
  json_object *rep;
  char why[512];

  if (control_reload (c, why, sizeof why) < 0)
    return reply_error ("%s", why);
  rep = json_object_new_object ();
  jf_add (rep, "ok", json_object_new_boolean (true));
  return rep;
}

/* cdp resize and cdp detach: the protector does it. */
static json_object *
do_disk (struct control *c, const char *op, json_object *req)
{
  json_object *v, *rep;
  const char *disk = json_object_object_get_ex (req, "disk", &v) &&
                     json_object_is_type (v, json_type_string)
                     ? json_object_get_string (v) : NULL;
  int64_t size = json_object_object_get_ex (req, "size", &v) &&
                 json_object_is_type (v, json_type_int)
                 ? json_object_get_int64 (v) : 0;
  uint64_t old = 0, seq = 0;
  char msg[512] = "";

  if (c->on_disk == NULL)
    return reply_error ("this cdp serve cannot %s disks", op);
  if (disk == NULL || (strcmp (op, "resize") == 0 && size <= 0))
    return reply_error ("%s needs a disk%s", op,
                        strcmp (op, "resize") == 0 ? " and a size" : "");
  if (c->on_disk (c->disk_opaque, op, disk, (uint64_t) size, msg, sizeof msg,
                  &old, &seq) < 0)
    return reply_error ("%s", msg);
  rep = json_object_new_object ();
  jf_add (rep, "ok", json_object_new_boolean (true));
  if (strcmp (op, "resize") == 0) {
    jf_add (rep, "old_size", json_object_new_int64 ((int64_t) old));
    jf_add (rep, "seq", json_object_new_int64 ((int64_t) seq));
  }
  return rep;
}

/* *release: the client asks to let the task go (done once it has the
 * reply: one that gave up meanwhile asks for nothing). */
static json_object *
handle (struct control *c, const char *line, bool *release)
{
  json_object *req = json_tokener_parse (line), *rep;
  const char *op = req ? json_object_get_string (json_object_object_get (req, "op")) : NULL;

  if (op && strcmp (op, "mark") == 0)
    rep = do_mark (c, req);
  else if (op && strcmp (op, "fold") == 0) {
    maint_fold_now (c->m);
    rep = json_object_new_object ();
    jf_add (rep, "ok", json_object_new_boolean (true));
  }
  else if (op && strcmp (op, "reload") == 0)
    rep = do_reload (c);
  else if (op && (strcmp (op, "resize") == 0 || strcmp (op, "detach") == 0))
    rep = do_disk (c, op, req);
  else if (op && strcmp (op, "release") == 0 && c->on_release) {
    *release = true;
    rep = json_object_new_object ();
    jf_add (rep, "ok", json_object_new_boolean (true));
  }
  else {
    rep = json_object_new_object ();
    jf_add (rep, "ok", json_object_new_boolean (false));
    jf_add (rep, "error", json_object_new_string ("unknown request"));
  }
  json_object_put (req);
  return rep;
}

static void
serve_client (struct control *c, int fd)
{
  char buf[4096];
  size_t n = 0;
  ssize_t r;
  json_object *rep;
  const char *text;
  bool release = false;

  while (n < sizeof buf - 1 && (r = read (fd, buf + n, sizeof buf - 1 - n)) > 0) {
    n += r;
    if (memchr (buf, '\n', n))
      break;
  }
  buf[n] = 0;
  rep = handle (c, buf, &release);
  text = jf_text (rep, JSON_C_TO_STRING_SPACED);
  if (text == NULL) {           /* the reply could not be built */
    text = "{ \"ok\": false, \"error\": \"out of memory\" }";
    release = false;
  }
  if (write (fd, text, strlen (text)) < 0 || write (fd, "\n", 1) < 0)
    log_msg ("task %s: control client went away", c->t->name);
  else if (release)
    c->on_release (c->release_opaque);
  json_object_put (rep);
}

static void *
control_thread (void *arg)
{
  struct control *c = arg;
  struct pollfd p = { .fd = c->fd, .events = POLLIN };

  while (!c->stop) {
    if (poll (&p, 1, 200) <= 0)
      continue;
    int fd = accept4 (c->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
      serve_client (c, fd);
      close (fd);
    }
  }
  return NULL;
}

int
control_start (struct task *t, struct receiver *rx, struct maint *m,
               struct control **cp)
{
  struct control *c = calloc (1, sizeof *c);
  struct sockaddr_un sa;
  int r = sock_addr (t, &sa);

  c->t = t;
  c->rx = rx;
  c->m = m;
  c->fd = -1;
  pthread_mutex_init (&c->reload_lock, NULL);
  if (r == 0) {
    unlink (sa.sun_path);
    c->fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || bind (c->fd, (struct sockaddr *) &sa, sizeof sa) < 0 ||
        chmod (sa.sun_path, 0600) < 0 || listen (c->fd, 16) < 0)
      r = -errno;
  }
  if (r == 0) {
    c->path = strdup (sa.sun_path);
    r = -pthread_create (&c->thread, NULL, control_thread, c);
  }
  if (r < 0) {
    if (c->fd >= 0)
      close (c->fd);
    pthread_mutex_destroy (&c->reload_lock);
    free (c->path);
    free (c);
    return r;
  }
  *cp = c;
  return 0;
}

void
control_on_release (struct control *c, void (*fn) (void *), void *opaque)
{
  c->release_opaque = opaque;
  c->on_release = fn;
}

void
control_on_disk (struct control *c, control_disk_fn fn, void *opaque)
{
  c->disk_opaque = opaque;
  c->on_disk = fn;
}

void
control_stop (struct control *c)
{
  if (c == NULL)
    return;
  c->stop = true;
  pthread_join (c->thread, NULL);
  close (c->fd);
  unlink (c->path);
  pthread_mutex_destroy (&c->reload_lock);
  free (c->path);
  free (c);
}

/* Past ms (0: no bound) an unanswered call is -ETIMEDOUT. */
static int
call (const struct task *t, const char *request, unsigned ms, char **reply)
{
  struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
  struct sockaddr_un sa;
  char buf[4096];
  size_t n = 0;
  ssize_t r = 0;
  int fd, e = sock_addr (t, &sa);

  if (e < 0)
    return e;
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  /* Both bound connect (a full backlog) and the reads and writes. */
  if (ms && (setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
             setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)) {
    e = -errno;
    close (fd);
    return e;
  }
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
    e = errno == EAGAIN ? -ETIMEDOUT : -errno;
    close (fd);
    return e;
  }
  if (write (fd, request, strlen (request)) < 0 || write (fd, "\n", 1) < 0) {
    e = errno == EAGAIN ? -ETIMEDOUT : -errno;
    close (fd);
    return e;
  }
  while (n < sizeof buf - 1 && (r = read (fd, buf + n, sizeof buf - 1 - n)) > 0)
    n += r;
  e = r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? -ETIMEDOUT : 0;
  close (fd);
  if (e < 0)
    return e;
  buf[n] = 0;
  *reply = strdup (buf);
  return n > 0 ? 0 : -EPROTO;
}

int
control_call (const struct task *t, const char *request, char **reply)
{
  return call (t, request, 0, reply);
}

int
control_call_within (const struct task *t, const char *request, unsigned ms,
                     char **reply)
{
  return call (t, request, ms, reply);
}
