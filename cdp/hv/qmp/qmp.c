/* cdp: QMP client.  See qmp.h for the contract.
 *
 * QEMU sends one JSON object per line ("\r\n" terminated).  The socket is
 * non-blocking; every wait is a poll() against a deadline.  Commands
 * carry an "id" so that a reply that arrives after its command timed out
 * is recognised and dropped instead of being taken for the next one.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/error.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"
#include "common/vector.h"
#include "cdp/hv/qmp/qmp.h"

/* Longest message accepted from QEMU. */
#define QMP_MAX_MESSAGE (16u << 20)

DEFINE_VECTOR_TYPE (event_vector, json_object *)

struct qmp {
  int fd;
  int timeout_ms;
  int dead;                     /* 0, or the sticky -errno of a lost link */
  uint64_t next_id;
  char *buf;                    /* bytes received, not yet parsed */
  size_t len, cap;
  event_vector events;          /* oldest first */
  size_t dropped;               /* events dropped since last reported */
  int version[3];
};

void
qmp_cleanup_json_put (struct json_object **obj)
{
  json_object_put (*obj);
}

/* ---- Time ---------------------------------------------------------- */

static int64_t
now_ms (void)
{
  return time_mono_ns () / 1000000;
}

/* Deadline for a wait of timeout_ms; -1 = none. */
static int64_t
deadline_after (int timeout_ms)
{
  return timeout_ms < 0 ? -1 : now_ms () + timeout_ms;
}

/* Milliseconds left until deadline, for poll(). */
static int
ms_left (int64_t deadline)
{
  int64_t left;

  if (deadline < 0)
    return -1;
  left = deadline - now_ms ();
  return left < 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int) left;
}

/* ---- Raw I/O ------------------------------------------------------- */

/* Mark the connection lost; every later call reports err. */
static int
lose (struct qmp *q, int err)
{
  if (!q->dead)
    q->dead = err;
  return cdp_set_error (q->dead, "QMP connection lost: %s",
                        strerror (-q->dead));
}

/* Wait until fd is ready for events or the deadline passes. */
static int
wait_fd (struct qmp *q, short events, int64_t deadline)
{
  struct pollfd pfd = { .fd = q->fd, .events = events };
  int r;

  do
    r = poll (&pfd, 1, ms_left (deadline));
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return -errno;
  if (r == 0)
    return -ETIMEDOUT;
  return 0;
}

/* Read what the socket holds into q->buf, waiting until the deadline. */
static int
fill (struct qmp *q, int64_t deadline)
{
  ssize_t n;
  int r;

  if (q->cap - q->len < 4096) {
    size_t cap = q->cap ? q->cap * 2 : 65536;
    char *p;

    if (q->len >= QMP_MAX_MESSAGE)
      return lose (q, -EMSGSIZE);
    p = realloc (q->buf, cap);
    if (p == NULL)
      return cdp_set_error (-ENOMEM, "out of memory");
    q->buf = p;
    q->cap = cap;
  }

  for (;;) {
    n = recv (q->fd, q->buf + q->len, q->cap - q->len, 0);
    if (n > 0) {
      q->len += n;
      return 0;
    }
    if (n == 0)
      return lose (q, -ECONNRESET);
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return lose (q, -errno);
    r = wait_fd (q, POLLIN, deadline);
    if (r < 0)
      return r;
  }
}

static int
send_all (struct qmp *q, const char *data, size_t len, int64_t deadline)
{
  ssize_t n;
  int r;

  while (len > 0) {
    n = send (q->fd, data, len, MSG_NOSIGNAL);
    if (n >= 0) {
      data += n;
      len -= n;
      continue;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return lose (q, errno == EPIPE ? -EPIPE : -errno);
    r = wait_fd (q, POLLOUT, deadline);
    if (r < 0)
      return r;
  }
  return 0;
}

/* ---- Messages ------------------------------------------------------ */

/* Parse the first complete line of q->buf into *msg.  Returns 1 with a
 * message, 0 if no complete line is buffered. */
static int
parse_line (struct qmp *q, json_object **msg)
{
  char *nl;
  size_t n;

  for (;;) {
    if (q->len == 0)
      return 0;
    nl = memchr (q->buf, '\n', q->len);
    if (nl == NULL)
      return 0;
    n = nl - q->buf + 1;
    *nl = '\0';
    if (nl > q->buf && nl[-1] == '\r')
      nl[-1] = '\0';
    *msg = q->buf[0] ? json_tokener_parse (q->buf) : NULL;
    memmove (q->buf, q->buf + n, q->len - n);
    q->len -= n;
    if (*msg && json_object_is_type (*msg, json_type_object))
      return 1;
    if (*msg || n > 2) {        /* not just an empty "\r\n" */
      json_object_put (*msg);
      *msg = NULL;
      return lose (q, -EPROTO);
    }
  }
}

/* Read the next message, waiting until the deadline.  Complete messages
 * already received are returned even when the connection is gone. */
static int
read_message (struct qmp *q, int64_t deadline, json_object **msg)
{
  int r;

  for (;;) {
    r = parse_line (q, msg);
    if (r != 0)
      return r < 0 ? r : 0;
    if (q->dead)
      return lose (q, q->dead);
    r = fill (q, deadline);
    if (r < 0)
      return r;
  }
}

static bool
is_event (json_object *msg)
{
  return json_object_object_get_ex (msg, "event", NULL);
}

static int
queue_event (struct qmp *q, json_object *ev)
{
  int r;

  if (q->events.len >= QMP_MAX_QUEUED_EVENTS) {
    json_object_put (q->events.ptr[0]);
    event_vector_remove (&q->events, 0);
    q->dropped++;
  }
  r = event_vector_append (&q->events, ev);
  if (r < 0) {
    json_object_put (ev);
    return cdp_set_error (r, "out of memory");
  }
  return 0;
}

/* ---- JSON and errors from QEMU ------------------------------------ */

const char *
qmp_json_string (struct json_object *obj, const char *key)
{
  json_object *v;

  if (obj == NULL || !json_object_object_get_ex (obj, key, &v)
      || !json_object_is_type (v, json_type_string))
    return NULL;
  return json_object_get_string (v);
}

int64_t
qmp_json_int (struct json_object *obj, const char *key, int64_t dflt)
{
  json_object *v;

  if (obj == NULL || !json_object_object_get_ex (obj, key, &v)
      || !json_object_is_type (v, json_type_int))
    return dflt;
  return json_object_get_int64 (v);
}

static int
errno_of_class (const char *cls)
{
  if (cls == NULL)
    return -EIO;
  if (strcmp (cls, "CommandNotFound") == 0)
    return -ENOSYS;
  if (strcmp (cls, "DeviceNotFound") == 0)
    return -ENODEV;
  return -EIO;
}

/* Turn a reply into 0 and *ret, or a mapped -errno. */
static int
take_reply (const char *command, json_object *reply, json_object **ret)
{
  json_object *err, *val;
  const char *desc;

  if (json_object_object_get_ex (reply, "error", &err)) {
    desc = qmp_json_string (err, "desc");
    return cdp_set_error (errno_of_class (qmp_json_string (err, "class")),
                          "%s: %s", command,
                          desc ? desc : "unknown QMP error");
  }
  if (!json_object_object_get_ex (reply, "return", &val))
    return cdp_set_error (-EPROTO, "%s: reply without return or error",
                          command);
  if (ret)
    *ret = json_object_get (val);
  return 0;
}

/* ---- Public API ---------------------------------------------------- */

static int
read_greeting (struct qmp *q, int64_t deadline)
{
  json_object *msg CLEANUP_JSON_PUT = NULL;
  json_object *greet, *ver, *qemu, *v;
  static const char *const keys[] = { "major", "minor", "micro" };
  int r;

  r = read_message (q, deadline, &msg);
  if (r < 0)
    return r;
  if (!json_object_object_get_ex (msg, "QMP", &greet))
    return cdp_set_error (-EPROTO, "the peer is not a QMP monitor");
  if (json_object_object_get_ex (greet, "version", &ver)
      && json_object_object_get_ex (ver, "qemu", &qemu))
    for (size_t i = 0; i < 3; i++)
      if (json_object_object_get_ex (qemu, keys[i], &v))
        q->version[i] = json_object_get_int (v);
  return 0;
}

static int
open_socket (const char *path, int *fdp)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd;

  if (strlen (path) >= sizeof addr.sun_path)
    return cdp_set_error (-ENAMETOOLONG, "%s: socket path too long", path);
  strcpy (addr.sun_path, path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return cdp_set_error (-errno, "socket: %s", strerror (errno));
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0) {
    int err = -errno;
    close (fd);
    return cdp_set_error (err, "%s: cannot connect: %s", path,
                          strerror (-err));
  }
  *fdp = fd;
  return 0;
}

int
qmp_connect (const char *path, struct qmp **qp)
{
  struct qmp *q;
  int64_t deadline = deadline_after (QMP_DEFAULT_TIMEOUT_MS);
  int r;

  q = calloc (1, sizeof *q);
  if (q == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  q->timeout_ms = QMP_DEFAULT_TIMEOUT_MS;
  r = open_socket (path, &q->fd);
  if (r < 0)
    goto err_free;
  r = read_greeting (q, deadline);
  if (r < 0)
    goto err;
  r = qmp_execute (q, "qmp_capabilities", NULL, NULL);
  if (r < 0)
    goto err;
  *qp = q;
  return 0;

 err:
  if (r == -ETIMEDOUT)
    cdp_set_error (r, "%s: no QMP greeting or reply in time", path);
  qmp_close (q);
  return r;
 err_free:
  free (q);
  return r;
}

void
qmp_close (struct qmp *q)
{
  if (q == NULL)
    return;
  for (size_t i = 0; i < q->events.len; i++)
    json_object_put (q->events.ptr[i]);
  event_vector_reset (&q->events);
  close (q->fd);
  free (q->buf);
  free (q);
}

void
qmp_set_timeout (struct qmp *q, int timeout_ms)
{
  q->timeout_ms = timeout_ms;
}

int
qmp_get_timeout (const struct qmp *q)
{
  return q->timeout_ms;
}

int
qmp_fd (const struct qmp *q)
{
  return q->fd;
}

void
qmp_qemu_version (const struct qmp *q, int *major, int *minor, int *micro)
{
  *major = q->version[0];
  *minor = q->version[1];
  *micro = q->version[2];
}

static int
send_command (struct qmp *q, const char *command, json_object *args,
              char *id, size_t idlen, int64_t deadline)
{
  json_object *msg CLEANUP_JSON_PUT = json_object_new_object ();
  const char *text;
  int r;

  snprintf (id, idlen, "cdp-%" PRIu64, ++q->next_id);
  if (msg == NULL
      || jf_add (msg, "execute", json_object_new_string (command)) < 0
      || jf_add (msg, "id", json_object_new_string (id)) < 0
      || (args && jf_add (msg, "arguments", json_object_get (args)) < 0))
    return cdp_set_error (-ENOMEM, "out of memory");
  text = json_object_to_json_string_ext (msg, JSON_C_TO_STRING_PLAIN);
  if (text == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  r = send_all (q, text, strlen (text), deadline);
  if (r == 0)
    r = send_all (q, "\n", 1, deadline);
  if (r == -ETIMEDOUT) {
    /* Part of the command may be on the wire: the stream is unusable. */
    lose (q, -EPIPE);
    return cdp_set_error (-EPIPE, "%s: QEMU stopped reading its monitor",
                          command);
  }
  return r;
}

/* Is msg the reply to the command with this id?  A reply without id is
 * QEMU's answer to a message it could not parse: ours. */
static bool
is_reply_to (json_object *msg, const char *id)
{
  json_object *v;

  if (!json_object_object_get_ex (msg, "id", &v))
    return true;
  return json_object_is_type (v, json_type_string)
    && strcmp (json_object_get_string (v), id) == 0;
}

int
qmp_execute (struct qmp *q, const char *command, struct json_object *args,
             struct json_object **ret)
{
  int64_t deadline = deadline_after (q->timeout_ms);
  char id[32];
  int r;

  if (q->dead)
    return lose (q, q->dead);
  r = send_command (q, command, args, id, sizeof id, deadline);
  if (r < 0)
    return r;

  for (;;) {
    json_object *msg CLEANUP_JSON_PUT = NULL;

    r = read_message (q, deadline, &msg);
    if (r == -ETIMEDOUT)
      return cdp_set_error (r, "%s: no reply from QEMU in time", command);
    if (r < 0)
      return r;
    if (is_event (msg)) {
      r = queue_event (q, json_object_get (msg));
      if (r < 0)
        return r;
    }
    else if (is_reply_to (msg, id))
      return take_reply (command, msg, ret);
    /* else: the late reply to a command that timed out; drop it. */
  }
}

int
qmp_next_event (struct qmp *q, int timeout_ms, struct json_object **ev)
{
  int64_t deadline = deadline_after (timeout_ms);
  int r;

  if (q->dropped) {
    r = cdp_set_error (-ENOBUFS, "%zu QMP events were dropped", q->dropped);
    q->dropped = 0;
    return r;
  }
  for (;;) {
    json_object *msg = NULL;

    if (q->events.len > 0) {
      *ev = q->events.ptr[0];
      event_vector_remove (&q->events, 0);
      return 1;
    }
    r = read_message (q, deadline, &msg);
    if (r == -ETIMEDOUT)
      return 0;
    if (r < 0)
      return r;
    if (is_event (msg)) {
      *ev = msg;
      return 1;
    }
    json_object_put (msg);      /* a late reply; drop it */
  }
}

int
qmp_hmp (struct qmp *q, const char *command_line, char **output)
{
  json_object *args CLEANUP_JSON_PUT = json_object_new_object ();
  json_object *ret CLEANUP_JSON_PUT = NULL;
  const char *text;
  int r;

  if (args == NULL
      || jf_add (args, "command-line",
                 json_object_new_string (command_line)) < 0)
    return cdp_set_error (-ENOMEM, "out of memory");
  r = qmp_execute (q, "human-monitor-command", args, &ret);
  if (r < 0)
    return r;
  text = json_object_get_string (ret);
  if (output) {
    *output = strdup (text ? text : "");
    if (*output == NULL)
      return cdp_set_error (-ENOMEM, "out of memory");
  }
  if (text && strncmp (text, "Error: ", 7) == 0)
    return cdp_set_error (-EIO, "%s: %.*s", command_line,
                          (int) strcspn (text + 7, "\r\n"), text + 7);
  return 0;
}

const char *
qmp_event_name (struct json_object *ev)
{
  return qmp_json_string (ev, "event");
}

struct json_object *
qmp_event_data (struct json_object *ev)
{
  json_object *data;

  if (!json_object_object_get_ex (ev, "data", &data))
    return NULL;
  return data;
}

int64_t
qmp_event_time_ns (struct json_object *ev)
{
  json_object *ts, *s, *us;

  if (!json_object_object_get_ex (ev, "timestamp", &ts)
      || !json_object_object_get_ex (ts, "seconds", &s)
      || !json_object_object_get_ex (ts, "microseconds", &us))
    return 0;
  return json_object_get_int64 (s) * 1000000000
    + json_object_get_int64 (us) * 1000;
}

/* ---- Queries ------------------------------------------------------- */

int
qmp_query_find (struct qmp *q, const char *command, struct json_object *args,
                const char *key, const char *value, struct json_object **found)
{
  json_object *list CLEANUP_JSON_PUT = NULL;
  const char *v;
  size_t n;
  int r;

  r = qmp_execute (q, command, args, &list);
  if (r < 0)
    return r;
  if (!json_object_is_type (list, json_type_array))
    return cdp_set_error (-EPROTO, "%s: did not return a list", command);
  n = json_object_array_length (list);
  for (size_t i = 0; i < n; i++) {
    json_object *e = json_object_array_get_idx (list, i);

    v = qmp_json_string (e, key);
    if (v && strcmp (v, value) == 0) {
      *found = json_object_get (e);
      return 0;
    }
  }
  return cdp_set_error (-ENOENT, "%s: no entry with %s %s", command, key,
                        value);
}

int
qmp_find_node (struct qmp *q, const char *name, struct json_object **node)
{
  json_object *args CLEANUP_JSON_PUT = json_object_new_object ();

  if (args == NULL
      || jf_add (args, "flat", json_object_new_boolean (true)) < 0)
    return cdp_set_error (-ENOMEM, "out of memory");
  return qmp_query_find (q, "query-named-block-nodes", args, "node-name",
                         name, node);
}

int
qmp_find_job (struct qmp *q, const char *id, struct json_object **job)
{
  return qmp_query_find (q, "query-jobs", NULL, "id", id, job);
}

int
qmp_block_qdev (struct qmp *q, const char *node, char **qdev)
{
  json_object *list CLEANUP_JSON_PUT = NULL;
  size_t n;
  int r;

  r = qmp_execute (q, "query-block", NULL, &list);
  if (r < 0)
    return r;
  n = json_object_is_type (list, json_type_array)
    ? json_object_array_length (list) : 0;
  for (size_t i = 0; i < n; i++) {
    json_object *e = json_object_array_get_idx (list, i);
    json_object *inserted;
    const char *top, *device, *path = qmp_json_string (e, "qdev");

    if (!json_object_object_get_ex (e, "inserted", &inserted)
        || path == NULL || path[0] == '\0')
      continue;
    top = qmp_json_string (inserted, "node-name");
    device = qmp_json_string (e, "device");
    if ((top && strcmp (top, node) == 0)
        || (device && strcmp (device, node) == 0)) {
      *qdev = strdup (path);
      return *qdev ? 0 : cdp_set_error (-ENOMEM, "out of memory");
    }
  }
  return cdp_set_error (-ENODEV, "no guest device uses block node %s", node);
}
