/* cdp recovery: the base point catalog. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "recovery/basepoint.h"

#define CATALOG "catalog.json"

char *
catalog_path (const struct base_catalog *c, const char *file)
{
  char *p;

  if (asprintf (&p, "%s/%s", c->dir, file) < 0)
    abort ();
  return p;
}

static int
parse_entry (json_object *e, struct base_point *bp)
{
  json_object *v;
  const char *file, *parent;

  memset (bp, 0, sizeof *bp);
  if (!json_object_object_get_ex (e, "file", &v) ||
      (file = json_object_get_string (v)) == NULL ||
      strlen (file) >= BASE_NAME_MAX || strchr (file, '/'))
    return -EUCLEAN;
  strcpy (bp->file, file);
  if (json_object_object_get_ex (e, "parent", &v) &&
      (parent = json_object_get_string (v)) != NULL) {
    if (strlen (parent) >= BASE_NAME_MAX || strchr (parent, '/'))
      return -EUCLEAN;
    strcpy (bp->parent, parent);
  }
  bp->disk = (uint32_t) json_object_get_int64 (json_object_object_get (e, "disk"));
  bp->seq = (uint64_t) json_object_get_int64 (json_object_object_get (e, "seq"));
  bp->time_ns = json_object_get_int64 (json_object_object_get (e, "time_ns"));
  bp->depth = (unsigned) json_object_get_int (json_object_object_get (e, "depth"));
  return bp->depth >= 1 ? 0 : -EUCLEAN;
}

static int
cmp_bp (const void *a, const void *b)
{
  const struct base_point *x = a, *y = b;

  if (x->disk != y->disk)
    return x->disk < y->disk ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
read_catalog (struct base_catalog *c)
{
  char *path = catalog_path (c, CATALOG);
  json_object *o = json_object_from_file (path), *arr;
  int r = 0;

  if (o == NULL) {
    /* No catalog: no base points yet.  An unreadable one is an error,
     * never an empty catalog (that would delete every image). */
    r = access (path, F_OK) == 0 ? -EUCLEAN : 0;
    free (path);
    return r;
  }
  free (path);
  if (!json_object_object_get_ex (o, "bases", &arr) ||
      !json_object_is_type (arr, json_type_array))
    r = -EUCLEAN;
  for (size_t i = 0; r == 0 && i < json_object_array_length (arr); i++) {
    struct base_point bp;
    r = parse_entry (json_object_array_get_idx (arr, i), &bp);
    if (r == 0)
      r = base_vector_append (&c->v, bp);
  }
  json_object_put (o);
  if (r == 0 && c->v.len > 1)
    qsort (c->v.ptr, c->v.len, sizeof c->v.ptr[0], cmp_bp);
  return r;
}

/* Delete images the catalog does not list (unfinished folds), and their
 * sums. */
static void
remove_unlisted (struct base_catalog *c)
{
  DIR *d = opendir (c->dir);
  struct dirent *e;

  if (d == NULL)
    return;
  while ((e = readdir (d)) != NULL) {
    size_t n = strlen (e->d_name);
    bool image = (n > 6 && strcmp (e->d_name + n - 6, ".qcow2") == 0) ||
                 (n > 4 && strcmp (e->d_name + n - 4, ".tmp") == 0);
    if (image && catalog_by_file (c, e->d_name) == NULL)
      unlinkat (dirfd (d), e->d_name, 0);
    if (n > 5 && strcmp (e->d_name + n - 5, ".sums") == 0 && n - 5 + 7 <= NAME_MAX) {
      char img[NAME_MAX + 1];   /* the sums of an image that is not listed */
      snprintf (img, sizeof img, "%.*s.qcow2", (int) (n - 5), e->d_name);
      if (catalog_by_file (c, img) == NULL)
        unlinkat (dirfd (d), e->d_name, 0);
    }
  }
  closedir (d);
}

int
catalog_load (const char *dir, bool clean, struct base_catalog *c)
{
  int r;

  memset (c, 0, sizeof *c);
  c->dir = strdup (dir);
  if (c->dir == NULL)
    return -ENOMEM;
  if (mkdir (dir, 0700) < 0 && errno != EEXIST)
    return -errno;
  r = read_catalog (c);
  if (r == 0 && clean)
    remove_unlisted (c);
  return r;
}

void
catalog_free (struct base_catalog *c)
{
  base_vector_reset (&c->v);
  free (c->dir);
  c->dir = NULL;
}

int
catalog_save (const struct base_catalog *c)
{
  json_object *o = json_object_new_object (), *arr = json_object_new_array ();
  char *path = catalog_path (c, CATALOG);
  const char *text;
  int r;

  for (size_t i = 0; i < c->v.len; i++) {
    const struct base_point *bp = &c->v.ptr[i];
    json_object *e = json_object_new_object ();
    json_object_object_add (e, "disk", json_object_new_int64 (bp->disk));
    json_object_object_add (e, "seq", json_object_new_int64 ((int64_t) bp->seq));
    json_object_object_add (e, "time_ns", json_object_new_int64 (bp->time_ns));
    json_object_object_add (e, "file", json_object_new_string (bp->file));
    json_object_object_add (e, "parent", json_object_new_string (bp->parent));
    json_object_object_add (e, "depth", json_object_new_int ((int) bp->depth));
    json_object_array_add (arr, e);
  }
  json_object_object_add (o, "bases", arr);
  text = json_object_to_json_string_ext (o, JSON_C_TO_STRING_PRETTY);
  r = fio_replace (path, text, strlen (text), 0600);
  json_object_put (o);
  free (path);
  return r;
}

const struct base_point *
catalog_find (const struct base_catalog *c, uint32_t disk, uint64_t seq)
{
  const struct base_point *best = NULL;

  for (size_t i = 0; i < c->v.len; i++)
    if (c->v.ptr[i].disk == disk && c->v.ptr[i].seq <= seq &&
        (best == NULL || c->v.ptr[i].seq > best->seq))
      best = &c->v.ptr[i];
  return best;
}

const struct base_point *
catalog_find_time (const struct base_catalog *c, uint32_t disk, int64_t t)
{
  const struct base_point *best = NULL;

  for (size_t i = 0; i < c->v.len; i++)
    if (c->v.ptr[i].disk == disk && c->v.ptr[i].time_ns <= t &&
        (best == NULL || c->v.ptr[i].seq > best->seq))
      best = &c->v.ptr[i];
  return best;
}

const struct base_point *
catalog_by_file (const struct base_catalog *c, const char *file)
{
  for (size_t i = 0; i < c->v.len; i++)
    if (strcmp (c->v.ptr[i].file, file) == 0)
      return &c->v.ptr[i];
  return NULL;
}

unsigned
catalog_children (const struct base_catalog *c, const char *file)
{
  unsigned n = 0;

  for (size_t i = 0; i < c->v.len; i++)
    n += strcmp (c->v.ptr[i].parent, file) == 0;
  return n;
}

int
catalog_add (struct base_catalog *c, const struct base_point *bp)
{
  int r = base_vector_append (&c->v, *bp);

  if (r == 0)
    qsort (c->v.ptr, c->v.len, sizeof c->v.ptr[0], cmp_bp);
  return r;
}

void
catalog_remove (struct base_catalog *c, const char *file)
{
  for (size_t i = 0; i < c->v.len; i++)
    if (strcmp (c->v.ptr[i].file, file) == 0) {
      base_vector_remove (&c->v, i);
      return;
    }
}
