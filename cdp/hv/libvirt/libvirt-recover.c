/* cdp recover in libvirt mode: the domain on the point.  --as NEW
 * defines and starts a clone of the protected domain on the overlays;
 * --in-place stops the domain, redefines it on the overlays and starts
 * it; a domain that is gone is defined from the copy of its definition
 * that cdp serve kept (TASK/domain.xml).  --resume starts the recorded
 * domain again if it is off.  The export is served to QEMU's user, read
 * from the domain.  (cli/cmd-recover.c does the rest; rapid.h.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "cdp/hv/hv.h"
#include "cdp/hv/libvirt/libvirt.h"
#include "cdp/hv/libvirt/libvirt-xml.h"
#include "cdp/rapid/rapid.h"
#include "common/fileio.h"

static const char *
src_domain (const struct rapid *c)
{
  return c->t->domain;
}

/* The protected domain's definition: libvirt's, or the copy cdp serve
 * kept (TASK/domain.xml) when the domain is gone.  *src is a connection
 * that follows the domain when it exists. */
static char *
source_definition (struct rapid *c, struct lv **src, bool *persistent, bool *gone,
                   char *why, size_t len)
{
  char *path, *xml;
  int e = lv_open (c->t->connect, src_domain (c), src);

  *gone = e == -ENOENT;
  if (e == 0) {
    *persistent = lv_persistent (*src) > 0;
    return lv_definition (*src, *persistent);
  }
  if (e != -ENOENT || lv_connect (c->t->connect, src) < 0) {
    snprintf (why, len, "%s", cdp_get_error ());
    return NULL;
  }
  path = task_path (c->t, "domain.xml");
  e = path ? fio_read (path, &xml, NULL) : -ENOMEM;
  if (e == -ENOMEM && path == NULL)
    snprintf (why, len, "domain %s is gone: %s", src_domain (c),
              strerror (ENOMEM));
  else if (e == -ENOENT)
    snprintf (why, len, "domain %s is gone, and cdp serve kept no copy of "
              "its definition", src_domain (c));
  else if (e < 0)
    snprintf (why, len, "domain %s is gone, and its copy %s cannot be read: "
              "%s", src_domain (c), path, strerror (-e));
  free (path);
  *persistent = true;
  return xml;
}

/* Define and start the domain on the overlays (step 4). */
static int
start_domain (struct rapid *c, const char *as)
{
  struct lv *src = NULL;
  struct lvxml_overlay ov[8];
  string_vector dropped = empty_vector;
  char *xml, *nx = NULL;
  const char *name = as ? as : src_domain (c);
  uid_t uid;
  gid_t gid;
  bool persistent, gone;
  char why[512];
  int e = -1;

  xml = source_definition (c, &src, &persistent, &gone, why, sizeof why);
  if (xml == NULL) {
    rapid_failed (c, "%s", why);
    goto out;
  }
  lv_qemu_owner (src, &uid, &gid);
  if (rapid_start_export (c, uid, gid) != 0 || rapid_create_overlays (c) != 0)
    goto out;
  for (size_t i = 0; i < c->r.disks.len && i < 8; i++)
    ov[i] = (struct lvxml_overlay) {
      .target = c->r.disks.ptr[i].disk, .path = c->r.disks.ptr[i].overlay,
      .socket = c->r.socket, .export_name = c->r.disks.ptr[i].disk };
  nx = lvxml_recovered (xml, as, ov, c->r.disks.len, &dropped);
  if (nx == NULL) {
    rapid_failed (c, "cannot make the recovered domain's definition from %s's",
                  src_domain (c));
    goto out;
  }
  for (size_t i = 0; i < dropped.len; i++)
    fprintf (stderr, "cdp: disk %s of %s is not recovered: %s runs without "
             "it (two domains must not write one disk)\n", dropped.ptr[i],
             src_domain (c), as);
  if (gone)
    fprintf (stderr, "cdp: domain %s is gone: %s is defined from the copy of "
             "its definition that cdp serve kept\n", src_domain (c), name);
  /* In place, the domain's history is in the journal up to this instant. */
  if (!as && !gone && (e = lv_destroy (src)) < 0) {
    rapid_failed (c, "domain %s: %s", name, cdp_get_error ());
    goto out;
  }
  if (!persistent) {
    if ((e = lv_start (src, nx)) == 0)
      e = lv_open (c->t->connect, name, &c->l);
  }
  else if ((e = lv_define (src, nx)) == 0 &&
           (e = lv_open (c->t->connect, name, &c->l)) == 0)
    e = lv_start (c->l, NULL);
  if (e < 0) {
    char msg[512];
    snprintf (msg, sizeof msg, "%s", cdp_get_error ());
    /* In place, give the domain its own definition back. */
    if (!as && persistent && lv_define (src, xml) == 0)
      rapid_failed (c, "domain %s did not start on the point (%s); its own "
                    "definition is back, and it is off", name, msg);
    else
      rapid_failed (c, "domain %s: %s", name, msg);
  }

 out:
  for (size_t i = 0; i < dropped.len; i++)
    free (dropped.ptr[i]);
  string_vector_reset (&dropped);
  free (xml);
  free (nx);
  lv_close (src);
  return e < 0 ? -1 : 0;
}

/* The domain this recovery runs (--as NEW, or the task's own), which
 * must not exist yet under a new name. */
static int
plan (struct rapid *c, const char *as)
{
  int e;

  c->r.domain = strdup (as ? as : c->t->domain);
  if (as && (e = lv_open (c->t->connect, as, &c->l)) != -ENOENT) {
    lv_close (c->l);
    c->l = NULL;
    return fail (e == 0 ? "domain %s exists already: recover as a new name"
                        : "%s", e == 0 ? as : cdp_get_error ());
  }
  return 0;
}

static int
start (struct rapid *c, const char *as)
{
  return start_domain (c, as) != 0 ? EXIT_FAIL : 0;
}

/* The recorded domain again: the export to its QEMU's user, and the
 * domain started if it is off. */
static int
resume (struct rapid *c)
{
  uid_t uid = 0;
  gid_t gid = 0;
  bool active;
  const char *why;

  if (lv_open (c->r.connect, c->r.domain, &c->l) < 0)
    return fail ("%s", cdp_get_error ());
  lv_qemu_owner (c->l, &uid, &gid);
  if (rapid_start_export (c, uid, gid) != 0)
    return EXIT_FAIL;
  if (lv_domain_active (c->l, &active, &why) < 0)
    return fail ("%s", cdp_get_error ());
  if (!active && lv_start (c->l, NULL) < 0)
    return fail ("cannot start %s: %s", c->r.domain, cdp_get_error ());
  fprintf (c->json ? stderr : stdout, "resumed: %s reads the point from the "
           "store again\n", c->r.domain);
  fflush (stdout);
  return 0;
}

const struct hv_recover libvirt_recover = {
  .plan = plan,
  .start = start,
  .resume = resume,
};
