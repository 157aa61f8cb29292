/* The definition of a recovered domain (cdp/hv/libvirt/libvirt-xml.c):
 * what a clone (--as) and an in-place recovery change, and what they
 * keep. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/hv/libvirt/libvirt-xml.h"

static const char domain[] =
  "<domain type='qemu'>"
  "<name>web</name><uuid>6f1c7c3e-0a8e-4d3b-9f5e-1d2c3b4a5968</uuid>"
  "<memory unit='MiB'>512</memory>"
  "<os><type arch='x86_64' machine='pc'>hvm</type>"
  "<nvram>/var/lib/libvirt/qemu/nvram/web_VARS.fd</nvram></os>"
  "<devices>"
  "<disk type='block' device='disk'><driver name='qemu' type='raw' cache='none'/>"
  "<source dev='/dev/vg/web'/><target dev='vda' bus='virtio'/></disk>"
  "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
  "<source file='/img/web-data.qcow2'/><target dev='vdb' bus='virtio'/></disk>"
  "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
  "<source file='/img/shared.raw'/><target dev='vdc' bus='virtio'/><readonly/></disk>"
  "<disk type='file' device='cdrom'><source file='/img/boot.iso'/>"
  "<target dev='sda' bus='sata'/><readonly/></disk>"
  "<interface type='network'><mac address='52:54:00:12:34:56'/>"
  "<source network='default'/></interface>"
  "<serial type='file'><source path='/var/log/web.console'/></serial>"
  "<console type='file'><source path='/var/log/console.log'/></console>"
  "<channel type='unix'><source mode='bind' path='/run/web.agent'/>"
  "<target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
  "<graphics type='vnc' port='5901' autoport='no'/>"
  "</devices></domain>";

static const struct lvxml_overlay vda = {
  .target = "vda", .path = "/img/web-rec.qcow2",
  .socket = "/var/lib/cdp/tasks/web/qemu/recover.sock", .export_name = "vda",
};

static bool
has (const char *xml, const char *s)
{
  return strstr (xml, s) != NULL;
}

Test (recovered, clone)
{
  string_vector dropped = empty_vector;
  char *x = lvxml_recovered (domain, "web-rec", &vda, 1, &dropped);

  cr_assert_not_null (x);
  cr_expect (has (x, "<name>web-rec</name>"));
  cr_expect (!has (x, "<uuid>"), "the clone gets a UUID of its own");
  cr_expect (!has (x, "52:54:00:12:34:56"), "the clone gets new MACs");
  cr_expect (!has (x, "<nvram>"));
  cr_expect (has (x, "/var/log/web-rec.console"), "the old name is replaced");
  cr_expect (has (x, "/var/log/console.log-web-rec"), "else the new one appended");
  cr_expect (!has (x, "/run/web.agent"), "libvirt picks the agent's socket");
  cr_expect (has (x, "autoport=\"yes\"") && !has (x, "5901"));
  /* vda: the overlay over the export. */
  cr_expect (has (x, "<source file=\"/img/web-rec.qcow2\"/>"));
  cr_expect (has (x, "type=\"qcow2\""));
  cr_expect (has (x, "cache=\"none\""), "other driver settings stay");
  cr_expect (!has (x, "/dev/vg/web"));
  cr_expect (has (x, "<backingStore type=\"network\"><format type=\"raw\"/>"
                  "<source protocol=\"nbd\" name=\"vda\"><host transport=\"unix\" "
                  "socket=\"/var/lib/cdp/tasks/web/qemu/recover.sock\"/></source>"
                  "<backingStore/></backingStore>"));
  /* vdb: writable and not recovered: left out; vdc, sda: read-only, kept. */
  cr_expect (!has (x, "web-data.qcow2"));
  cr_assert_eq (dropped.len, 1);
  cr_expect_str_eq (dropped.ptr[0], "vdb");
  cr_expect (has (x, "/img/shared.raw") && has (x, "/img/boot.iso"));
  cr_expect_eq (lvxml_has_backing (x, "vda"), 1);
  cr_expect_eq (lvxml_has_backing (x, "vdc"), 0);
  free (dropped.ptr[0]);
  string_vector_reset (&dropped);
  free (x);
}

Test (recovered, in_place)
{
  string_vector dropped = empty_vector;
  char *x = lvxml_recovered (domain, NULL, &vda, 1, &dropped);

  cr_assert_not_null (x);
  cr_expect (has (x, "<name>web</name>"));
  cr_expect (has (x, "6f1c7c3e-0a8e-4d3b-9f5e-1d2c3b4a5968"));
  cr_expect (has (x, "52:54:00:12:34:56") && has (x, "/var/log/web.console"));
  cr_expect (has (x, "web-data.qcow2"), "other disks stay as they are");
  cr_expect_eq (dropped.len, 0);
  cr_expect (has (x, "<source file=\"/img/web-rec.qcow2\"/>"));
  free (x);
}

Test (recovered, names_escaped)
{
  struct lvxml_overlay o = vda;
  string_vector dropped = empty_vector;
  char *x;

  o.path = "/img/a&b'<c>.qcow2";
  x = lvxml_recovered (domain, "r&d", &o, 1, &dropped);
  cr_assert_not_null (x);
  cr_expect (has (x, "<name>r&amp;d</name>"));
  cr_expect (has (x, "/img/a&amp;b'&lt;c&gt;.qcow2"));
  for (size_t i = 0; i < dropped.len; i++)
    free (dropped.ptr[i]);
  string_vector_reset (&dropped);
  free (x);
}

Test (recovered, garbage)
{
  string_vector dropped = empty_vector;

  cr_expect_null (lvxml_recovered ("<domain", "x", &vda, 1, &dropped));
  cr_expect_eq (lvxml_has_backing ("not xml", "vda"), 0);
}
