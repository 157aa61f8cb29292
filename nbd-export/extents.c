/* cdp NBD server: extent lists (base:allocation, read holes) and the
 * export list for NBD_OPT_LIST, both filled in by backends. */
#include "nbd-export/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void
extents_init (struct nbd_extents *e, uint64_t offset, uint32_t count)
{
  e->start = offset;
  e->end = offset + count;      /* validated: no overflow */
  e->v = (extent_vector) empty_vector;
}

void
extents_reset (struct nbd_extents *e)
{
  extent_vector_reset (&e->v);
}

uint64_t
extents_covered (const struct nbd_extents *e)
{
  const struct extent *last;

  if (e->v.len == 0)
    return e->start;
  last = &e->v.ptr[e->v.len - 1];
  return last->offset + last->length;
}

int
nbd_extents_add (struct nbd_extents *e, uint64_t offset, uint64_t length,
                 uint32_t flags)
{
  uint64_t next = extents_covered (e);
  uint64_t end;
  struct extent *last;

  if (length == 0 || __builtin_add_overflow (offset, length, &end))
    return -EINVAL;
  if (offset > next)
    return -EINVAL;             /* a gap */
  if (end <= next || next >= e->end)
    return 0;                   /* already described, or past the range */
  if (end > e->end)
    end = e->end;
  flags &= NBD_STATE_HOLE | NBD_STATE_ZERO;
  if (e->v.len > 0) {
    last = &e->v.ptr[e->v.len - 1];
    if (last->flags == flags) {
      last->length = end - last->offset;
      return 0;
    }
  }
  if (e->v.len >= MAX_EXTENTS)
    return 0;                   /* the rest counts as data */
  return extent_vector_append (&e->v, (struct extent) {
      .offset = next, .length = end - next, .flags = flags });
}

static char *
copy_string (const char *s)
{
  if (s == NULL)
    return NULL;
  return strdup (s);
}

int
nbd_export_list_add (struct nbd_export_list *l, const char *name,
                     const char *description)
{
  struct export_entry x;
  int r;

  if (strlen (name) > NBD_MAX_STRING ||
      (description && strlen (description) > NBD_MAX_STRING))
    return -EINVAL;
  x.name = copy_string (name);
  x.description = copy_string (description);
  if (x.name == NULL || (description && x.description == NULL)) {
    r = -ENOMEM;
    goto err;
  }
  r = export_vector_append (&l->v, x);
  if (r < 0)
    goto err;
  return 0;

 err:
  free (x.name);
  free (x.description);
  return r;
}

void
export_list_reset (struct nbd_export_list *l)
{
  for (size_t i = 0; i < l->v.len; i++) {
    free (l->v.ptr[i].name);
    free (l->v.ptr[i].description);
  }
  export_vector_reset (&l->v);
}
