/* The steps the commands share: open the task or its history or say why
 * not, pick the disk, name a point, read flags, print a JSON document. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <string.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli-internal.h"
#include "cdp/cli/progress.h"
#include "cdp/daemon/daemon.h"
#include "cdp/hv/hv.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"

int
cli_task_load (const char *store, const char *name, struct task **tp)
{
  int e = task_load (store, name, tp);

  return e < 0 ? task_load_fail (store, name, e) : 0;
}

int
cli_view_disk (const char *store, const char *archive, const char *name,
               const char *disk, const char *at, struct task_view *v,
               const struct task_disk **dp)
{
  int64_t t;
  int r;

  if (archive) {
    /* The disks are the archived point's: T first. */
    if (view_open_archive (archive, name, v) != 0)
      return EXIT_FAIL;
    if ((r = view_time (v, at, &t)) != 0) {
      view_close (v);
      return r;
    }
  }
  else if (view_open (store, name, v) != 0)
    return EXIT_FAIL;
  *dp = task_pick_disk (v->task, disk);
  if (*dp == NULL) {
    view_close (v);
    return EXIT_USAGE;
  }
  return 0;
}

void
cli_point_name (const struct task *t, const struct task_disk *d, int64_t time,
                char *buf, size_t len)
{
  char tbuf[64];

  format_time (time, tbuf, sizeof tbuf);
  snprintf (buf, len, "%s/%s at %s", t->name, d->name, tbuf);
}

bool
cli_flag (int argc, char **argv, const char *flag)
{
  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], flag) == 0)
      return true;
  return false;
}

int
cli_option_error (int c, char **argv)
{
  if (c == ':')
    return usage_error ("%s needs a value; see 'cdp %s --help'",
                        argv[optind - 1], argv[0]);
  return usage_error ("unknown option %s; see 'cdp %s --help'",
                      argv[optind - 1], argv[0]);
}

/* Every document printed carries the version of its schema first
 * (docs/JSON.md); a document that set its own keeps it. */
static json_object *
with_version (json_object *o)
{
  json_object *root;

  if (json_object_object_get_ex (o, "version", NULL))
    return o;
  root = json_object_new_object ();
  jf_add (root, "version", json_object_new_int (CDP_JSON_VERSION));
  json_object_object_foreach (o, key, val) {
    if (val)
      jf_add (root, key, json_object_get (val));
    else
      jf_add_null (root, key);      /* a member that is null */
  }
  json_object_put (o);
  return root;
}

int
cli_print_json (json_object *o)
{
  const char *text;
  int r = EXIT_OK;

  o = with_version (o);
  /* After --progress lines, the last line of the stream.  Paths keep
   * their slashes as they are ("/p1/etc", not "\/p1\/etc"). */
  text = jf_text (o, JSON_C_TO_STRING_NOSLASHESCAPE |
                     (cli_progress_stream () ? JSON_C_TO_STRING_PLAIN
                                             : JSON_C_TO_STRING_PRETTY));

  if (text == NULL)
    r = fail ("cannot print the JSON output: %s", strerror (ENOMEM));
  else if (puts (text) < 0 || fflush (stdout) != 0)
    r = fail ("cannot print the JSON output: %s", strerror (errno));
  json_object_put (o);
  return r;
}

int
cli_print_json_list (const char *key, json_object *arr)
{
  json_object *root = json_object_new_object ();

  jf_add (root, key, arr);
  return cli_print_json (root);
}

bool
cli_reply_ok (const char *reply)
{
  json_object *o = json_tokener_parse (reply);
  bool ok = o && json_object_get_boolean (json_object_object_get (o, "ok"));

  json_object_put (o);
  return ok;
}

/* ---- cdp resize and cdp detach ------------------------------------------- */

/* The protector ends the copy (up to 10 s), then libvirt acts: serve's
 * own bound is 120 s, and the reply comes after it. */
#define DISK_CALL_MS (130 * 1000)

int
cli_disk_task (const char *store, const char *name, const char *disk,
               const char *verb, struct task **tp, const struct task_disk **dp)
{
  struct task *t;
  int r;

  if (cli_task_load (store, name, &t) != 0)
    return EXIT_FAIL;
  if (!hv_of (t)->disk_requests) {
    r = fail ("task %s is a %s-mode task: cdp %s disks of libvirt "
              "domains only", t->name, task_mode_name (t), verb);
    task_free (t);
    return r;
  }
  *dp = task_pick_disk (t, disk);
  if (*dp == NULL) {
    task_free (t);
    return disk ? EXIT_FAIL : EXIT_USAGE;
  }
  *tp = t;
  return 0;
}

int
cli_disk_request (const struct task *t, const struct task_disk *d,
                  const char *op, uint64_t size, uint64_t *old,
                  uint64_t *seq)
{
  json_object *req = json_object_new_object (), *rep = NULL, *v;
  const char *text;
  char *reply = NULL;
  int e;

  jf_add (req, "op", json_object_new_string (op));
  jf_add (req, "disk", json_object_new_string (d->name));
  if (size)
    jf_add (req, "size", json_object_new_int64 ((int64_t) size));
  text = jf_text (req, JSON_C_TO_STRING_PLAIN);
  e = text ? control_call_within (t, text, DISK_CALL_MS, &reply) : -ENOMEM;
  json_object_put (req);
  if (e == -ENOENT || e == -ECONNREFUSED)
    return fail ("task %s is not served: no copy job holds its disks; "
                 "%s the disk with virsh (%s), and the next cdp serve "
                 "takes it as it finds it", t->name, op,
                 strcmp (op, "resize") == 0 ? "blockresize" : "detach-disk");
  if (e < 0)
    return fail ("task %s: cdp serve did not answer: %s", t->name,
                 e == -ETIMEDOUT ? "timed out" : strerror (-e));
  rep = json_tokener_parse (reply);
  free (reply);
  if (rep == NULL || !json_object_get_boolean (json_object_object_get (rep, "ok"))) {
    e = fail ("cannot %s %s/%s: %s", op, t->name, d->name,
              rep && json_object_object_get_ex (rep, "error", &v)
              ? json_object_get_string (v) : "cdp serve gave no valid reply");
    json_object_put (rep);
    return e;
  }
  *old = (uint64_t) json_int (rep, "old_size", 0);
  *seq = (uint64_t) json_int (rep, "seq", 0);
  json_object_put (rep);
  return 0;
}
