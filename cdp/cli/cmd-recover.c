/* cdp recover: rapid recovery — a VM runs from a point within seconds
 * while its data moves home behind it.
 *
 *   1. resolve T and lock the point (retention keeps it while this runs)
 *   2. serve the points read-only over NBD (pointexp.c) on a unix socket
 *      of the task (qemu/recover.sock, open to QEMU's group only)
 *   3. create the overlays: qcow2 files whose backing is the export
 *   4. libvirt: --as defines and starts a clone of the protected domain
 *      on the overlays; --in-place stops the domain, redefines it on the
 *      overlays and starts it (the driver's hv_recover, cdp/hv/hv.h).
 *      QMP mode: print how to boot and stream it
 *   5. virDomainBlockPull each disk and watch until every overlay stands
 *      alone (no backing store in the domain, none in the file)
 *   6. stop the export, unlock the point, record the recovery done
 *
 * The VM's writes go to the overlays only: the export is read-only and
 * the store never changes because of them.  Each step is recorded in
 * TASK/recover.json (recover-state.c) before it acts, so that a
 * recovery stopped anywhere (killed, the domain stopped, the store gone)
 * can be reasoned about and picked up: --resume serves the export again
 * on the same socket (QEMU's NBD client connects again on its next
 * request), starts the domain if it is off, and does 5 and 6.  While an
 * in-place recovery is unfinished, `cdp serve` starts no copy of its
 * disks; once it is done, protection resumes by itself.
 *
 * --progress shows steps 1-4 as phase "start" and step 5 as "stream"
 * (progress.h); --json prints the recovery as recorded once it is done
 * (docs/JSON.md).
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/cli/cli-internal.h"
#include "cdp/cli/progress.h"
#include "cdp/rapid/rapid.h"
#include "common/error.h"
#include "common/fileio.h"
#include "common/jsonfile.h"
#include "cdp/hv/hv.h"
#include "cdp/hv/libvirt/libvirt.h"
#include "cdp/rapid/pointexp.h"
#include "common/timeutil.h"
#include "recovery/history/qemu-tool.h"

double
rapid_secs (int64_t ns)
{
  return (double) ns / 1e9;
}

int
rapid_save (struct rapid *c)
{
  int e = rapid_state_save (c->t, &c->r);

  if (e < 0)
    return fail ("cannot record the recovery in %s: %s", c->t->dir,
                 strerror (-e));
  return 0;
}

void
rapid_unlock_point (struct rapid *c)
{
  if (c->r.locked)
    locks_change (c->t, c->r.seq, c->r.at_ns, false);
  c->r.locked = false;
}

/* Record the recovery failed (why), unless it is being resumed: a
 * resume that cannot go on leaves it interrupted, to try again. */
static void
record_failed (struct rapid *c, const char *msg)
{
  if (c->resuming)
    return;
  /* Before the VM ran, the overlays (made by this recovery, PATH did
   * not exist) hold nothing of value. */
  if (strcmp (c->r.state, "starting") == 0)
    for (size_t i = 0; i < c->r.disks.len; i++)
      if (c->r.disks.ptr[i].overlay)
        unlink (c->r.disks.ptr[i].overlay);
  if (strcmp (c->r.state, "starting") == 0 && c->made_dir)
    rmdir (c->made_dir);
  free (c->r.state);
  c->r.state = strdup ("failed");
  free (c->r.error);
  c->r.error = strdup (msg);
  rapid_unlock_point (c);
  rapid_state_save (c->t, &c->r);
}

/* The same, and say so in one line. */
int
rapid_failed (struct rapid *c, const char *fmt, ...)
              {
              char msg[512];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  record_failed (c, msg);
  return fail ("%s", msg);
}

char *
rapid_uri (const struct rapid *c, const char *disk)
{
  char *uri;

  if (asprintf (&uri, "nbd+unix:///%s?socket=%s", disk, c->r.socket) < 0)
    return NULL;
  return uri;
}

/* ---- the export ----------------------------------------------------------- */

/* Serve the points at r.at_ns on r.socket, open to QEMU (uid/gid). */
int
rapid_start_export (struct rapid *c, uid_t uid, gid_t gid)
{
  string_vector names = empty_vector;
  char *addr, why[512] = "";
  int e;

  for (size_t i = 0; i < c->r.disks.len; i++)
    string_vector_append (&names, c->r.disks.ptr[i].disk);
  e = pexp_open (c->store, c->t->name, c->r.at_ns, &names, NULL, &c->px);
  string_vector_reset (&names);
  if (e != 0) {
    record_failed (c, "the point could not be opened to serve it");
    return -1;
  }
  /* A socket left by a killed recover: nobody listens on it any more
   * (recover.lock, held by this process, says so). */
  unlink (c->r.socket);
  if (asprintf (&addr, "unix:%s", c->r.socket) < 0)
    return rapid_failed (c, "cannot serve the point on %s: %s", c->r.socket,
                         strerror (ENOMEM));
  e = nbd_server_new (&pexp_ops, c->px, &c->srv);
  if (e == 0)
    e = nbd_server_listen (c->srv, addr, NULL);
  free (addr);
  if (e < 0)
    return rapid_failed (c, "cannot serve the point on %s: %s", c->r.socket,
                         strerror (-e));
  if ((e = socket_grant (c->t->dir, c->r.socket, uid, gid, why, sizeof why)) < 0)
    return rapid_failed (c, "%s", why);
  return 0;
}

void
rapid_stop_export (struct rapid *c)
{
  nbd_server_free (c->srv);
  c->srv = NULL;
  pexp_close (c->px);
  c->px = NULL;
}

/* ---- overlays ------------------------------------------------------------- */

/* An absolute path for PATH (which need not exist yet). */
static char *
absolute (const char *path)
{
  char cwd[PATH_MAX], *out;

  if (path[0] == '/')
    return strdup (path);
  if (getcwd (cwd, sizeof cwd) == NULL)
    return NULL;
  if (asprintf (&out, "%s/%s", cwd, path) < 0)
    return NULL;
  return out;
}

/* Where each disk's overlay goes: PATH itself for one disk (unless it is
 * a directory), else PATH/DISK.qcow2. */
static int
place_overlays (struct rapid *c, const char *to)
{
  struct stat st;
  char *base = absolute (to);
  bool exists, dir;

  if (base == NULL)
    return fail ("cannot make %s absolute", to);
  exists = stat (base, &st) == 0;
  dir = c->r.disks.len > 1 || (exists && S_ISDIR (st.st_mode));
  /* Made when the overlays are, so that a refusal leaves nothing. */
  if (dir && !exists && (c->made_dir = strdup (base)) == NULL) {
    free (base);
    return fail ("cannot place the overlays: %s", strerror (ENOMEM));
  }
  for (size_t i = 0; i < c->r.disks.len; i++) {
    struct rapid_disk *d = &c->r.disks.ptr[i];
    if (!dir)
      d->overlay = strdup (base);
    else if (asprintf (&d->overlay, "%s/%s.qcow2", base, d->disk) < 0)
      d->overlay = NULL;
    if (d->overlay == NULL) {
      free (base);
      return fail ("cannot place the overlays: %s", strerror (ENOMEM));
    }
    if (lstat (d->overlay, &st) == 0) {
      free (base);
      return fail ("%s exists: recover to a new file", d->overlay);
    }
  }
  free (base);
  return 0;
}

int
rapid_create_overlays (struct rapid *c)
{
  if (c->made_dir && mkdir_p (c->made_dir, 0755) < 0)
    return rapid_failed (c, "cannot create directory %s: %s", c->made_dir,
                         strerror (errno));
  for (size_t i = 0; i < c->r.disks.len; i++) {
    struct rapid_disk *d = &c->r.disks.ptr[i];
    char *uri = rapid_uri (c, d->disk), size[32], why[512];
    if (uri == NULL)
      return rapid_failed (c, "cannot create the overlay %s: %s", d->overlay,
                           strerror (ENOMEM));
    snprintf (size, sizeof size, "%llu", (unsigned long long) d->total);
    /* -u: the backing is not opened; its size is known. */
    const char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-u",
                           "-F", "raw", "-b", uri, d->overlay, size, NULL };
    int e = qemu_tool_run (argv, why, sizeof why);
    free (uri);
    if (e < 0)
      return rapid_failed (c, "cannot create the overlay %s: %s", d->overlay, why);
  }
  return 0;
}

/* ---- progress and the document -------------------------------------------- */

static struct cli_progress progress;

/* rapid.progress: the stream, as phase "stream" in bytes. */
static void
stream_progress (void *opaque, uint64_t done, uint64_t total, bool final)
{
  struct cli_progress *pr = opaque;

  if (pr->phase == NULL || strcmp (pr->phase, "stream") != 0)
    cli_progress_start (pr, "stream", "bytes", (int64_t) total);
  if (final)
    cli_progress_end (pr, done);
  else
    cli_progress_update (pr, done);
}

/* Member key: the seconds from from to to, null when either is not known. */
static void
add_seconds (json_object *o, const char *key, int64_t from, int64_t to)
{
  if (from && to)
    jf_add (o, key, json_object_new_double (rapid_secs (to - from)));
  else
    jf_add_null (o, key);
}

/* Member key: the string s, or null. */
static void
add_string (json_object *o, const char *key, const char *s)
{
  if (s)
    jf_add (o, key, json_object_new_string (s));
  else
    jf_add_null (o, key);
}

/* --json: the recovery as recover.json has it now. */
static int
print_json (const struct rapid *c)
{
  json_object *o = json_object_new_object (), *disks = json_object_new_array ();
  const struct rapid_state *r = &c->r;
  char tb[64];

  format_time (r->at_ns, tb, sizeof tb);
  jf_add (o, "task", json_object_new_string (c->t->name));
  jf_add (o, "state", json_object_new_string (r->state));
  jf_add (o, "mode", json_object_new_string (r->mode));
  add_string (o, "domain", r->domain);
  jf_add (o, "at", json_object_new_string (tb));
  for (size_t i = 0; i < r->disks.len; i++) {
    json_object *d = json_object_new_object ();
    jf_add (d, "name", json_object_new_string (r->disks.ptr[i].disk));
    jf_add (d, "overlay", json_object_new_string (r->disks.ptr[i].overlay));
    jf_add (d, "size", json_object_new_int64 ((int64_t) r->disks.ptr[i].total));
    jf_append (disks, d);
  }
  jf_add (o, "disks", disks);
  add_seconds (o, "ready_s", r->started_ns, r->ready_ns);
  add_seconds (o, "stream_s", r->ready_ns, r->done_ns);
  jf_add (o, "protection_resumes",
          json_object_new_boolean (strcmp (r->mode, "in-place") == 0 &&
                                   strcmp (r->state, "done") == 0));
  add_string (o, "error", r->error);
  return cli_print_json (o);
}

/* ---- the command ------------------------------------------------------------- */

static int
begin (struct rapid *c, const char *at, const char *to, const char *as,
       const char *disk)
{
  const struct hv_driver *hv = hv_of (c->t);
  struct task_view v;
  struct point p;
  int64_t t, t_point, t_ready;
  bool archived = false;            /* read from the task's archive */
  char tbuf[64];
  int e;

  cli_progress_start (&progress, "start", "steps", 2);
  if (view_open (c->store, c->t->name, &v) != 0)
    return EXIT_FAIL;
  e = view_time (&v, at, &t);
  for (size_t i = 0; e == 0 && i < v.task->disks.len; i++) {
    const struct task_disk *d = &v.task->disks.ptr[i];
    if (disk && strcmp (d->name, disk) != 0)
      continue;
    if ((e = view_point_at (&v, d, t, &p)) == 0) {
      struct rapid_disk rd = { .disk = strdup (d->name), .total = p.size };
      rapid_disk_vector_append (&c->r.disks, rd);
      c->r.seq = p.seq;
      archived |= view_point_archived (&p);
    }
  }
  view_close (&v);
  if (e != 0)
    return e;
  if (c->r.disks.len == 0)
    return fail ("task %s has no disk %s", c->t->name, disk);
  t_point = time_now_ns ();
  c->r.at_ns = t;
  c->r.mode = strdup (!hv->recover ? "qmp" : as ? "as" : "in-place");
  c->r.connect = c->t->connect ? strdup (c->t->connect) : NULL;
  c->r.socket = hv_socket_path (c->t, "recover.sock");
  c->r.state = strdup ("starting");
  c->r.started_ns = c->t0;
  if (c->r.mode == NULL || c->r.socket == NULL || c->r.state == NULL ||
      (c->t->connect && c->r.connect == NULL))
    return fail ("task %s: %s", c->t->name, strerror (ENOMEM));
  if (hv->recover && hv->recover->plan (c, as) != 0)
    return EXIT_FAIL;
  if (place_overlays (c, to) != 0)
    return EXIT_FAIL;
  {
    char *dir = strdup (c->r.socket);
    if (dir == NULL)
      return fail ("task %s: %s", c->t->name, strerror (ENOMEM));
    *strrchr (dir, '/') = 0;
    mkdir_p (dir, 0700);
    free (dir);
  }
  /* Retention takes nothing from an archived point: no lock. */
  e = archived ? -EEXIST : locks_change (c->t, c->r.seq, t, true);
  if (e < 0 && e != -EEXIST)
    return fail ("cannot lock the point: %s", strerror (-e));
  c->r.locked = e == 0;
  if (rapid_save (c) != 0)
    return EXIT_FAIL;
  cli_progress_update (&progress, 1);
  format_time (t, tbuf, sizeof tbuf);
  if (hv->recover) {
    if (hv->recover->start (c, as) != 0)
      return EXIT_FAIL;
  }
  else {
    if (rapid_start_export (c, 0, 0) != 0 || rapid_create_overlays (c) != 0)
      return EXIT_FAIL;
  }
  cli_progress_end (&progress, 2);
  t_ready = time_now_ns ();
  c->r.ready_ns = t_ready;
  free (c->r.state);
  c->r.state = strdup ("streaming");
  if (rapid_save (c) != 0)
    return EXIT_FAIL;
  if (c->l && !c->json) {
    printf ("started %s on the point of %s at %s in %.2f s (point %.3f s, "
            "export, overlays and domain start %.3f s)\n", c->r.domain,
            c->t->name, tbuf, rapid_secs (t_ready - c->t0), rapid_secs (t_point - c->t0),
            rapid_secs (t_ready - t_point));
    fflush (stdout);
  }
  else if (!c->l)
    rapid_print_qmp_howto (c);
  return rapid_finish (c);
}

/* --cancel: give up an unfinished recovery that cannot be resumed (its
 * domain was deleted, its overlays lost).  The VM, if it still runs on
 * the overlays, needs the export, which stops being served. */
static int
cancel_recovery (struct rapid *c)
{
  int e = rapid_state_load (c->t, &c->r);

  if (e < 0 && e != -ENOENT)
    return fail ("cannot read %s/recover.json: %s", c->t->dir, jf_strerror (e));
  if (e < 0 || !rapid_state_unfinished (&c->r))
    return fail ("task %s has no unfinished recovery", c->t->name);
  rapid_failed (c, "cancelled by the operator");
  return c->json ? print_json (c) : EXIT_OK;
}

static int
resume (struct rapid *c)
{
  const struct hv_driver *hv = hv_of (c->t);
  const char *state;
  int e = rapid_state_load (c->t, &c->r);

  if (e == -ENOENT)
    return fail ("task %s has no recovery to resume", c->t->name);
  if (e < 0)
    return fail ("cannot read %s/recover.json: %s", c->t->dir, jf_strerror (e));
  state = rapid_state_shown (c->t, &c->r);
  if (!rapid_state_unfinished (&c->r))
    return fail ("the last recovery of task %s is %s: nothing to resume",
                 c->t->name, state);
  if (strcmp (c->r.state, "starting") == 0)
    for (size_t i = 0; i < c->r.disks.len; i++)
      if (access (c->r.disks.ptr[i].overlay, F_OK) != 0)
        return rapid_failed (c, "the recovery stopped before its VM ran (no %s): "
                             "run cdp recover again", c->r.disks.ptr[i].overlay);
  c->resuming = true;
  cli_progress_start (&progress, "start", "steps", 1);
  if (hv->recover && c->r.domain) {          /* a VM cdp started */
    if (hv->recover->resume (c) != 0)
      return EXIT_FAIL;
  }
  else {
    if (rapid_start_export (c, 0, 0) != 0)
      return EXIT_FAIL;
    rapid_print_qmp_howto (c);
  }
  cli_progress_end (&progress, 1);
  if (strcmp (c->r.state, "starting") == 0) {
    free (c->r.state);
    c->r.state = strdup ("streaming");
  }
  rapid_save (c);
  return rapid_finish (c);
}

int
cmd_recover (const char *store, int argc, char **argv)
{
  static const struct option opts[] = {
    { "at", required_argument, 0, 'a' }, { "to", required_argument, 0, 't' },
    { "as", required_argument, 0, 's' }, { "in-place", no_argument, 0, 'i' },
    { "disk", required_argument, 0, 'd' }, { "resume", no_argument, 0, 'r' },
    { "bandwidth", required_argument, 0, 'b' }, { "cancel", no_argument, 0, 'c' },
    { "json", no_argument, 0, 'j' }, { "progress", no_argument, 0, 'P' },
    { "help", no_argument, 0, 'h' },
    { 0 } };
  const char *at = NULL, *to = NULL, *as = NULL, *disk = NULL;
  bool in_place = false, resuming = false, cancel = false, show = false;
  struct rapid c = { .store = store };
  char *end;
  int ch, r, lockfd;

  optind = 1;
  while ((ch = getopt_long (argc, argv, "", opts, NULL)) != -1)
    switch (ch) {
    case 'a': at = optarg; break;
    case 't': to = optarg; break;
    case 's': as = optarg; break;
    case 'i': in_place = true; break;
    case 'd': disk = optarg; break;
    case 'r': resuming = true; break;
    case 'c': cancel = true; break;
    case 'j': c.json = true; break;
    case 'P': show = true; break;
    case 'b':
      c.bandwidth = strtoul (optarg, &end, 10);
      if (*end || end == optarg)
        return usage_error ("--bandwidth takes MiB/s, a whole number");
      break;
    case 'h':
      puts ("usage: cdp recover NAME --at T --to PATH (--as NEWDOMAIN | --in-place)\n"
            "                   [--disk D] [--bandwidth MIB_PER_S] [--json] [--progress]\n"
            "       cdp recover NAME --resume [--bandwidth MIB_PER_S] [--json] [--progress]\n"
            "       cdp recover NAME --cancel [--json]\n"
            "Runs until the data is home.  --json prints the recovery once it is\n"
            "done; --progress shows its start and the stream (JSON Lines on stdout\n"
            "with --json, else on stderr).  SIGINT or SIGTERM stops it: the VM\n"
            "still reads from the store, and --resume finishes it.");
      return 0;
    default: return usage_error ("see 'cdp recover --help'");
    }
  if (optind + 1 != argc)
    return usage_error ("usage: cdp recover NAME --at T --to PATH (--as NEWDOMAIN | --in-place)");
  if ((resuming || cancel) && (at || to || as || in_place || disk))
    return usage_error ("--resume and --cancel take no --at, --to, --as, "
                        "--in-place or --disk");
  resuming |= cancel;
  if (!resuming && (at == NULL || to == NULL))
    return usage_error ("cdp recover needs --at T and --to PATH");
  if (cli_task_load (store, argv[optind], &c.t) != 0)
    return EXIT_FAIL;
  if (!resuming && hv_of (c.t)->recover && (as != NULL) == in_place) {
    task_free (c.t);
    return usage_error ("give one of --as NEWDOMAIN and --in-place");
  }
  if (!resuming && !hv_of (c.t)->recover && (as || in_place)) {
    task_free (c.t);
    return usage_error ("task %s has no libvirt domain: leave out --as and "
                        "--in-place; cdp prints how to boot the point",
                        argv[optind]);
  }
  if (as && !task_name_valid (as)) {
    task_free (c.t);
    return usage_error ("'%s' is not a usable domain name", as);
  }
  lockfd = rapid_lock (c.t);
  if (lockfd < 0) {
    task_free (c.t);
    return fail ("a cdp recover of task %s runs already", argv[optind]);
  }
  if (!resuming) {
    struct rapid_state old;
    int le = rapid_state_load (c.t, &old);
    if (le < 0 && le != -ENOENT) {
      /* It may record a recovery whose VM still reads from the store. */
      fail ("cannot read %s/recover.json: %s; restore it, or remove it if "
            "no rapid recovery of this task runs", c.t->dir, jf_strerror (le));
      close (lockfd);
      task_free (c.t);
      return EXIT_FAIL;
    }
    if (le == 0) {
      bool busy = rapid_state_unfinished (&old);
      if (busy)
        fail ("task %s has an unfinished recovery (%s %s, %s): finish it "
              "with 'cdp recover %s --resume'", c.t->name, old.mode,
              old.domain ? old.domain : "", rapid_state_shown (c.t, &old),
              c.t->name);
      rapid_state_clear (&old);
      if (busy) {
        close (lockfd);
        task_free (c.t);
        return EXIT_FAIL;
      }
    }
  }
  c.t0 = time_now_ns ();
  c.tty = isatty (STDERR_FILENO);
  cli_progress_init (&progress, "recover", show && !cancel, c.json);
  if (show && !cancel) {
    c.progress = stream_progress;
    c.progress_opaque = &progress;
  }
  sigemptyset (&c.sigs);
  sigaddset (&c.sigs, SIGINT);
  sigaddset (&c.sigs, SIGTERM);
  sigaddset (&c.sigs, SIGHUP);
  pthread_sigmask (SIG_BLOCK, &c.sigs, NULL);
  signal (SIGPIPE, SIG_IGN);
  r = cancel ? cancel_recovery (&c) : resuming ? resume (&c)
    : begin (&c, at, to, as, disk);
  if (r == EXIT_OK && c.json && !cancel)
    r = print_json (&c);
  rapid_stop_export (&c);
  lv_close (c.l);
  rapid_state_clear (&c.r);
  free (c.made_dir);
  task_free (c.t);
  close (lockfd);
  return r;
}
