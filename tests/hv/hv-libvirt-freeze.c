/* The libvirt driver's freeze for `cdp mark --freeze`: the guest agent
 * freezes the file systems of the task's domain (here libvirt's test
 * driver, test:///, which acts as a guest agent that answers), and the
 * handle thaws them; a domain that does not run is not frozen, said in
 * one line, and one libvirt does not have neither. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* A task of domain name on a test:/// node file holding one domain,
 * running or shut off. */
static struct task *
task_on (const char *store, const char *name, bool running)
{
  struct task *t = calloc (1, sizeof *t);
  char *path = path_join (store, "node.xml");
  FILE *f = fopen (path, "w");

  cr_assert_not_null (f);
  fprintf (f, "<node><domain type='test' xmlns:test='http://libvirt.org/"
           "schemas/domain/test/1.0'><name>%s</name><memory>65536</memory>"
           "<os><type>hvm</type></os><devices><disk type='file' "
           "device='disk'><source file='/var/lib/hv-test/a.img'/><target "
           "dev='vda' bus='virtio'/></disk></devices>%s</domain></node>\n",
           "hvdom", running ? "" : "<test:runstate>5</test:runstate>");
  cr_assert_eq (fclose (f), 0);
  t->name = strdup ("l");
  t->hv = hv_by_name ("libvirt");
  t->domain = strdup (name);
  cr_assert_geq (asprintf (&t->connect, "test://%s", path), 0);
  free (path);
  return t;
}

Test (hv_libvirt_freeze, froze_and_thawed)
{
  const struct hv_driver *d = hv_by_name ("libvirt");
  char *store = h_store (), msg[512] = "";
  struct task *t = task_on (store, "hvdom", true);
  struct hv_frozen *f = d->freeze (t, msg, sizeof msg);

  cr_assert_not_null (f, "%s", msg);
  cr_assert (strncmp (msg, "froze ", 6) == 0, "%s", msg);
  cr_assert (strstr (msg, " file system") != NULL, "%s", msg);
  cr_assert (strstr (msg, " of hvdom") != NULL, "%s", msg);
  cr_assert_eq (d->thaw (f, msg, sizeof msg), 0, "%s", msg);
  task_free (t);
  h_store_remove (store);
}

Test (hv_libvirt_freeze, domain_off)
{
  const struct hv_driver *d = hv_by_name ("libvirt");
  char *store = h_store (), msg[512] = "";
  struct task *t = task_on (store, "hvdom", false);

  cr_assert_null (d->freeze (t, msg, sizeof msg));
  cr_assert (strncmp (msg, "not frozen (", 12) == 0, "%s", msg);
  cr_assert (strstr (msg, "not running") != NULL, "%s", msg);
  cr_assert_null (strchr (msg, '\n'), "%s", msg);
  task_free (t);
  h_store_remove (store);
}

Test (hv_libvirt_freeze, no_such_domain)
{
  const struct hv_driver *d = hv_by_name ("libvirt");
  char *store = h_store (), msg[512] = "";
  struct task *t = task_on (store, "nosuch", true);

  cr_assert_null (d->freeze (t, msg, sizeof msg));
  cr_assert (strncmp (msg, "not frozen: ", 12) == 0, "%s", msg);
  cr_assert (strstr (msg, "nosuch") != NULL, "%s", msg);
  task_free (t);
  h_store_remove (store);
}
