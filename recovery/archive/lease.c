/* cdp archive: the lease of a push in progress, writers/<id>-<task>-<pid>.
 *
 * Its body records the push's start on the store's clock; its time (the
 * store's, put again every ARCHIVE_LEASE_REFRESH_NS / 2) says it is
 * alive.  archive_gc keeps every chunk younger than the start of a live
 * lease (gc.c). */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/timeutil.h"
#include "recovery/archive/archive-internal.h"

/* How often a lease is put again, and after how long without a put it
 * is stale (archive_lease_timing). */
static int64_t refresh_every = ARCHIVE_LEASE_REFRESH_NS / 2;
static int64_t stale_after = ARCHIVE_LEASE_STALE_NS;

void
archive_lease_timing (int64_t refresh_ns, int64_t stale_ns)
{
  refresh_every = refresh_ns;
  stale_after = stale_ns;
}

int64_t
archive_lease_refresh_every (void)
{
  return refresh_every;
}

int64_t
archive_lease_stale_after (void)
{
  return stale_after;
}

struct archive_lease {
  struct archive *a;
  char key[300];
  char *body;
  size_t len;
  int64_t last_try;                 /* time_mono_ns of the last put */
  int64_t last_ok;                  /* ... of the last that worked */
  int64_t start;                    /* the store's now when taken */
};

int
archive_lease_take (struct archive *a, const char *store_id, const char *task,
                    struct archive_lease **out)
{
  struct archive_lease *l;
  int64_t start;
  int r, n;

  *out = NULL;
  if ((r = a->s->ops->now (a->s, &start)) < 0)
    return r;
  l = calloc (1, sizeof *l);
  if (l == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  l->a = a;
  l->start = start;
  snprintf (l->key, sizeof l->key, "writers/%s-%s-%ld", store_id, task,
            (long) getpid ());
  n = asprintf (&l->body, "{\"start\": %" PRId64 ", \"pid\": %ld}\n",
                start, (long) getpid ());
  if (n < 0) {
    free (l);
    return cdp_set_error (-ENOMEM, "out of memory");
  }
  l->len = (size_t) n;
  r = a->s->ops->put (a->s, l->key, l->body, l->len);
  if (r < 0) {
    free (l->body);
    free (l);
    return r;
  }
  l->last_try = l->last_ok = time_mono_ns ();
  *out = l;
  return 0;
}

void
archive_lease_refresh (struct archive_lease *l, bool force)
{
  struct cdp_saved_error e;
  int64_t now = time_mono_ns ();

  if (!force && now - l->last_try < refresh_every)
    return;
  l->last_try = now;
  cdp_save_error (&e);              /* a failure here is only staleness */
  if (l->a->s->ops->put (l->a->s, l->key, l->body, l->len) == 0)
    l->last_ok = time_mono_ns ();
  cdp_restore_error (&e);
}

bool
archive_lease_stale (const struct archive_lease *l)
{
  return time_mono_ns () - l->last_ok > stale_after;
}

int64_t
archive_lease_started (const struct archive_lease *l)
{
  return l->start;
}

void
archive_lease_drop (struct archive_lease *l)
{
  struct cdp_saved_error e;

  if (l == NULL)
    return;
  cdp_save_error (&e);
  l->a->s->ops->del (l->a->s, l->key);
  cdp_restore_error (&e);
  free (l->body);
  free (l);
}

int
archive_lease_start (const void *buf, size_t len, int64_t *start_ns)
{
  struct json_tokener *tok = json_tokener_new ();
  struct json_object *o = NULL, *v;
  int r = -EUCLEAN;

  if (tok == NULL)
    return -ENOMEM;
  if (len <= INT32_MAX)
    o = json_tokener_parse_ex (tok, buf, (int) len);
  if (o && json_object_object_get_ex (o, "start", &v)
      && json_object_is_type (v, json_type_int)) {
    *start_ns = json_object_get_int64 (v);
    r = 0;
  }
  json_object_put (o);
  json_tokener_free (tok);
  return r;
}
