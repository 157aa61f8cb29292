/* cdp/hv/libvirt: libvirt mode.  The task protects disks of a libvirt
 * domain (--domain, --connect): task create asks libvirt for them, the
 * protector (libvirt-protect.c) block-copies each to the receiver, whose
 * socket is in TASK/qemu/ (QEMU runs as a user of its own, and only that
 * directory is opened to its group) unless --listen says where.  The
 * guest agent freezes the file systems for `cdp mark --freeze`, and
 * rapid recovery starts the domain on the point (libvirt-recover.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "cdp/hv/hv.h"
#include "cdp/hv/libvirt/libvirt.h"

static const struct option options[] = {
  { "domain", required_argument, 0, 0 },
  { "disk", required_argument, 0, 0 },
  { "connect", required_argument, 0, 0 },
  { 0 } };

static int
libvirt_opt (struct hv_create *c, const char *name, const char *arg)
{
  char **keep = strcmp (name, "domain") == 0 ? &c->t->domain
              : strcmp (name, "connect") == 0 ? &c->t->connect : NULL;

  if (keep) {
    free (*keep);
    *keep = strdup (arg);
  }
  return 0;
}

/* QEMU must be told a host to connect to, no disk is named twice, TLS
 * is X.509, and --disk comes with --domain. */
static int
libvirt_check (const char *store, const struct hv_create *c)
{
  const struct task *t = c->t;
  string_vector targets = empty_vector;
  int r = 0;

  (void) store;
  if (hv_create_args (c, "disk", &targets) < 0) {
    string_vector_reset (&targets);
    return fail ("task create: %s", strerror (ENOMEM));
  }
  if (t->domain && t->listen && strncmp (t->listen, "tcp::", 5) == 0)
    r = usage_error ("--listen: QEMU connects to HOST: name it "
                     "(tcp:HOST:PORT), not '%s'", t->listen);
  for (size_t i = 0; r == 0 && i < targets.len; i++)
    for (size_t k = 0; r == 0 && k < i; k++)
      if (strcmp (targets.ptr[i], targets.ptr[k]) == 0)
        r = usage_error ("--disk %s is given twice", targets.ptr[i]);
  if (r == 0 && t->domain && t->lo.tls_psk)
    r = usage_error ("--tls-psk: libvirt's NBD client uses X.509 only; give "
                     "--tls-creds DIR");
  if (r == 0 && !t->domain && targets.len)
    r = usage_error ("--disk names disks of a libvirt domain: give --domain");
  string_vector_reset (&targets);
  return r;
}

static bool
libvirt_wanted (const struct hv_create *c)
{
  return c->t->domain != NULL;
}

/* The disks of the libvirt domain: those named, or all of them. */
static int
libvirt_disks (struct task *t, string_vector *named)
{
  lv_disk_vector all = empty_vector;
  struct lv *l;
  int e = lv_open (t->connect, t->domain, &l);

  if (e < 0)
    return fail ("%s", cdp_get_error ());
  e = lv_disks (l, &all);
  lv_close (l);
  if (e < 0)
    return fail ("domain %s: %s", t->domain, cdp_get_error ());
  for (size_t i = 0; e == 0 && i < named->len; i++) {
    size_t k = 0;
    while (k < all.len && strcmp (all.ptr[k].target, named->ptr[i]) != 0)
      k++;
    if (k == all.len)
      e = fail ("domain %s has no disk '%s'", t->domain, named->ptr[i]);
  }
  for (size_t k = 0; e == 0 && k < all.len; k++) {
    bool want = named->len == 0;
    for (size_t i = 0; i < named->len; i++)
      want |= strcmp (all.ptr[k].target, named->ptr[i]) == 0;
    if (want)
      e = hv_add_disk (t, all.ptr[k].target, all.ptr[k].size);
  }
  lv_disks_free (&all);
  /* Without --disk the task protects the domain's disks, later ones too. */
  t->all_disks = named->len == 0;
  if (e == 0 && t->disks.len == 0)
    e = fail ("domain %s has no disks", t->domain);
  return e < 0 ? EXIT_FAIL : e;
}

static int
libvirt_create_disks (struct hv_create *c)
{
  string_vector targets = empty_vector;
  int r;

  if (hv_create_arg (c, "qmp") || hv_create_arg (c, "size"))
    return usage_error ("--domain takes neither --qmp nor --size");
  r = hv_create_args (c, "disk", &targets) < 0
        ? fail ("task create: %s", strerror (ENOMEM))
        : libvirt_disks (c->t, &targets);
  string_vector_reset (&targets);
  return r;
}

/* ---- mark --freeze ------------------------------------------------------ */

/* The guest agent freezes the file systems of the task's domain, so
 * that the bookmark is a consistent point. */
static struct hv_frozen *
libvirt_freeze (const struct task *t, char *msg, size_t len)
{
  struct lv *l;
  int n;

  if (lv_open (t->connect, t->domain, &l) < 0) {
    snprintf (msg, len, "not frozen: %s", cdp_get_error ());
    return NULL;
  }
  n = lv_freeze (l);
  if (n < 0) {
    snprintf (msg, len, "not frozen (%s): %s",
              n == -ENOTSUP ? "no guest agent answers" : "freeze failed",
              cdp_get_error ());
    lv_close (l);
    return NULL;
  }
  snprintf (msg, len, "froze %d file system%s of %s", n, n == 1 ? "" : "s",
            t->domain);
  return (struct hv_frozen *) l;
}

static int
libvirt_thaw (struct hv_frozen *f, char *msg, size_t len)
{
  struct lv *l = (struct lv *) f;
  int e = lv_thaw (l);

  if (e < 0)
    snprintf (msg, len, "cannot thaw the guest: %s", cdp_get_error ());
  lv_close (l);
  return e < 0 ? e : 0;
}

static const char create_help[] =
  "libvirt: every disk of DOM unless --disk names some; the receiver listens\n"
  "         on a unix socket in the task unless --listen says where (tcp for\n"
  "         a hypervisor on another host: HOST is where QEMU connects)\n";

const struct hv_driver hv_libvirt = {
  .name = "libvirt",
  .create_usage = "--domain DOM [--disk TARGET]... [--connect URI]\n"
                  "                            [--listen unix:PATH|tcp:HOST:PORT] [POLICY]",
  .create_help = create_help,
  .create_options = options,
  .create_opt = libvirt_opt,
  .create_check = libvirt_check,
  .create_wanted = libvirt_wanted,
  .create_needs = "--domain",
  .create_disks = libvirt_create_disks,
  .initial_state = "starting",
  .protector = libvirt_protector,
  .initial_copy = true,
  .socket_dir = "qemu",
  .disk_requests = true,
  .freeze = libvirt_freeze,
  .thaw = libvirt_thaw,
  .recover = &libvirt_recover,
};
