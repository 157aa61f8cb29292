/* cdp: damage found in a task's stored history (TASK/verify.json).
 *
 * Whoever finds damage (a read of a restore, an export, a fold, the
 * receiver's copy comparison, `cdp verify`) records it here, so that
 * `cdp status` of any later process says the task is damaged.  The file
 * is one JSON object:
 *
 *   {"version": 1,
 *    "damage": [{"kind": "journal"|"base"|"catalog"|"index",
 *                "where": "segment 3 offset 69632",   (with kind, the key)
 *                "message": "...", "found": RFC 3339, "found_by": "restore",
 *                journal: "segment", "offset", "seq", "disk", "time"}],
 *    "last_verify": {...}}                         (written by cdp verify)
 *
 * It is read, changed and replaced (fio_replace) under an flock of
 * TASK/verify.lock, so that processes finding damage at once lose none.
 * Damage of a journal segment that retention has since removed is gone
 * with it and no longer shown.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "common/cleanup.h"
#include "common/fileio.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"
#include "cdp/task/verify.h"
#include "recovery/history/basesum.h"

#define VERIFY_VERSION 1

/* TASK/verify.json as a JSON object (a new one if there is none); NULL
 * if it exists and cannot be read or parsed. */
static json_object *
load_doc (const struct task *t)
{
  CLEANUP_FREE char *path = task_path (t, "verify.json");
  char *text = NULL;
  json_object *o;
  int e = path ? fio_read (path, &text, NULL) : -ENOMEM;

  if (e == -ENOENT)
    o = json_object_new_object ();
  else if (e < 0)
    return NULL;
  else
    o = json_tokener_parse (text);
  free (text);
  if (o && !json_object_is_type (o, json_type_object)) {
    json_object_put (o);
    return NULL;
  }
  return o;
}

static int
save_doc (const struct task *t, json_object *o)
{
  CLEANUP_FREE char *path = task_path (t, "verify.json");

  return jf_save (path, o, VERIFY_VERSION, 0644);
}

/* Take TASK/verify.lock: the fd, or -errno. */
static int
lock_doc (const struct task *t)
{
  CLEANUP_FREE char *path = task_path (t, "verify.lock");
  int fd;

  if (path == NULL)
    return -ENOMEM;
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return -errno;
  while (flock (fd, LOCK_EX) < 0)
    if (errno != EINTR) {
      int e = -errno;
      close (fd);
      return e;
    }
  return fd;
}

static const char *
str_of (json_object *o, const char *key)
{
  json_object *v;

  return json_object_object_get_ex (o, key, &v) ? json_object_get_string (v)
                                                : NULL;
}

static bool
same_place (json_object *a, json_object *b)
{
  const char *ka = str_of (a, "kind"), *kb = str_of (b, "kind");
  const char *wa = str_of (a, "where"), *wb = str_of (b, "where");

  return ka && kb && wa && wb && strcmp (ka, kb) == 0 && strcmp (wa, wb) == 0;
}

int
integrity_change (const struct task *t, json_object *damage, bool replace,
                  json_object *last_verify)
{
  json_object *doc, *arr;
  int fd, e;

  if (jf_failed (damage))
    return -ENOMEM;             /* never replace damage by a part of it */
  fd = lock_doc (t);
  if (fd < 0)
    return fd;
  doc = load_doc (t);
  if (doc == NULL)                  /* unreadable: start it anew */
    doc = json_object_new_object ();
  if (replace || !json_object_object_get_ex (doc, "damage", &arr)) {
    arr = json_object_new_array ();
    jf_add (doc, "damage", arr);
  }
  if (jf_failed (doc)) {
    json_object_put (doc);
    close (fd);
    return -ENOMEM;
  }
  for (size_t i = 0; i < json_object_array_length (damage); i++) {
    json_object *d = json_object_array_get_idx (damage, i);
    bool known = false;
    for (size_t k = 0; k < json_object_array_length (arr) && !known; k++)
      known = same_place (json_object_array_get_idx (arr, k), d);
    if (!known)
      jf_append (arr, json_object_get (d));
  }
  if (last_verify)
    jf_add (doc, "last_verify", json_object_get (last_verify));
  e = save_doc (t, doc);
  json_object_put (doc);
  close (fd);
  return e;
}

json_object *
integrity_entry (const char *kind, const char *where, const char *message,
                 const char *found_by)
{
  json_object *o = json_object_new_object ();
  char now[64];

  format_time (time_now_ns (), now, sizeof now);
  jf_add (o, "kind", json_object_new_string (kind));
  jf_add (o, "where", json_object_new_string (where));
  jf_add (o, "message", json_object_new_string (message));
  jf_add (o, "found", json_object_new_string (now));
  jf_add (o, "found_by", json_object_new_string (found_by));
  return o;
}

/* The name of disk id in t, or "disk <id>". */
static const char *
disk_name (const struct task *t, uint32_t id, char *buf, size_t len)
{
  for (size_t i = 0; i < t->disks.len; i++)
    if (t->disks.ptr[i].id == id)
      return t->disks.ptr[i].name;
  snprintf (buf, len, "disk %" PRIu32, id);
  return buf;
}

/* The oldest base point of disk newer than seq: points from then on read
 * the disk from it, not from the damaged record. */
static const struct base_point *
next_base (const struct base_catalog *cat, uint32_t disk, uint64_t seq)
{
  const struct base_point *best = NULL;

  for (size_t i = 0; cat && i < cat->v.len; i++) {
    const struct base_point *bp = &cat->v.ptr[i];
    if (bp->disk == disk && bp->seq > seq && (best == NULL || bp->seq < best->seq))
      best = bp;
  }
  return best;
}

json_object *
integrity_journal_entry (const struct task *t, const struct base_catalog *cat,
                         const struct journal_damage *d, const char *found_by,
                         char *msg, size_t len)
{
  const struct base_point *nb = next_base (cat, d->disk, d->seq);
  char where[96], from[64], to[64], dbuf[32];
  const char *disk = disk_name (t, d->disk, dbuf, sizeof dbuf);
  json_object *o;

  snprintf (where, sizeof where, "segment %" PRIu64 " offset %" PRIu32,
            d->loc.segment, d->loc.offset);
  format_time (d->time_ns, from, sizeof from);
  if (nb)
    format_time (nb->time_ns, to, sizeof to);
  snprintf (msg, len, "damaged journal record at %s (record %" PRIu64
            ", disk %s, bytes %" PRIu64 "+%" PRIu64 ", written %s) fails its "
            "CRC check: points of %s from %s %s%s read it",
            where, d->seq, disk, d->offset, d->length, from, disk, from,
            nb ? "to before " : "on", nb ? to : "");
  o = integrity_entry ("journal", where, msg, found_by);
  jf_add (o, "segment", json_object_new_uint64 (d->loc.segment));
  jf_add (o, "offset", json_object_new_uint64 (d->loc.offset));
  jf_add (o, "seq", json_object_new_uint64 (d->seq));
  jf_add (o, "disk", json_object_new_string (disk));
  jf_add (o, "time", json_object_new_string (from));
  jf_add (o, "affects_from", json_object_new_string (from));
  if (nb)
    jf_add (o, "affects_before", json_object_new_string (to));
  return o;
}

/* The entry of a base point cluster that failed its sum. */
static json_object *
base_entry (const struct task *t, const struct base_catalog *cat,
            const struct basesum_damage *d, const char *found_by, char *msg,
            size_t len)
{
  const struct base_point *bp = cat ? catalog_by_file (cat, d->file) : NULL;
  char affects[384] = "", where[320];
  json_object *o;

  if (bp)
    verify_base_affects (t, cat, bp, affects, sizeof affects);
  snprintf (where, sizeof where, "%s offset %" PRIu64, d->file, d->offset);
  snprintf (msg, len, "damaged base point %s: the data cluster at disk offset "
            "%" PRIu64 " %s%s%s", d->file, d->offset,
            d->missing ? "is held without a checksum (a changed L2 entry)"
                       : "fails its checksum", *affects ? "; " : "", affects);
  o = integrity_entry ("base", where, msg, found_by);
  jf_add (o, "file", json_object_new_string (d->file));
  jf_add (o, "offset", json_object_new_uint64 (d->offset));
  return o;
}

json_object *
integrity_read_entry (const struct task *t, const struct base_catalog *cat,
                      const char *found_by, char *msg, size_t len)
{
  struct journal_damage d;
  struct basesum_damage bd;

  if (point_last_failure () == POINT_SRC_JOURNAL && journal_last_damage (&d))
    return integrity_journal_entry (t, cat, &d, found_by, msg, len);
  if (point_last_failure () == POINT_SRC_BASE && basesum_last_damage (&bd))
    return base_entry (t, cat, &bd, found_by, msg, len);
  return NULL;
}

bool
integrity_read_failed (const struct task *t, const struct base_catalog *cat,
                       const char *found_by, char *msg, size_t len)
{
  json_object *o = integrity_read_entry (t, cat, found_by, msg, len), *arr;

  if (o == NULL)
    return false;
  arr = json_object_new_array ();
  jf_append (arr, o);
  integrity_change (t, arr, false, NULL);
  json_object_put (arr);
  return true;
}

/* Is the damage still in the store?  A journal segment retention removed
 * took its damage with it. */
static bool
still_there (const struct task *t, json_object *d)
{
  const char *kind = str_of (d, "kind");
  json_object *seg;
  char leaf[64], *path;
  bool there;

  if (kind == NULL || strcmp (kind, "journal") != 0 ||
      !json_object_object_get_ex (d, "segment", &seg))
    return true;
  snprintf (leaf, sizeof leaf, "journal/seg-%016" PRIx64 ".cdpj",
            (uint64_t) json_object_get_uint64 (seg));
  path = task_path (t, leaf);
  if (path == NULL)
    return true;                        /* unknown: keep the damage */
  there = access (path, F_OK) == 0;
  free (path);
  return there;
}

void
integrity_status (const struct task *t, json_object *status)
{
  json_object *doc = load_doc (t), *o = json_object_new_object ();
  json_object *arr, *out = json_object_new_array (), *lv;
  const char *state;

  if (o == NULL || out == NULL) {
    json_object_put (o);
    json_object_put (out);
    json_object_put (doc);
    jf_fail (status);
    return;
  }
  if (doc == NULL) {
    jf_add (o, "state", json_object_new_string ("unknown"));
    jf_add (o, "error", json_object_new_string (
        "verify.json cannot be read"));
    json_object_put (out);
    jf_add (status, "integrity", o);
    return;
  }
  if (json_object_object_get_ex (doc, "damage", &arr))
    for (size_t i = 0; i < json_object_array_length (arr); i++) {
      json_object *d = json_object_array_get_idx (arr, i);
      if (still_there (t, d))
        jf_append (out, json_object_get (d));
    }
  if (json_object_array_length (out) > 0)
    state = "damaged";
  else if (json_object_object_get_ex (doc, "last_verify", &lv))
    state = "clean";
  else
    state = "unchecked";
  jf_add (o, "state", json_object_new_string (state));
  jf_add (o, "damage", out);
  if (json_object_object_get_ex (doc, "last_verify", &lv))
    jf_add (o, "last_verify", json_object_get (lv));
  jf_add (status, "integrity", o);
  json_object_put (doc);
}

void
integrity_print (json_object *status, const char *task)
{
  json_object *o, *arr, *lv;
  const char *state;
  size_t n;

  if (!json_object_object_get_ex (status, "integrity", &o))
    return;
  state = str_of (o, "state");
  printf ("  integrity    %s", state);
  if (json_object_object_get_ex (o, "last_verify", &lv))
    printf (" (last verified %s by %s: %s)", str_of (lv, "time"),
            str_of (lv, "by"), str_of (lv, "result"));
  putchar ('\n');
  if (json_object_object_get_ex (o, "error", &arr))
    printf ("  %-12s %s\n", "", json_object_get_string (arr));
  if (!json_object_object_get_ex (o, "damage", &arr))
    return;
  n = json_object_array_length (arr);
  for (size_t i = 0; i < n; i++) {
    json_object *d = json_object_array_get_idx (arr, i);
    printf ("  %-12s %s (found %s by %s)\n", "", str_of (d, "message"),
            str_of (d, "found"), str_of (d, "found_by"));
  }
  if (n > 0)
    printf ("  %-12s run 'cdp verify %s' to see every point affected\n", "",
            task);
}
