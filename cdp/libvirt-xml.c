/* cdp: the libvirt XML the libvirt driver reads and writes.  See
 * libvirt-xml.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "cdp/libvirt-xml.h"

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
                  "<source protocol='nbd' name='%s'>"
                  "<host name='%s' port='%s'/></source></disk>",
                  name, a, b);
  if (r < 0)
    xml = NULL;
  free (name);
  free (a);
  free (b);
  return xml;
}
