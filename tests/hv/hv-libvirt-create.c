/* The libvirt driver's task create: --domain and its disks (all, or
 * those --disk names) from libvirt, here its test driver (test:///, a
 * node described in a file: no libvirtd); what is refused before
 * libvirt is asked (a disk named twice, a tcp listener without a host,
 * PSK, --disk without --domain, --domain with --qmp or --size) and
 * after (no such domain, no such disk), each in one line.  The mode has
 * a protector and an initial copy, its sockets in TASK/qemu/, a guest
 * freeze and a VM it starts on a recovered point. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char node_xml[] =
  "<node>\n"
  "  <domain type='test'>\n"
  "    <name>hvdom</name>\n"
  "    <memory>65536</memory>\n"
  "    <os><type>hvm</type></os>\n"
  "    <devices>\n"
  "      <disk type='file' device='disk'>\n"
  "        <source file='/var/lib/hv-test/a.img'/>\n"
  "        <target dev='vda' bus='virtio'/>\n"
  "      </disk>\n"
  "      <disk type='file' device='disk'>\n"
  "        <source file='/var/lib/hv-test/b.img'/>\n"
  "        <target dev='vdb' bus='virtio'/>\n"
  "      </disk>\n"
  "      <disk type='file' device='cdrom'>\n"
  "        <target dev='sda' bus='sata'/>\n"
  "      </disk>\n"
  "    </devices>\n"
  "  </domain>\n"
  "</node>\n";

/* The test driver's URI for a node file in store (malloc'd). */
static char *
test_uri (const char *store)
{
  char *path = path_join (store, "node.xml"), *uri;
  FILE *f = fopen (path, "w");

  cr_assert_not_null (f);
  cr_assert_eq (fputs (node_xml, f) >= 0, true);
  cr_assert_eq (fclose (f), 0);
  cr_assert_geq (asprintf (&uri, "test://%s", path), 0);
  free (path);
  return uri;
}

Test (hv_libvirt_create, every_disk)
{
  char *store = h_store (), *uri = test_uri (store);
  const char *args[] = { "--domain", "hvdom", "--connect", uri, NULL };
  struct task *t;

  cr_assert_eq (h_create (store, args, &t), 0);
  cr_assert_eq (t->hv, hv_by_name ("libvirt"));
  cr_assert_str_eq (t->domain, "hvdom");
  cr_assert_str_eq (t->connect, uri);
  cr_assert_eq (t->disks.len, 2);          /* the cdrom is no disk */
  cr_assert_str_eq (t->disks.ptr[0].name, "vda");
  cr_assert_str_eq (t->disks.ptr[1].name, "vdb");
  cr_assert_eq (t->disks.ptr[1].id, 1);
  cr_assert_gt (t->disks.ptr[0].size, 0);
  h_task_free (t);
  free (uri);
  h_store_remove (store);
}

Test (hv_libvirt_create, disks_named)
{
  char *store = h_store (), *uri = test_uri (store);
  const char *args[] = { "--domain", "hvdom", "--connect", uri, "--disk", "vdb", NULL };
  struct task *t;

  cr_assert_eq (h_create (store, args, &t), 0);
  cr_assert_eq (t->disks.len, 1);
  cr_assert_str_eq (t->disks.ptr[0].name, "vdb");
  cr_assert_eq (t->disks.ptr[0].id, 0);
  h_task_free (t);
  free (uri);
  h_store_remove (store);
}

/* What create said, and that it made no disk. */
static char *
refused (int code, const char *const *args)
{
  char *store = h_store (), *said;
  struct task *t;
  int r;

  h_stderr_begin ();
  r = h_create (store, args, &t);
  said = h_stderr_end ();
  cr_assert_eq (r, code, "%s", said);
  cr_assert_eq (t->disks.len, 0);
  cr_assert_eq (strchr (said, '\n'), said + strlen (said) - 1, "not one line: %s", said);
  h_task_free (t);
  h_store_remove (store);
  return said;
}

Test (hv_libvirt_create, no_such_disk)
{
  char *store = h_store (), *uri = test_uri (store), *said;
  const char *args[] = { "--domain", "hvdom", "--connect", uri, "--disk", "vdz", NULL };

  said = refused (EXIT_FAIL, args);
  cr_assert_str_eq (said, "cdp: domain hvdom has no disk 'vdz'\n");
  free (said);
  free (uri);
  h_store_remove (store);
}

Test (hv_libvirt_create, no_such_domain)
{
  char *store = h_store (), *uri = test_uri (store), *said;
  const char *args[] = { "--domain", "nosuch", "--connect", uri, NULL };

  said = refused (EXIT_FAIL, args);
  cr_assert (strstr (said, "no domain 'nosuch'"), "%s", said);
  free (said);
  free (uri);
  h_store_remove (store);
}

/* Refused before libvirt is asked: the URI names nothing that exists. */
static void
expect_usage (const char *line, const char *const *args)
{
  char *said = refused (EXIT_USAGE, args);

  cr_assert_str_eq (said, line);
  free (said);
}

Test (hv_libvirt_create, disk_twice)
{
  static const char *const args[] = { "--domain", "d", "--connect",
    "test:///nonexistent.xml", "--disk", "vda", "--disk", "vda", NULL };

  expect_usage ("cdp: --disk vda is given twice\n", args);
}

Test (hv_libvirt_create, listen_without_host)
{
  static const char *const args[] = { "--domain", "d", "--connect",
    "test:///nonexistent.xml", "--listen", "tcp::10809", "--no-tls", NULL };

  expect_usage ("cdp: --listen: QEMU connects to HOST: name it (tcp:HOST:PORT), "
                "not 'tcp::10809'\n", args);
}

Test (hv_libvirt_create, psk)
{
  static const char *const args[] = { "--domain", "d", "--connect",
    "test:///nonexistent.xml", "--listen", "tcp:h:10809", "--tls-psk",
    "/nonexistent/keys.psk", NULL };

  expect_usage ("cdp: --tls-psk: libvirt's NBD client uses X.509 only; give "
                "--tls-creds DIR\n", args);
}

Test (hv_libvirt_create, disk_without_domain)
{
  static const char *const args[] = { "--disk", "vda", "--size", "8M",
    "--listen", "unix:/run/x.sock", NULL };

  expect_usage ("cdp: --disk names disks of a libvirt domain: give --domain\n",
                args);
}

/* --domain wins over the other modes' options, and refuses them. */
Test (hv_libvirt_create, domain_with_other_modes)
{
  static const char *const qmp[] = { "--domain", "d", "--qmp", "/q.sock",
    "--node", "n", NULL };
  static const char *const size[] = { "--domain", "d", "--size", "8M", NULL };

  expect_usage ("cdp: --domain takes neither --qmp nor --size\n", qmp);
  expect_usage ("cdp: --domain takes neither --qmp nor --size\n", size);
}

Test (hv_libvirt_create, what_the_mode_does)
{
  const struct hv_driver *d = hv_by_name ("libvirt");

  cr_assert_not_null (d->protector);
  cr_assert_str_eq (d->initial_state, "starting");
  cr_assert (d->initial_copy);
  cr_assert_str_eq (d->socket_dir, "qemu");
  cr_assert_not_null (d->freeze);
  cr_assert_not_null (d->recover);
  cr_assert_null (d->show_note);
}
