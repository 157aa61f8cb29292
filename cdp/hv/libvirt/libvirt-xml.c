/* cdp: the libvirt XML the libvirt driver reads and writes.  See
 * libvirt-xml.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "cdp/hv/libvirt/libvirt-xml.h"

struct doc {
  xmlDocPtr doc;
  xmlXPathContextPtr ctx;
};

static bool
doc_open (struct doc *d, const char *xml)
{
  d->doc = xmlReadMemory (xml, (int) strlen (xml), "libvirt.xml", NULL,
                          XML_PARSE_NONET | XML_PARSE_NOERROR |
                          XML_PARSE_NOWARNING);
  d->ctx = d->doc ? xmlXPathNewContext (d->doc) : NULL;
  if (d->ctx == NULL) {
    xmlFreeDoc (d->doc);
    return false;
  }
  return true;
}

static void
doc_close (struct doc *d)
{
  xmlXPathFreeContext (d->ctx);
  xmlFreeDoc (d->doc);
}

/* The string value of an XPath expression ("string(...)"), or NULL when
 * it is empty. */
static char *
xpath_string (struct doc *d, const char *expr)
{
  xmlXPathObjectPtr o = xmlXPathEvalExpression (BAD_CAST expr, d->ctx);
  char *s = NULL;

  if (o && o->type == XPATH_STRING && o->stringval && o->stringval[0])
    s = strdup ((const char *) o->stringval);
  xmlXPathFreeObject (o);
  return s;
}

static char *
one_string (const char *xml, const char *expr)
{
  struct doc d;
  char *s;

  if (!doc_open (&d, xml))
    return NULL;
  s = xpath_string (&d, expr);
  doc_close (&d);
  return s;
}

int
lvxml_disk_targets (const char *xml, string_vector *out)
{
  struct doc d;
  xmlXPathObjectPtr o;

  if (!doc_open (&d, xml))
    return -EINVAL;
  o = xmlXPathEvalExpression (
      BAD_CAST "/domain/devices/disk[@device='disk' or not(@device)]/target/@dev",
      d.ctx);
  for (int i = 0; o && o->nodesetval && i < o->nodesetval->nodeNr; i++) {
    xmlChar *v = xmlNodeGetContent (o->nodesetval->nodeTab[i]);
    if (v) {
      string_vector_append (out, strdup ((const char *) v));
      xmlFree (v);
    }
  }
  xmlXPathFreeObject (o);
  doc_close (&d);
  return 0;
}

char *
lvxml_disk_element (const char *xml, const char *target)
{
  struct doc d;
  xmlXPathObjectPtr o;
  xmlBufferPtr buf;
  char expr[256], *s = NULL;

  if (strchr (target, '\'') || !doc_open (&d, xml))
    return NULL;
  snprintf (expr, sizeof expr, "/domain/devices/disk[target/@dev='%s']",
            target);
  o = xmlXPathEvalExpression (BAD_CAST expr, d.ctx);
  buf = xmlBufferCreate ();
  if (o && o->nodesetval && o->nodesetval->nodeNr > 0 && buf &&
      xmlNodeDump (buf, d.doc, o->nodesetval->nodeTab[0], 0, 0) >= 0)
    s = strdup ((const char *) xmlBufferContent (buf));
  xmlBufferFree (buf);
  xmlXPathFreeObject (o);
  doc_close (&d);
  return s;
}

char *
lvxml_dac_label (const char *xml)
{
  return one_string (xml, "string(/domain/seclabel[@model='dac']/label)");
}

char *
lvxml_caps_dac_label (const char *caps)
{
  char *s = one_string (caps, "string(/capabilities/host/secmodel"
                        "[model='dac']/baselabel[@type='qemu'])");

  return s ? s : one_string (caps, "string(/capabilities/host/secmodel"
                             "[model='dac']/baselabel[@type='kvm'])");
}

/* XPath string literal of s (no quote of the other kind inside), or
 * NULL when s holds both kinds. */
static char *
literal (const char *s)
{
  char *out = NULL;

  if (strchr (s, '\'') == NULL) {
    if (asprintf (&out, "'%s'", s) < 0)
      out = NULL;
  }
  else if (strchr (s, '"') == NULL) {
    if (asprintf (&out, "\"%s\"", s) < 0)
      out = NULL;
  }
  return out;
}

bool
lvxml_mirror_is (const char *xml, const char *target,
                 const struct lv_dest *dest)
{
  char *t = literal (target), *expr = NULL, *name = NULL;
  char *sock = NULL, *host = NULL, *port = NULL;
  struct doc d;
  bool same = false;

  if (t == NULL || !doc_open (&d, xml)) {
    free (t);
    return false;
  }
#define MIRROR(path) \
  (asprintf (&expr, "string(/domain/devices/disk[target/@dev=%s]/mirror" \
             path ")", t) < 0 ? NULL : xpath_string (&d, expr))
  name = MIRROR ("/source/@name");
  free (expr);
  sock = MIRROR ("/source/host/@socket");
  free (expr);
  host = MIRROR ("/source/host/@name");
  free (expr);
  port = MIRROR ("/source/host/@port");
  free (expr);
#undef MIRROR
  if (name && strcmp (name, dest->export_name) == 0) {
    if (dest->socket)
      same = sock && strcmp (sock, dest->socket) == 0;
    else
      same = host && port && strcmp (host, dest->host) == 0 &&
             strcmp (port, dest->port) == 0;
  }
  free (name);
  free (sock);
  free (host);
  free (port);
  free (t);
  doc_close (&d);
  return same;
}

/* s with the five XML special characters escaped. */
static char *
escape (const char *s)
{
  size_t n = 0;
  char *out, *p;

  for (const char *c = s; *c; c++)
    n += strchr ("<>&'\"", *c) ? 6 : 1;
  out = p = malloc (n + 1);
  if (out == NULL)
    return NULL;
  for (const char *c = s; *c; c++) {
    const char *e = *c == '<' ? "&lt;" : *c == '>' ? "&gt;" : *c == '&' ? "&amp;"
                  : *c == '\'' ? "&apos;" : *c == '"' ? "&quot;" : NULL;
    if (e)
      p = stpcpy (p, e);
    else
      *p++ = *c;
  }
  *p = 0;
  return out;
}

char *
lvxml_nbd_disk (const struct lv_dest *dest)
{
  char *name = escape (dest->export_name);
  char *a = escape (dest->socket ? dest->socket : dest->host);
  char *b = dest->socket ? NULL : escape (dest->port);
  char *xml = NULL;
  int r;

  if (name == NULL || a == NULL || (dest->socket == NULL && b == NULL))
    r = -1;
  else if (dest->socket)
    r = asprintf (&xml, "<disk type='network' device='disk'>"
                  "<driver type='raw'/>"
                  "<source protocol='nbd' name='%s'>"
                  "<host transport='unix' socket='%s'/></source></disk>",
                  name, a);
  else
    r = asprintf (&xml, "<disk type='network' device='disk'>"
                  "<driver type='raw'/>"
                  "<source protocol='nbd' name='%s'%s>"
                  "<host name='%s' port='%s'/></source></disk>",
                  name, dest->tls ? " tls='yes'" : "", a, b);
  if (r < 0)
    xml = NULL;
  free (name);
  free (a);
  free (b);
  return xml;
}

int
lvxml_has_backing (const char *xml, const char *target)
{
  char *t = literal (target), *expr = NULL, *type = NULL;

  if (t && asprintf (&expr, "string(/domain/devices/disk[target/@dev=%s]"
                     "/backingStore/@type)", t) >= 0)
    type = one_string (xml, expr);
  free (expr);
  free (t);
  free (type);
  return type != NULL;
}

/* ---- the definition of a recovered domain -------------------------------- */

static xmlNodePtr
child (xmlNodePtr n, const char *name)
{
  for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && xmlStrcmp (c->name, BAD_CAST name) == 0)
      return c;
  return NULL;
}

static void
drop (xmlNodePtr n)
{
  if (n) {
    xmlUnlinkNode (n);
    xmlFreeNode (n);
  }
}

static void
drop_all (xmlNodePtr n, const char *name)
{
  for (xmlNodePtr c; (c = child (n, name)) != NULL; )
    drop (c);
}

static char *
prop (xmlNodePtr n, const char *name)
{
  xmlChar *v = n ? xmlGetProp (n, BAD_CAST name) : NULL;
  char *s = v ? strdup ((const char *) v) : NULL;

  xmlFree (v);
  return s;
}

static bool
prop_is (xmlNodePtr n, const char *name, const char *value)
{
  char *v = prop (n, name);
  bool same = v && strcmp (v, value) == 0;

  free (v);
  return same;
}

/* A file of the old domain for the new one: the old name in the file's
 * name replaced by the new one, else "-NEW" appended. */
static void
rename_path (xmlNodePtr n, const char *attr, const char *old, const char *new)
{
  char *path = prop (n, attr), *base, *at, *out = NULL;

  if (path == NULL)
    return;
  base = strrchr (path, '/');
  base = base ? base + 1 : path;
  at = NULL;
  for (char *p = strstr (base, old); p; p = strstr (p + 1, old))
    at = p;
  if (at && asprintf (&out, "%.*s%s%s", (int) (at - path), path, new,
                      at + strlen (old)) < 0)
    out = NULL;
  else if (at == NULL && asprintf (&out, "%s-%s", path, new) < 0)
    out = NULL;
  if (out)
    xmlSetProp (n, BAD_CAST attr, BAD_CAST out);
  free (out);
  free (path);
}

/* Point disk n at its overlay, backed by the export. */
static void
to_overlay (xmlNodePtr n, const struct lvxml_overlay *ov)
{
  xmlNodePtr drv = child (n, "driver"), src, bs, bsrc, host;

  xmlSetProp (n, BAD_CAST "type", BAD_CAST "file");
  if (drv == NULL) {
    drv = xmlNewChild (n, NULL, BAD_CAST "driver", NULL);
    xmlSetProp (drv, BAD_CAST "name", BAD_CAST "qemu");
  }
  xmlSetProp (drv, BAD_CAST "type", BAD_CAST "qcow2");
  drop_all (n, "source");
  drop_all (n, "backingStore");
  drop_all (n, "auth");
  drop_all (n, "encryption");
  drop_all (n, "mirror");
  src = xmlNewNode (NULL, BAD_CAST "source");
  xmlSetProp (src, BAD_CAST "file", BAD_CAST ov->path);
  xmlAddNextSibling (drv, src);
  bs = xmlNewNode (NULL, BAD_CAST "backingStore");
  xmlSetProp (bs, BAD_CAST "type", BAD_CAST "network");
  xmlSetProp (xmlNewChild (bs, NULL, BAD_CAST "format", NULL), BAD_CAST "type",
              BAD_CAST "raw");
  bsrc = xmlNewChild (bs, NULL, BAD_CAST "source", NULL);
  xmlSetProp (bsrc, BAD_CAST "protocol", BAD_CAST "nbd");
  xmlSetProp (bsrc, BAD_CAST "name", BAD_CAST ov->export_name);
  host = xmlNewChild (bsrc, NULL, BAD_CAST "host", NULL);
  xmlSetProp (host, BAD_CAST "transport", BAD_CAST "unix");
  xmlSetProp (host, BAD_CAST "socket", BAD_CAST ov->socket);
  xmlNewChild (bs, NULL, BAD_CAST "backingStore", NULL);
  xmlAddNextSibling (src, bs);
}

static const struct lvxml_overlay *
overlay_of (xmlNodePtr disk, const struct lvxml_overlay *ov, size_t n)
{
  char *dev = prop (child (disk, "target"), "dev");
  const struct lvxml_overlay *found = NULL;

  for (size_t i = 0; dev && i < n && !found; i++)
    if (strcmp (ov[i].target, dev) == 0)
      found = &ov[i];
  free (dev);
  return found;
}

/* The devices of a clone that would clash with the original's. */
static void
unshare_devices (xmlNodePtr devs, const char *old, const char *new)
{
  static const char *const chardevs[] = { "serial", "console", "parallel",
                                          "channel" };

  for (xmlNodePtr c = devs->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE)
      continue;
    if (xmlStrcmp (c->name, BAD_CAST "interface") == 0)
      drop_all (c, "mac");
    if (xmlStrcmp (c->name, BAD_CAST "graphics") == 0 &&
        prop_is (c, "autoport", "no")) {
      xmlSetProp (c, BAD_CAST "autoport", BAD_CAST "yes");
      xmlUnsetProp (c, BAD_CAST "port");
      xmlUnsetProp (c, BAD_CAST "tlsPort");
    }
    for (size_t i = 0; i < sizeof chardevs / sizeof chardevs[0]; i++) {
      if (xmlStrcmp (c->name, BAD_CAST chardevs[i]) != 0)
        continue;
      if (prop_is (c, "type", "file"))
        rename_path (child (c, "source"), "path", old, new);
      if (prop_is (c, "type", "unix") && prop_is (child (c, "source"), "mode", "bind"))
        xmlUnsetProp (child (c, "source"), BAD_CAST "path");
      rename_path (child (c, "log"), "file", old, new);
    }
  }
}

char *
lvxml_recovered (const char *xml, const char *new_name,
                 const struct lvxml_overlay *ov, size_t n,
                 string_vector *dropped)
{
  struct doc d;
  xmlNodePtr root, devs, next;
  xmlChar *out = NULL;
  char *old = NULL, *s = NULL;
  int len = 0;

  if (!doc_open (&d, xml))
    return NULL;
  root = xmlDocGetRootElement (d.doc);
  devs = child (root, "devices");
  if (new_name && (old = xpath_string (&d, "string(/domain/name)")) != NULL) {
    xmlChar *enc = xmlEncodeSpecialChars (d.doc, BAD_CAST new_name);
    xmlNodeSetContent (child (root, "name"), enc);
    xmlFree (enc);
    drop_all (root, "uuid");
    drop_all (child (root, "os"), "nvram");
    if (devs)
      unshare_devices (devs, old, new_name);
  }
  for (xmlNodePtr c = devs ? devs->children : NULL; c; c = next) {
    const struct lvxml_overlay *o;
    next = c->next;
    if (c->type != XML_ELEMENT_NODE || xmlStrcmp (c->name, BAD_CAST "disk") != 0)
      continue;
    if ((o = overlay_of (c, ov, n)) != NULL)
      to_overlay (c, o);
    else if (new_name && !child (c, "readonly") && !child (c, "shareable") &&
             !prop_is (c, "device", "cdrom") && !prop_is (c, "device", "floppy")) {
      /* Two domains must not write one disk. */
      char *dev = prop (child (c, "target"), "dev");
      string_vector_append (dropped, dev ? dev : strdup ("?"));
      drop (c);
    }
  }
  xmlDocDumpMemory (d.doc, &out, &len);
  if (out)
    s = strdup ((const char *) out);
  xmlFree (out);
  free (old);
  doc_close (&d);
  return s;
}
