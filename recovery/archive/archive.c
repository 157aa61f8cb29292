/* cdp archive: an open archive, its manifest and its points. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/timeutil.h"
#include "recovery/archive/archive-internal.h"

int
archive_open_store (struct archive_store *s, bool create, struct archive **out)
{
  struct archive *a;
  void *buf = NULL;
  size_t len;
  int r;

  *out = NULL;
  a = calloc (1, sizeof *a);
  if (a == NULL) {
    s->ops->close (s);
    return cdp_set_error (-ENOMEM, "out of memory");
  }
  a->s = s;
  a->chunk_size = ARCHIVE_CHUNK_SIZE;
  r = s->ops->get (s, "cdp-archive.json", &buf, &len);
  if (r == -ENOENT && create)
    r = 0;
  else if (r == -ENOENT)
    r = cdp_set_error (-ENOENT, "no archive at %s", s->location);
  else if (r == 0) {
    r = archive_manifest_decode (s->location, buf, len, &a->chunk_size);
    a->manifest = r == 0;
  }
  free (buf);
  if (r < 0) {
    archive_close (a);
    return r;
  }
  *out = a;
  return 0;
}

void
archive_close (struct archive *a)
{
  if (a == NULL)
    return;
  a->s->ops->close (a->s);
  free (a);
}

const char *
archive_location (const struct archive *a)
{
  return a->s->location;
}

int
archive_ensure_manifest (struct archive *a)
{
  char *text;
  size_t len;
  int64_t now;
  int r;

  if (a->manifest)
    return 0;
  r = a->s->ops->stat (a->s, "cdp-archive.json", NULL, NULL);
  if (r == -ENOENT) {
    if (a->s->ops->now (a->s, &now) < 0)
      now = time_now_ns ();
    r = archive_manifest_encode (a->chunk_size, now, &text, &len);
    if (r == 0)
      r = a->s->ops->put (a->s, "cdp-archive.json", text, len);
    free (text);
  }
  if (r == 0)
    a->manifest = true;
  return r;
}

void
archive_point_free (struct archive_point *p)
{
  free (p->key);
  free (p->task);
  free (p->kind);
  free (p->label);
  free (p->host);
  free (p->store);
  free (p->store_id);
  for (size_t i = 0; p->disks && i < p->ndisks; i++) {
    free (p->disks[i].name);
    free (p->disks[i].sums);
  }
  free (p->disks);
  memset (p, 0, sizeof *p);
}

void
archive_points_reset (archive_point_vector *v)
{
  for (size_t i = 0; i < v->len; i++)
    archive_point_free (&v->ptr[i]);
  archive_point_vector_reset (v);
}

/* ---- listing ------------------------------------------------------------ */

static int
collect_key (void *opaque, const struct archive_obj *o)
{
  string_vector *keys = opaque;
  char id[13];
  int64_t t;
  char *k;

  if (archive_index_key_parse (o->key, NULL, &t, id) < 0)
    return 0;                       /* not an index: not ours to judge */
  if ((k = strdup (o->key)) == NULL || string_vector_append (keys, k) < 0) {
    free (k);
    return cdp_set_error (-ENOMEM, "out of memory");
  }
  return 0;
}

static int
cmp_key (const void *x, const void *y)
{
  return strcmp (*(char *const *) x, *(char *const *) y);
}

static void
free_keys (string_vector *keys)
{
  for (size_t i = 0; i < keys->len; i++)
    free (keys->ptr[i]);
  string_vector_reset (keys);
}

/* The index keys under prefix, sorted (oldest first within a task). */
static int
index_keys (struct archive *a, const char *prefix, string_vector *keys)
{
  *keys = (string_vector) empty_vector;
  int r = a->s->ops->list (a->s, prefix, collect_key, keys);

  if (r < 0)
    free_keys (keys);
  else if (keys->len > 1)
    qsort (keys->ptr, keys->len, sizeof keys->ptr[0], cmp_key);
  return r;
}

int
archive_index_keys (struct archive *a, const char *task, string_vector *keys)
{
  char prefix[300];

  *keys = (string_vector) empty_vector;
  if (task && !archive_task_name_ok (task))
    return cdp_set_error (-EINVAL, "'%s' is not a task name", task);
  snprintf (prefix, sizeof prefix, "points/%s%s", task ? task : "",
            task ? "/" : "");
  return index_keys (a, prefix, keys);
}

void
archive_index_keys_free (string_vector *keys)
{
  free_keys (keys);
}

/* A range read of the index at key failed with r: -EUCLEAN when the
 * index is shorter than need bytes (truncated), else r as it was (the
 * store failed: that is no damage of the index). */
static int
short_index (struct archive *a, const char *key, uint64_t need, int r)
{
  struct cdp_saved_error e;
  uint64_t size;

  cdp_save_error (&e);
  if (a->s->ops->stat (a->s, key, &size, NULL) == 0 && size < need)
    return cdp_set_error (-EUCLEAN, "archive index %s is damaged: "
                          "truncated", key);
  cdp_restore_error (&e);
  return r;
}

/* The metadata of the index at key, from its header and metadata only. */
static int
load_meta (struct archive *a, const char *key, struct archive_point *p)
{
  uint8_t hdr[ARCHIVE_INDEX_HEADER];
  uint32_t mlen;
  uint8_t *buf;
  int r;

  r = a->s->ops->get_range (a->s, key, hdr, 0, sizeof hdr);
  if (r == 0)
    r = archive_index_meta_len (key, hdr, &mlen);
  if (r < 0)
    return r == -EIO ? short_index (a, key, sizeof hdr, r) : r;
  buf = malloc (sizeof hdr + (size_t) mlen);
  if (buf == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  memcpy (buf, hdr, sizeof hdr);
  r = a->s->ops->get_range (a->s, key, buf + sizeof hdr, sizeof hdr, mlen);
  if (r == -EIO)
    r = short_index (a, key, sizeof hdr + (uint64_t) mlen, r);
  if (r == 0)
    r = archive_index_decode (key, buf, sizeof hdr + (size_t) mlen, true, p);
  free (buf);
  return r;
}

/* Oldest first; at the same time, by key (task, then store). */
static int
cmp_point (const void *x, const void *y)
{
  const struct archive_point *p = x, *q = y;

  if (p->time_ns != q->time_ns)
    return p->time_ns < q->time_ns ? -1 : 1;
  return strcmp (p->key, q->key);
}

int
archive_points (struct archive *a, const char *task,
                archive_point_vector *out)
{
  string_vector keys;
  int r = archive_index_keys (a, task, &keys);

  for (size_t i = 0; r == 0 && i < keys.len; i++) {
    struct archive_point p;
    r = load_meta (a, keys.ptr[i], &p);
    if (r == -ENOENT) {             /* forgotten since the listing */
      cdp_clear_error ();
      r = 0;
      continue;
    }
    if (r == 0 && (r = archive_point_vector_append (out, p)) < 0) {
      archive_point_free (&p);
      r = cdp_set_error (r, "out of memory");
    }
  }
  free_keys (&keys);
  if (r < 0)
    archive_points_reset (out);
  else if (out->len > 1)
    qsort (out->ptr, out->len, sizeof out->ptr[0], cmp_point);
  return r;
}

int
archive_index_load (struct archive *a, const char *key, struct archive_point *out)
{
  void *buf;
  size_t len;
  int r = a->s->ops->get (a->s, key, &buf, &len);

  if (r < 0)
    return r;
  r = archive_index_decode (key, buf, len, false, out);
  free (buf);
  return r;
}

int
archive_point_load (struct archive *a, const char *task, int64_t time_ns,
                    struct archive_point *out)
{
  string_vector keys = empty_vector;
  char prefix[300];
  int r;

  memset (out, 0, sizeof *out);
  if (archive_index_key (task, time_ns, NULL, prefix, sizeof prefix) < 0)
    return cdp_set_error (-EINVAL, "'%s' is not a task name", task);
  r = index_keys (a, prefix, &keys);
  if (r == 0 && keys.len == 0)
    r = cdp_set_error (-ENOENT, "archive %s has no point of %s at %" PRId64,
                       a->s->location, task, time_ns);
  /* Several stores' points at the same time: the first by its store id. */
  if (r == 0)
    r = archive_index_load (a, keys.ptr[0], out);
  free_keys (&keys);
  return r;
}

int
archive_point_forget (struct archive *a, const struct archive_point *p)
{
  return a->s->ops->del (a->s, p->key);
}
