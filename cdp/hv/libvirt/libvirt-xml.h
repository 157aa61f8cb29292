/* cdp: reading and writing the bits of libvirt XML the libvirt driver
 * needs (libxml2 with XPath).  Strings handed out are malloc'd; NULL
 * means absent (or the XML did not parse).  Thread-safe. */
#ifndef CDP_LIBVIRT_XML_H
#define CDP_LIBVIRT_XML_H

#include <stdbool.h>

#include "cdp/hv/libvirt/libvirt.h"
#include "common/vector.h"

/* The targets of <disk device='disk'> elements, in document order. */
int lvxml_disk_targets (const char *xml, string_vector *out);

/* The <disk> element of disk `target` (its whole XML, as libvirt takes
 * it to detach the device), or NULL when the domain has none. */
char *lvxml_disk_element (const char *xml, const char *target);

/* The DAC label of a live domain ("+UID:+GID"), or of libvirt's
 * capabilities for QEMU domains. */
char *lvxml_dac_label (const char *xml);
char *lvxml_caps_dac_label (const char *caps);

/* Does the <mirror> of disk `target` in a live domain XML write to
 * dest? */
bool lvxml_mirror_is (const char *xml, const char *target,
                      const struct lv_dest *dest);

/* The destination <disk type='network'> of a block copy to dest. */
char *lvxml_nbd_disk (const struct lv_dest *dest);

/* Does disk `target` still have a backing store (1) or stand alone (0)? */
int lvxml_has_backing (const char *xml, const char *target);

/* A recovered disk: its overlay, backed by an NBD export on a unix
 * socket. */
struct lvxml_overlay {
  const char *target, *path, *socket, *export_name;
};

/* The definition of a recovered domain, from the protected domain's
 * inactive XML: the disks named in ov point at their overlays (qcow2,
 * <backingStore> the export).  With new_name (--as), a clone that can run
 * next to the original: the new name, no UUID, no MAC addresses and no
 * NVRAM file (libvirt makes new ones), files of character devices
 * renamed, and the writable disks that are not recovered left out (their
 * targets appended to dropped).  NULL when the XML does not parse. */
char *lvxml_recovered (const char *xml, const char *new_name,
                       const struct lvxml_overlay *ov, size_t n,
                       string_vector *dropped);

#endif
