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

#include "common/cleanup.h"
#include "common/fileio.h"
#include "common/jsonfile.h"
#include "recovery/history/basepoint.h"

#define CATALOG "catalog.json"
#define CATALOG_VERSION 1
#define QUARANTINE "quarantine"

char *
catalog_path (const struct base_catalog *c, const char *file)
{
  char *p;

  return asprintf (&p, "%s/%s", c->dir, file) < 0 ? NULL : p;
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
  json_object *o, *arr;
  int r = path ? jf_load (path, CATALOG_VERSION, &o, NULL) : -ENOMEM;

  free (path);
  if (r == -ENOENT)
    return 0;                         /* no base points yet */
  if (r < 0)
    return r;                         /* never an empty catalog */
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

/* Move the image name out of the way, into base/quarantine/ (under
 * name.N when name is there already): a complete image the catalog does
 * not name may still be someone's only copy of a point. */
static int
quarantine (int dfd, const char *name)
{
  char dst[BASE_NAME_MAX + 64];
  int qfd, r = 0;

  if (mkdirat (dfd, QUARANTINE, 0700) < 0 && errno != EEXIST)
    return -errno;
  qfd = openat (dfd, QUARANTINE, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (qfd < 0)
    return -errno;
  snprintf (dst, sizeof dst, "%s", name);
  for (unsigned n = 1; faccessat (qfd, dst, F_OK, 0) == 0; n++)
    snprintf (dst, sizeof dst, "%s.%u", name, n);
  if (renameat (dfd, name, qfd, dst) < 0 || fsync (qfd) < 0)
    r = -errno;
  close (qfd);
  return r;
}

/* Images the catalog does not list: *.tmp files are unfinished (a fold
 * or a rebase that never completed) and are deleted; any other image is
 * quarantined, never deleted, and so are the sums of an image the
 * catalog does not list (they belong with it). */
static int
clean_unlisted (struct base_catalog *c)
{
  DIR *d = opendir (c->dir);
  struct dirent *e;
  int r = 0;

  if (d == NULL)
    return -errno;
  while (r == 0 && (e = readdir (d)) != NULL) {
    size_t n = strlen (e->d_name);
    bool tmp = n > 4 && strcmp (e->d_name + n - 4, ".tmp") == 0;
    bool image = n > 6 && strcmp (e->d_name + n - 6, ".qcow2") == 0;
    bool sums = n > 5 && strcmp (e->d_name + n - 5, ".sums") == 0;
    char img[NAME_MAX + 8];     /* the image a sums file belongs to */
    if (sums)
      snprintf (img, sizeof img, "%.*s.qcow2", (int) (n - 5), e->d_name);
    if (tmp && unlinkat (dirfd (d), e->d_name, 0) < 0)
      r = -errno;
    else if ((image && catalog_by_file (c, e->d_name) == NULL) ||
             (sums && catalog_by_file (c, img) == NULL)) {
      r = quarantine (dirfd (d), e->d_name);
      if (r == 0 && image)
        c->quarantined++;
    }
  }
  if (r == 0 && fsync (dirfd (d)) < 0)
    r = -errno;
  closedir (d);
  return r;
}

int
catalog_load (const char *dir, bool clean, struct base_catalog *c)
{
  int r;

  memset (c, 0, sizeof *c);
  c->dir = strdup (dir);
  if (c->dir == NULL)
    return -ENOMEM;
  r = fio_mkdir (dir, 0700);
  if (r < 0)
    return r;
  r = read_catalog (c);
  if (r == 0 && clean)
    r = clean_unlisted (c);
  return r;
}

void
catalog_free (struct base_catalog *c)
{
  base_vector_reset (&c->v);
  free (c->dir);
  c->dir = NULL;
}

/* The catalog's entry for bp (jf_failed when out of memory). */
static json_object *
entry_json (const struct base_point *bp)
{
  json_object *e = json_object_new_object ();

  jf_add (e, "disk", json_object_new_int64 (bp->disk));
  jf_add (e, "seq", json_object_new_int64 ((int64_t) bp->seq));
  jf_add (e, "time_ns", json_object_new_int64 (bp->time_ns));
  jf_add (e, "file", json_object_new_string (bp->file));
  jf_add (e, "parent", json_object_new_string (bp->parent));
  jf_add (e, "depth", json_object_new_int ((int) bp->depth));
  return e;
}

int
catalog_save (const struct base_catalog *c)
{
  json_object *o = json_object_new_object (), *arr = json_object_new_array ();
  CLEANUP_FREE char *path = catalog_path (c, CATALOG);
  int r = -ENOMEM;

  for (size_t i = 0; i < c->v.len; i++)
    jf_append (arr, entry_json (&c->v.ptr[i]));
  jf_add (o, "bases", arr);
  if (path)
    r = jf_save (path, o, CATALOG_VERSION, 0600);
  json_object_put (o);
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
