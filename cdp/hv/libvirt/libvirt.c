/* cdp: the libvirt driver — connection, events, domain state, block
 * copy, guest agent.  See libvirt.h for the contract; the domain XML is
 * read in libvirt-xml.c.
 *
 * Why the copy is started the way it is:
 *
 * - VIR_DOMAIN_BLOCK_COPY_SYNCHRONOUS_WRITES is QEMU's
 *   copy-mode=write-blocking: once the job is READY, a guest write
 *   completes only after the receiver acknowledged it (made it durable).
 * - VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB: the job is not recorded in the
 *   domain's persistent definition, so persistent domains may be copied
 *   and nothing of it survives the VM's end.  The job is never pivoted;
 *   cdp only ever aborts it, which leaves the VM on its own disk.
 * - A network destination, protocol nbd, export named after the disk,
 *   format raw, VIR_DOMAIN_BLOCK_COPY_REUSE_EXT: the receiver is there
 *   already and has the disk's size; libvirt must not try to create it.
 *
 * The event loop: libvirt needs one registered implementation per
 * process, run by a thread of its own.  A periodic timer makes
 * virEventRunDefaultImpl return now and then; nothing else needs it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "common/error.h"
#include "common/timeutil.h"
#include "cdp/hv/libvirt/libvirt.h"
#include "cdp/hv/libvirt/libvirt-xml.h"

DEFINE_VECTOR_TYPE (lv_event_vector, struct lv_event)

struct lv {
  virConnectPtr conn;
  virDomainPtr dom;
  int cb_life, cb_job, cb_added, cb_removed;
  atomic_int refs;                  /* the handle and each callback */
  pthread_mutex_t m;
  pthread_cond_t c;
  lv_event_vector q;
};

/* Make "what: libvirt's message" the last error and return err. */
static int
lv_error (int err, const char *what)
{
  const char *msg = virGetLastErrorMessage ();

  return cdp_set_error (err, "%s%s%s", what, msg && *msg ? ": " : "",
                        msg ? msg : "");
}

/* ---- the event loop ------------------------------------------------------ */

static void
silent (void *opaque, virErrorPtr e)
{
  /* Errors are taken with virGetLastError by whoever called; libvirt's
   * default would print them on stderr as well. */
}

static void
tick (int timer, void *opaque)
{
}

static void *
event_loop (void *arg)
{
  for (;;)
    virEventRunDefaultImpl ();
  return NULL;
}

static int loop_err;

static void
loop_init (void)
{
  pthread_t th;

  virSetErrorFunc (NULL, silent);
  if (virInitialize () < 0 || virEventRegisterDefaultImpl () < 0) {
    loop_err = lv_error (-EIO, "cannot start libvirt's event loop");
    return;
  }
  virEventAddTimeout (1000, tick, NULL, NULL);
  if (pthread_create (&th, NULL, event_loop, NULL) != 0) {
    loop_err = lv_error (-EAGAIN, "cannot start the libvirt event thread");
    return;
  }
  pthread_detach (th);
}

int
lv_event_loop_start (void)
{
  static pthread_once_t once = PTHREAD_ONCE_INIT;

  pthread_once (&once, loop_init);
  return loop_err;
}

/* ---- events -------------------------------------------------------------- */

static void
unref (struct lv *l)
{
  if (atomic_fetch_sub (&l->refs, 1) != 1)
    return;
  lv_event_vector_reset (&l->q);
  pthread_mutex_destroy (&l->m);
  pthread_cond_destroy (&l->c);
  free (l);
}

static void
unref_cb (void *opaque)
{
  unref (opaque);
}

static void
push (struct lv *l, struct lv_event ev)
{
  ev.time_ns = time_now_ns ();
  pthread_mutex_lock (&l->m);
  lv_event_vector_append (&l->q, ev);
  pthread_cond_broadcast (&l->c);
  pthread_mutex_unlock (&l->m);
}

static int
on_lifecycle (virConnectPtr conn, virDomainPtr dom, int event, int detail,
              void *opaque)
{
  push (opaque, (struct lv_event) { .kind = LV_EV_LIFECYCLE, .event = event,
                                    .detail = detail });
  return 0;
}

static void
on_job (virConnectPtr conn, virDomainPtr dom, const char *disk, int type,
        int status, void *opaque)
{
  struct lv_event ev = { .kind = LV_EV_JOB, .type = type, .status = status };

  snprintf (ev.disk, sizeof ev.disk, "%s", disk ? disk : "");
  push (opaque, ev);
}

static void
on_device (virConnectPtr conn, virDomainPtr dom, const char *alias,
           void *opaque)
{
  struct lv_event ev = { .kind = LV_EV_DEVICE };

  snprintf (ev.disk, sizeof ev.disk, "%s", alias ? alias : "");
  push (opaque, ev);
}

static void
on_close (virConnectPtr conn, int reason, void *opaque)
{
  push (opaque, (struct lv_event) { .kind = LV_EV_CLOSED, .event = reason });
}

int
lv_next_event (struct lv *l, int timeout_ms, struct lv_event *ev)
{
  struct timespec until = time_deadline (CLOCK_REALTIME,
                                         timeout_ms * 1000000LL);
  int got = 0;

  pthread_mutex_lock (&l->m);
  while (l->q.len == 0 &&
         pthread_cond_timedwait (&l->c, &l->m, &until) == 0)
    ;
  if (l->q.len > 0) {
    *ev = l->q.ptr[0];
    lv_event_vector_remove (&l->q, 0);
    got = 1;
  }
  pthread_mutex_unlock (&l->m);
  return got;
}

/* ---- connection ---------------------------------------------------------- */

static int
register_events (struct lv *l)
{
  /* Each domain event callback holds a reference, dropped by libvirt
   * (unref_cb) once it lets go of it.  The close callback holds none:
   * a driver without close callbacks (the test driver) accepts the
   * registration, keeps nothing and would never drop one; lv_close
   * unregisters it before its unref, and libvirt does not call it
   * after that returns. */
  atomic_fetch_add (&l->refs, 2);
  l->cb_life = virConnectDomainEventRegisterAny (
      l->conn, l->dom, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
      VIR_DOMAIN_EVENT_CALLBACK (on_lifecycle), l, unref_cb);
  if (l->cb_life < 0)
    atomic_fetch_sub (&l->refs, 1);
  l->cb_job = virConnectDomainEventRegisterAny (
      l->conn, l->dom, VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2,
      VIR_DOMAIN_EVENT_CALLBACK (on_job), l, unref_cb);
  if (l->cb_job < 0)
    atomic_fetch_sub (&l->refs, 1);
  atomic_fetch_add (&l->refs, 2);
  l->cb_added = virConnectDomainEventRegisterAny (
      l->conn, l->dom, VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
      VIR_DOMAIN_EVENT_CALLBACK (on_device), l, unref_cb);
  if (l->cb_added < 0)
    atomic_fetch_sub (&l->refs, 1);
  l->cb_removed = virConnectDomainEventRegisterAny (
      l->conn, l->dom, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
      VIR_DOMAIN_EVENT_CALLBACK (on_device), l, unref_cb);
  if (l->cb_removed < 0)
    atomic_fetch_sub (&l->refs, 1);
  virConnectRegisterCloseCallback (l->conn, on_close, l, NULL);
  if (l->cb_life < 0 || l->cb_job < 0 || l->cb_added < 0 ||
      l->cb_removed < 0)
    return lv_error (-EIO, "cannot follow the domain's events");
  return 0;
}

int
lv_connect (const char *uri, struct lv **lp)
{
  struct lv *l;
  int r = lv_event_loop_start ();

  if (r < 0)
    return r;
  l = calloc (1, sizeof *l);
  if (l == NULL)
    return -ENOMEM;
  atomic_init (&l->refs, 1);
  l->cb_life = l->cb_job = l->cb_added = l->cb_removed = -1;
  pthread_mutex_init (&l->m, NULL);
  pthread_cond_init (&l->c, NULL);
  l->conn = virConnectOpen (uri);
  if (l->conn == NULL) {
    r = lv_error (-ECONNREFUSED, "cannot connect to libvirt");
    lv_close (l);
    return r;
  }
  *lp = l;
  return 0;
}

int
lv_open (const char *uri, const char *domain, struct lv **lp)
{
  struct lv *l;
  int r = lv_connect (uri, &l);

  if (r < 0)
    return r;
  virConnectSetKeepAlive (l->conn, 5, 3);
  l->dom = virDomainLookupByName (l->conn, domain);
  if (l->dom == NULL) {
    cdp_set_error (-ENOENT, "libvirt has no domain '%s'", domain);
    lv_close (l);
    return -ENOENT;
  }
  r = register_events (l);
  if (r < 0) {
    lv_close (l);
    return r;
  }
  *lp = l;
  return 0;
}

void
lv_close (struct lv *l)
{
  if (l == NULL)
    return;
  if (l->conn) {
    if (l->cb_life >= 0)
      virConnectDomainEventDeregisterAny (l->conn, l->cb_life);
    if (l->cb_job >= 0)
      virConnectDomainEventDeregisterAny (l->conn, l->cb_job);
    if (l->cb_added >= 0)
      virConnectDomainEventDeregisterAny (l->conn, l->cb_added);
    if (l->cb_removed >= 0)
      virConnectDomainEventDeregisterAny (l->conn, l->cb_removed);
    virConnectUnregisterCloseCallback (l->conn, on_close);
  }
  if (l->dom)
    virDomainFree (l->dom);
  if (l->conn)
    virConnectClose (l->conn);
  unref (l);
}

/* ---- the domain ------------------------------------------------------------ */

int
lv_domain_active (struct lv *l, bool *active, const char **why)
{
  int state, reason;

  if (virDomainGetState (l->dom, &state, &reason, 0) < 0) {
    virErrorPtr e = virGetLastError ();
    if (e && e->code == VIR_ERR_NO_DOMAIN)
      return lv_error (-ENOENT, "the domain is gone");
    return lv_error (-EIO, "cannot read the domain's state");
  }
  *active = state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_PAUSED ||
            state == VIR_DOMAIN_BLOCKED || state == VIR_DOMAIN_SHUTDOWN ||
            state == VIR_DOMAIN_PMSUSPENDED;
  *why = state == VIR_DOMAIN_CRASHED ? "the domain crashed"
       : state == VIR_DOMAIN_SHUTOFF ? "the domain is shut off" : "";
  return 0;
}

bool
lv_migrating (struct lv *l)
{
  virTypedParameterPtr params = NULL;
  int n = 0, type = VIR_DOMAIN_JOB_NONE, op = 0, state, reason;
  bool migrating = false;

  if (virDomainGetState (l->dom, &state, &reason, 0) == 0 &&
      state == VIR_DOMAIN_PAUSED &&
      (reason == VIR_DOMAIN_PAUSED_MIGRATION ||
       reason == VIR_DOMAIN_PAUSED_POSTCOPY))
    return true;
  if (virDomainGetJobStats (l->dom, &type, &params, &n, 0) == 0) {
    if (type != VIR_DOMAIN_JOB_NONE &&
        virTypedParamsGetInt (params, n, VIR_DOMAIN_JOB_OPERATION, &op) == 1)
      migrating = op == VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN ||
                  op == VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT;
    virTypedParamsFree (params, n);
  }
  return migrating;
}

static char *
live_xml (struct lv *l)
{
  char *xml = virDomainGetXMLDesc (l->dom, 0);

  if (xml == NULL)
    lv_error (-EIO, "cannot read the domain's definition");
  return xml;
}

int
lv_qemu_owner (struct lv *l, uid_t *uid, gid_t *gid)
{
  char *xml = l->dom ? live_xml (l) : NULL;
  char *label = xml ? lvxml_dac_label (xml) : NULL;
  unsigned long u, g;

  free (xml);
  if (label == NULL) {
    char *caps = virConnectGetCapabilities (l->conn);
    label = caps ? lvxml_caps_dac_label (caps) : NULL;
    free (caps);
  }
  *uid = 0;
  *gid = 0;
  if (label && sscanf (label, "+%lu:+%lu", &u, &g) == 2) {
    *uid = (uid_t) u;
    *gid = (gid_t) g;
  }
  free (label);
  return 0;
}

int
lv_disk_size (struct lv *l, const char *target, uint64_t *size)
{
  virDomainBlockInfo info;

  if (virDomainGetBlockInfo (l->dom, target, &info, 0) < 0)
    return lv_error (-EIO, "cannot read the disk's size");
  *size = info.capacity;
  return 0;
}

int
lv_live_disks (struct lv *l, string_vector *out)
{
  char *xml = live_xml (l);
  int r;

  if (xml == NULL)
    return -EIO;
  r = lvxml_disk_targets (xml, out);
  free (xml);
  return r < 0 ? cdp_set_error (r, "cannot read the domain's disks") : 0;
}

/* Detach disk as xml (live or inactive) describes it, with flags. */
static int
detach_from (struct lv *l, const char *disk, char *xml, unsigned flags)
{
  char *elem = xml ? lvxml_disk_element (xml, disk) : NULL;
  int r = 0;

  free (xml);
  if (elem && virDomainDetachDeviceFlags (l->dom, elem, flags) < 0)
    r = lv_error (-EIO, "libvirt did not detach the disk");
  free (elem);
  return r;
}

int
lv_detach (struct lv *l, const char *disk)
{
  int r = detach_from (l, disk, live_xml (l), VIR_DOMAIN_AFFECT_LIVE);

  if (r == 0 && virDomainIsPersistent (l->dom) == 1)
    r = detach_from (l, disk, virDomainGetXMLDesc (l->dom,
                                                   VIR_DOMAIN_XML_INACTIVE),
                     VIR_DOMAIN_AFFECT_CONFIG);
  return r;
}

int
lv_resize (struct lv *l, const char *disk, uint64_t size)
{
  if (virDomainBlockResize (l->dom, disk, size,
                            VIR_DOMAIN_BLOCK_RESIZE_BYTES) < 0)
    return lv_error (-EIO, "the resize failed");
  return 0;
}

int
lv_disks (struct lv *l, lv_disk_vector *out)
{
  char *xml = virDomainGetXMLDesc (l->dom, VIR_DOMAIN_XML_INACTIVE);
  string_vector targets = empty_vector;
  int r = 0;

  if (xml == NULL)
    return lv_error (-EIO, "cannot read the domain's definition");
  lvxml_disk_targets (xml, &targets);
  free (xml);
  for (size_t i = 0; i < targets.len; i++) {
    struct lv_disk d = { targets.ptr[i], 0 };
    if (r == 0 && (r = lv_disk_size (l, d.target, &d.size)) < 0)
      cdp_set_error (r, "disk %.40s: %.400s", d.target, cdp_get_error ());
    if (r < 0 || lv_disk_vector_append (out, d) < 0)
      free (d.target);
  }
  string_vector_reset (&targets);
  if (r < 0)
    lv_disks_free (out);
  return r;
}

void
lv_disks_free (lv_disk_vector *v)
{
  for (size_t i = 0; i < v->len; i++)
    free (v->ptr[i].target);
  lv_disk_vector_reset (v);
}

/* ---- block jobs ------------------------------------------------------------- */

int
lv_job (struct lv *l, const char *disk, const struct lv_dest *dest, int *type,
        uint64_t *cur, uint64_t *end, bool *ours)
{
  virDomainBlockJobInfo info;
  char *xml;
  int r = virDomainGetBlockJobInfo (l->dom, disk, &info, 0);

  if (r < 0)
    return lv_error (-EIO, "cannot read the disk's block job");
  *ours = false;
  if (r == 0)
    return 0;
  *type = info.type;
  *cur = info.cur;
  *end = info.end;
  if (info.type == VIR_DOMAIN_BLOCK_JOB_TYPE_COPY && (xml = live_xml (l))) {
    *ours = lvxml_mirror_is (xml, disk, dest);
    free (xml);
  }
  return 1;
}

int
lv_copy_start (struct lv *l, const char *disk, const struct lv_dest *dest)
{
  char *xml = lvxml_nbd_disk (dest);
  int r = 0;

  if (xml == NULL)
    return -ENOMEM;
  if (virDomainBlockCopy (l->dom, disk, xml, NULL, 0,
                          VIR_DOMAIN_BLOCK_COPY_SYNCHRONOUS_WRITES |
                          VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB |
                          VIR_DOMAIN_BLOCK_COPY_REUSE_EXT) < 0)
    r = lv_error (-EIO, "block copy failed");
  free (xml);
  return r;
}

int
lv_job_abort (struct lv *l, const char *disk)
{
  virDomainBlockJobInfo info;

  if (virDomainBlockJobAbort (l->dom, disk, 0) < 0) {
    virErrorPtr e = virGetLastError ();
    if (e == NULL || e->code != VIR_ERR_OPERATION_INVALID)
      return lv_error (-EIO, "cannot abort the block job");
  }
  for (int i = 0; i < 100; i++) {
    int r = virDomainGetBlockJobInfo (l->dom, disk, &info, 0);
    if (r <= 0)
      return 0;
    usleep (100000);
  }
  return cdp_set_error (-ETIMEDOUT, "the block job on %s did not end",
                        disk);
}

/* ---- rapid recovery ---------------------------------------------------------- */

char *
lv_definition (struct lv *l, bool inactive)
{
  char *xml = virDomainGetXMLDesc (l->dom, VIR_DOMAIN_XML_SECURE |
                                   (inactive ? VIR_DOMAIN_XML_INACTIVE : 0));

  if (xml == NULL)
    lv_error (-EIO, "cannot read the domain's definition");
  return xml;
}

int
lv_persistent (struct lv *l)
{
  int r = virDomainIsPersistent (l->dom);

  return r < 0 ? lv_error (-EIO, "cannot tell whether the domain is "
                           "persistent") : r;
}

int
lv_destroy (struct lv *l)
{
  bool active;
  const char *why;
  int r = lv_domain_active (l, &active, &why);

  if (r < 0 || !active)
    return r;
  if (virDomainDestroy (l->dom) < 0)
    return lv_error (-EIO, "cannot stop the domain");
  return 0;
}

int
lv_define (struct lv *l, const char *xml)
{
  virDomainPtr d = virDomainDefineXML (l->conn, xml);

  if (d == NULL)
    return lv_error (-EIO, "libvirt refused the domain definition");
  virDomainFree (d);
  return 0;
}

int
lv_start (struct lv *l, const char *xml)
{
  virDomainPtr d;

  if (xml == NULL) {
    if (virDomainCreate (l->dom) < 0)
      return lv_error (-EIO, "cannot start the domain");
    return 0;
  }
  d = virDomainCreateXML (l->conn, xml, 0);
  if (d == NULL)
    return lv_error (-EIO, "cannot start the domain");
  virDomainFree (d);
  return 0;
}

int
lv_pull_start (struct lv *l, const char *disk, unsigned long mib_per_s)
{
  if (virDomainBlockPull (l->dom, disk, mib_per_s, 0) < 0)
    return lv_error (-EIO, "cannot start streaming the disk in");
  return 0;
}

int
lv_has_backing (struct lv *l, const char *disk, bool inactive)
{
  char *xml = lv_definition (l, inactive);
  int r;

  if (xml == NULL)
    return -EIO;
  r = lvxml_has_backing (xml, disk);
  free (xml);
  return r;
}

/* ---- the guest agent --------------------------------------------------------- */

static int
agent_error (const char *what)
{
  virErrorPtr e = virGetLastError ();
  int code = e ? e->code : 0;

  return lv_error (code == VIR_ERR_AGENT_UNRESPONSIVE ||
                   code == VIR_ERR_ARGUMENT_UNSUPPORTED ||
                   code == VIR_ERR_OPERATION_UNSUPPORTED ||
                   code == VIR_ERR_NO_SUPPORT ||
                   code == VIR_ERR_OPERATION_INVALID ? -ENOTSUP : -EIO, what);
}

int
lv_freeze (struct lv *l)
{
  int n;

  virDomainAgentSetResponseTimeout (l->dom, 10, 0);
  n = virDomainFSFreeze (l->dom, NULL, 0, 0);
  return n < 0 ? agent_error ("no file system freeze") : n;
}

int
lv_thaw (struct lv *l)
{
  int n = virDomainFSThaw (l->dom, NULL, 0, 0);

  return n < 0 ? agent_error ("cannot thaw the guest's file systems") : n;
}

/* ---- names ------------------------------------------------------------------- */

const char *
lv_job_type_name (int type)
{
  switch (type) {
  case VIR_DOMAIN_BLOCK_JOB_TYPE_PULL: return "pull";
  case VIR_DOMAIN_BLOCK_JOB_TYPE_COPY: return "copy";
  case VIR_DOMAIN_BLOCK_JOB_TYPE_COMMIT: return "commit";
  case VIR_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT: return "active commit";
  case VIR_DOMAIN_BLOCK_JOB_TYPE_BACKUP: return "backup";
  default: return "unknown";
  }
}

const char *
lv_lifecycle_name (int event, int detail)
{
  if (event == VIR_DOMAIN_EVENT_STOPPED)
    switch (detail) {
    case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN: return "the domain shut down";
    case VIR_DOMAIN_EVENT_STOPPED_DESTROYED: return "the domain was destroyed";
    case VIR_DOMAIN_EVENT_STOPPED_CRASHED: return "the domain crashed";
    case VIR_DOMAIN_EVENT_STOPPED_MIGRATED: return "the domain migrated away";
    case VIR_DOMAIN_EVENT_STOPPED_SAVED: return "the domain was saved";
    case VIR_DOMAIN_EVENT_STOPPED_FAILED: return "the domain failed";
    default: return "the domain stopped";
    }
  if (event == VIR_DOMAIN_EVENT_CRASHED)
    return "the domain crashed";
  if (event == VIR_DOMAIN_EVENT_UNDEFINED)
    return "the domain was undefined";
  return "";
}
