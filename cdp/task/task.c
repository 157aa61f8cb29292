/* cdp: the store, and each task's definition (task.json). */
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/hv/hv.h"
#include "common/cleanup.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"

/* Version 2: a disk may have "resizes" (its size changed over time); an
 * older cdp would read every point of it at the size of today.  A file
 * without them is written as version 1. */
#define TASK_VERSION 2

const char *
store_path (const char *opt)
{
  const char *env = getenv ("CDP_STORE");

  if (opt)
    return opt;
  return env && *env ? env : "/var/lib/cdp";
}

int
task_name_valid (const char *name)
{
  size_t n = strlen (name);

  if (n == 0 || n > 64 || name[0] == '.' || name[0] == '-')
    return 0;
  for (const char *p = name; *p; p++)
    if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
        !(*p >= '0' && *p <= '9') && *p != '-' && *p != '_' && *p != '.')
      return 0;
  return 1;
}

const char *
task_mode_name (const struct task *t)
{
  return hv_of (t)->name;
}

char *
task_path (const struct task *t, const char *leaf)
{
  return path_join (t->dir, leaf);
}

void
task_free (struct task *t)
{
  if (t == NULL)
    return;
  for (size_t i = 0; i < t->disks.len; i++) {
    free (t->disks.ptr[i].name);
    disk_resize_vector_reset (&t->disks.ptr[i].resizes);
  }
  task_disk_vector_reset (&t->disks);
  free (t->name);
  free (t->dir);
  free (t->listen);
  listen_opts_free (&t->lo);
  free (t->qmp);
  free (t->domain);
  free (t->connect);
  task_archive_free (&t->archive);
  free (t);
}

static void
put_str (json_object *o, const char *key, const char *v)
{
  if (v)
    jf_add (o, key, json_object_new_string (v));
}

/* The members of a "policy" object that task set changes. */
static void
policy_members (json_object *pol, const struct task_policy *p)
{
  jf_add (pol, "bp_interval_ns", json_object_new_int64 (p->bp_interval));
  jf_add (pol, "journal_retention_ns", json_object_new_int64 (p->journal_retention));
  jf_add (pol, "bp_retention_ns", json_object_new_int64 (p->bp_retention));
  jf_add (pol, "max_chain", json_object_new_int (p->max_chain));
  jf_add (pol, "verify_interval_ns", json_object_new_int64 (p->verify_interval));
  jf_add (pol, "rpo_ns", json_object_new_int64 (p->rpo));
}

static json_object *
resize_json (const struct disk_resize *z)
{
  json_object *o = json_object_new_object ();

  jf_add (o, "seq", json_object_new_int64 ((int64_t) z->seq));
  jf_add (o, "time_ns", json_object_new_int64 (z->time_ns));
  jf_add (o, "old_size", json_object_new_int64 ((int64_t) z->old_size));
  jf_add (o, "size", json_object_new_int64 ((int64_t) z->size));
  return o;
}

static json_object *
disk_json (const struct task_disk *td)
{
  json_object *d = json_object_new_object ();

  put_str (d, "name", td->name);
  jf_add (d, "id", json_object_new_int64 (td->id));
  jf_add (d, "size", json_object_new_int64 ((int64_t) td->size));
  if (td->added_seq) {
    jf_add (d, "added_seq", json_object_new_int64 ((int64_t) td->added_seq));
    jf_add (d, "added_ns", json_object_new_int64 (td->added_ns));
  }
  if (td->resizes.len > 0) {
    json_object *a = json_object_new_array ();
    for (size_t k = 0; k < td->resizes.len; k++)
      jf_append (a, resize_json (&td->resizes.ptr[k]));
    jf_add (d, "resizes", a);
  }
  return d;
}

int
task_save (const struct task *t)
{
  int version = 1;

  json_object *o = json_object_new_object (), *disks = json_object_new_array ();
  json_object *pol = json_object_new_object ();
  char *path = task_path (t, "task.json");
  int r;

  put_str (o, "name", t->name);
  put_str (o, "mode", task_mode_name (t));
  put_str (o, "listen", t->listen);
  put_str (o, "tls_creds", t->lo.tls_creds);
  put_str (o, "tls_psk", t->lo.tls_psk);
  if (t->lo.no_tls)
    jf_add (o, "no_tls", json_object_new_boolean (true));
  jf_add (o, "max_connections", json_object_new_int64
          (t->lo.max_connections ? t->lo.max_connections
           : LISTEN_DEFAULT_MAX_CONNECTIONS));
  put_str (o, "qmp", t->qmp);
  put_str (o, "domain", t->domain);
  put_str (o, "connect", t->connect);
  if (t->all_disks)
    jf_add (o, "all_disks", json_object_new_boolean (true));
  for (size_t i = 0; i < t->disks.len; i++) {
    jf_append (disks, disk_json (&t->disks.ptr[i]));
    if (t->disks.ptr[i].resizes.len > 0)
      version = 2;
  }
  jf_add (o, "disks", disks);
  policy_members (pol, &t->policy);
  if (t->policy.segment_size)
    jf_add (pol, "segment_size", json_object_new_int64 (t->policy.segment_size));
  jf_add (o, "policy", pol);
  if (t->archive.location)
    jf_add (o, "archive", task_archive_json (&t->archive));
  jf_add (o, "created_ns", json_object_new_int64 (t->created_ns));
  r = jf_save (path, o, version, 0644);
  json_object_put (o);
  free (path);
  return r;
}

char *
json_str (json_object *o, const char *key)
{
  json_object *v;

  if (!json_object_object_get_ex (o, key, &v) || !json_object_is_type (v, json_type_string))
    return NULL;
  return strdup (json_object_get_string (v));
}

int64_t
json_int (json_object *o, const char *key, int64_t dflt)
{
  json_object *v;

  if (!json_object_object_get_ex (o, key, &v))
    return dflt;
  return json_object_get_int64 (v);
}

/* A disk's "resizes": in seq order, each one's old size the size
 * before it, the last one's size the disk's. */
static int
parse_resizes (json_object *d, struct task_disk *td)
{
  json_object *a;
  uint64_t size = 0;

  if (!json_object_object_get_ex (d, "resizes", &a))
    return 0;
  if (!json_object_is_type (a, json_type_array))
    return -EINVAL;
  for (size_t k = 0; k < json_object_array_length (a); k++) {
    json_object *z = json_object_array_get_idx (a, k);
    struct disk_resize r = {
      .seq = (uint64_t) json_int (z, "seq", -1),
      .time_ns = json_int (z, "time_ns", 0),
      .old_size = (uint64_t) json_int (z, "old_size", 0),
      .size = (uint64_t) json_int (z, "size", 0) };
    if (r.seq == UINT64_MAX || r.size == 0 || r.old_size == 0 ||
        (k > 0 && (r.seq < td->resizes.ptr[k - 1].seq || r.old_size != size)) ||
        disk_resize_vector_append (&td->resizes, r) < 0)
      return -EINVAL;
    size = r.size;
  }
  return size == 0 || size == td->size ? 0 : -EINVAL;
}

/* A served task's protector resizes disks while other threads read
 * their sizes (task.h). */
static pthread_mutex_t sizes_lock = PTHREAD_MUTEX_INITIALIZER;

uint64_t
task_disk_size_at (const struct task_disk *d, uint64_t seq)
{
  uint64_t size = 0;

  pthread_mutex_lock (&sizes_lock);
  for (size_t k = d->resizes.len; k > 0 && size == 0; k--) {
    const struct disk_resize *z = &d->resizes.ptr[k - 1];
    if (seq >= z->seq)
      size = z->size;
    else if (k == 1)
      size = z->old_size;
  }
  if (size == 0)
    size = d->size;
  pthread_mutex_unlock (&sizes_lock);
  return size;
}

uint64_t
task_disk_size (const struct task_disk *d)
{
  uint64_t size;

  pthread_mutex_lock (&sizes_lock);
  size = d->size;
  pthread_mutex_unlock (&sizes_lock);
  return size;
}

int
task_disk_resize_apply (struct task_disk *d, const struct disk_resize *z)
{
  int r;

  pthread_mutex_lock (&sizes_lock);
  r = disk_resize_vector_append (&d->resizes, *z);
  if (r == 0)
    d->size = z->size;
  pthread_mutex_unlock (&sizes_lock);
  return r < 0 ? -ENOMEM : 0;
}

static int
parse_task (json_object *o, struct task *t)
{
  json_object *disks, *pol;
  char *mode = json_str (o, "mode");
  const struct hv_driver *hv = mode ? hv_by_name (mode) : NULL;
  int64_t mc;

  free (mode);
  if (hv == NULL)
    return -EINVAL;
  t->hv = hv;
  t->listen = json_str (o, "listen");
  t->lo.tls_creds = json_str (o, "tls_creds");
  t->lo.tls_psk = json_str (o, "tls_psk");
  t->lo.no_tls = json_int (o, "no_tls", 0) != 0;
  mc = json_int (o, "max_connections", LISTEN_DEFAULT_MAX_CONNECTIONS);
  if (mc < 1 || mc > 10000)
    return -EINVAL;
  t->lo.max_connections = (unsigned) mc;
  t->qmp = json_str (o, "qmp");
  t->domain = json_str (o, "domain");
  t->connect = json_str (o, "connect");
  t->created_ns = json_int (o, "created_ns", 0);
  if (!json_object_object_get_ex (o, "disks", &disks) ||
      !json_object_is_type (disks, json_type_array))
    return -EINVAL;
  t->all_disks = json_int (o, "all_disks", 0) != 0;
  for (size_t i = 0; i < json_object_array_length (disks); i++) {
    json_object *d = json_object_array_get_idx (disks, i);
    struct task_disk td = { .name = json_str (d, "name"),
                            .id = (uint32_t) json_int (d, "id", (int64_t) i),
                            .size = (uint64_t) json_int (d, "size", 0),
                            .added_seq = (uint64_t) json_int (d, "added_seq", 0),
                            .added_ns = json_int (d, "added_ns", 0) };
    if (td.name == NULL || parse_resizes (d, &td) < 0 ||
        task_disk_vector_append (&t->disks, td) < 0) {
      free (td.name);
      disk_resize_vector_reset (&td.resizes);
      return -EINVAL;
    }
  }
  if (json_object_object_get_ex (o, "policy", &pol)) {
    t->policy.bp_interval = json_int (pol, "bp_interval_ns", 0);
    t->policy.journal_retention = json_int (pol, "journal_retention_ns", 0);
    t->policy.bp_retention = json_int (pol, "bp_retention_ns", 0);
    t->policy.max_chain = (unsigned) json_int (pol, "max_chain", 16);
    t->policy.segment_size = (uint32_t) json_int (pol, "segment_size", 0);
    t->policy.verify_interval = json_int (pol, "verify_interval_ns",
                                          VERIFY_INTERVAL_DEFAULT);
    /* Written before --rpo existed: every write was durable first. */
    t->policy.rpo = json_int (pol, "rpo_ns", 0);
  }
  if (task_archive_parse (o, &t->archive) < 0)
    return -EINVAL;
  if (t->disks.len == 0 || t->policy.bp_interval <= 0 ||
      t->policy.journal_retention <= 0 || t->policy.bp_retention <= 0 ||
      t->policy.max_chain < 1 || t->policy.rpo < 0)
    return -EINVAL;
  return 0;
}

int
task_load (const char *store, const char *name, struct task **tp)
{
  struct task *t;
  char *tasks, *path;
  json_object *o;
  int r;

  if (!task_name_valid (name))
    return -EINVAL;
  t = calloc (1, sizeof *t);
  if (t == NULL)
    return -ENOMEM;
  tasks = path_join (store, "tasks");
  t->dir = tasks ? path_join (tasks, name) : NULL;
  t->name = strdup (name);
  free (tasks);
  if (t->dir == NULL || t->name == NULL) {
    task_free (t);
    return -ENOMEM;
  }
  path = task_path (t, "task.json");
  r = jf_load (path, TASK_VERSION, &o, NULL);
  free (path);
  if (r == 0)
    r = parse_task (o, t) < 0 ? -EUCLEAN : 0;
  json_object_put (o);
  if (r < 0) {
    task_free (t);
    return r;
  }
  *tp = t;
  return 0;
}

int
task_policy_load (const struct task *t, struct task_policy *p)
{
  struct task *now = calloc (1, sizeof *now);
  char *path = task_path (t, "task.json");
  json_object *o;
  int r;

  if (now == NULL) {
    free (path);
    return -ENOMEM;
  }
  r = jf_load (path, TASK_VERSION, &o, NULL);
  free (path);
  if (r == 0)
    r = parse_task (o, now) < 0 ? -EUCLEAN : 0;
  json_object_put (o);
  if (r == 0)
    *p = now->policy;
  task_free (now);
  return r;
}

int
task_policy_save (const struct task *t, const struct task_policy *p)
{
  char *path = task_path (t, "task.json");
  json_object *o, *pol;
  int version = 1, r = jf_load (path, TASK_VERSION, &o, &version);

  if (r == 0 && (!json_object_object_get_ex (o, "policy", &pol) ||
                 !json_object_is_type (pol, json_type_object)))
    r = -EUCLEAN;
  if (r == 0) {
    policy_members (pol, p);
    r = jf_save (path, o, version, 0644);
  }
  json_object_put (o);
  free (path);
  return r;
}

int
task_archive_load (const struct task *t, struct task_archive *a)
{
  CLEANUP_FREE char *path = task_path (t, "task.json");
  json_object *o;
  int r;

  task_archive_defaults (a);
  if (path == NULL)
    return -ENOMEM;
  r = jf_load (path, TASK_VERSION, &o, NULL);
  if (r == 0 && (r = task_archive_parse (o, a)) == -EINVAL)
    r = -EUCLEAN;
  json_object_put (o);
  return r;
}

int
task_archive_save (const struct task *t, const struct task_archive *a)
{
  CLEANUP_FREE char *path = task_path (t, "task.json");
  json_object *o, *ar = NULL;
  int version = 1, r;

  if (path == NULL)
    return -ENOMEM;
  r = jf_load (path, TASK_VERSION, &o, &version);
  if (r == 0 && !json_object_is_type (o, json_type_object))
    r = -EUCLEAN;
  if (r == 0) {
    json_object_object_del (o, "archive");
    if (a->location && (ar = task_archive_json (a)) == NULL)
      r = -ENOMEM;
    if (r == 0 && ar)
      r = jf_add (o, "archive", ar);
  }
  if (r == 0)
    r = jf_save (path, o, version, 0644);
  json_object_put (o);
  return r;
}

int
task_load_fail (const char *store, const char *name, int e)
{
  if (e == -ENOENT || e == -EINVAL)
    return fail ("no task '%s' in %s", name, store);
  if (e == -ENOMEM)
    return fail ("task %s: %s", name, strerror (ENOMEM));
  return fail ("task %s: cannot read %s/tasks/%s/task.json: %s; %s", name,
               store, name, jf_strerror (e), e == -EPROTONOSUPPORT
               ? "run a cdp that knows its format"
               : "restore it from a backup, or delete the task "
                 "(task delete --force)");
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

int
task_list (const char *store, string_vector *names)
{
  CLEANUP_FREE char *tasks = path_join (store, "tasks");
  DIR *d;
  struct dirent *e;

  if (tasks == NULL)
    return -ENOMEM;
  d = opendir (tasks);
  if (d == NULL)
    return errno == ENOENT ? 0 : -errno;
  while ((e = readdir (d)) != NULL)
    if (task_name_valid (e->d_name))
      string_vector_append (names, strdup (e->d_name));
  closedir (d);
  if (names->len > 1)               /* qsort (NULL, 0) is undefined */
    qsort (names->ptr, names->len, sizeof names->ptr[0], cmp_str);
  return 0;
}

const struct task_disk *
task_find_disk (const struct task *t, const char *name)
{
  for (size_t i = 0; i < t->disks.len; i++)
    if (strcmp (t->disks.ptr[i].name, name) == 0)
      return &t->disks.ptr[i];
  return NULL;
}

const struct task_disk *
task_pick_disk (const struct task *t, const char *name)
{
  const struct task_disk *d;

  if (name == NULL) {
    if (t->disks.len == 1)
      return &t->disks.ptr[0];
    usage_error ("task %s has %zu disks: name one with --disk", t->name,
                 t->disks.len);
    return NULL;
  }
  d = task_find_disk (t, name);
  if (d == NULL)
    fail ("task %s has no disk '%s'", t->name, name);
  return d;
}

/* ---- disks added or resized while served -------------------------------- */

int
task_lock_hold (const struct task *t)
{
  CLEANUP_FREE char *path = task_path (t, "task.lock");
  int fd;

  if (path == NULL)
    return -ENOMEM;
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  if (flock (fd, LOCK_EX) < 0) {
    int e = -errno;
    close (fd);
    return e;
  }
  return fd;
}

/* Load task.json under task.lock, let change() rewrite its "disks"
 * array, save it as version (or the version it had, if higher). */
static int
change_disks (const struct task *t, int version,
              int (*change) (json_object *disks, void *arg), void *arg)
{
  CLEANUP_FREE char *path = task_path (t, "task.json");
  json_object *o = NULL, *disks;
  int had = 1, fd = task_lock_hold (t), r;

  if (fd < 0)
    return fd;
  r = jf_load (path, TASK_VERSION, &o, &had);
  if (r == 0 && (!json_object_object_get_ex (o, "disks", &disks) ||
                 !json_object_is_type (disks, json_type_array)))
    r = -EUCLEAN;
  if (r == 0)
    r = change (disks, arg);
  if (r == 0)
    r = jf_save (path, o, had > version ? had : version, 0644);
  json_object_put (o);
  close (fd);
  return r;
}

static int
add_disk (json_object *disks, void *arg)
{
  const struct task_disk *td = arg;

  for (size_t i = 0; i < json_object_array_length (disks); i++) {
    json_object *d = json_object_array_get_idx (disks, i);
    CLEANUP_FREE char *name = json_str (d, "name");
    if ((name && strcmp (name, td->name) == 0) ||
        json_int (d, "id", (int64_t) i) == (int64_t) td->id)
      return -EEXIST;
  }
  return jf_append (disks, disk_json (td));
}

int
task_disk_add (const struct task *t, const struct task_disk *d)
{
  return change_disks (t, 1, add_disk, (void *) d);
}

struct disk_resized {
  uint32_t id;
  struct disk_resize z;
};

static int
resize_disk (json_object *disks, void *arg)
{
  struct disk_resized *a = arg;

  for (size_t i = 0; i < json_object_array_length (disks); i++) {
    json_object *d = json_object_array_get_idx (disks, i), *rs;
    if (json_int (d, "id", (int64_t) i) != (int64_t) a->id)
      continue;
    a->z.old_size = (uint64_t) json_int (d, "size", 0);
    if (!json_object_object_get_ex (d, "resizes", &rs)) {
      rs = json_object_new_array ();
      if (jf_add (d, "resizes", rs) < 0)
        return -ENOMEM;
    }
    if (!json_object_is_type (rs, json_type_array))
      return -EUCLEAN;
    if (jf_append (rs, resize_json (&a->z)) < 0)
      return -ENOMEM;
    return jf_add (d, "size", json_object_new_int64 ((int64_t) a->z.size));
  }
  return -ENOENT;
}

int
task_disk_resized (const struct task *t, uint32_t id, uint64_t seq,
                   int64_t time_ns, uint64_t size)
{
  struct disk_resized a = { id, { .seq = seq, .time_ns = time_ns,
                                  .size = size } };

  return change_disks (t, 2, resize_disk, &a);
}

void
task_disk_show (const struct task_disk *d, json_object *o, char *text,
                size_t len)
{
  char tb[64], sz[32];
  size_t n = 0;

  *text = '\0';
  if (d->added_seq) {
    format_time (d->added_ns, tb, sizeof tb);
    if (o)
      jf_add (o, "added", json_object_new_string (tb));
    n += (size_t) snprintf (text + n, len - n, "; added %s", tb);
  }
  if (d->resizes.len > 0) {
    json_object *a = o ? json_object_new_array () : NULL;
    const struct disk_resize *z = &d->resizes.ptr[d->resizes.len - 1];
    for (size_t k = 0; o && k < d->resizes.len; k++) {
      json_object *r = json_object_new_object ();
      format_time (d->resizes.ptr[k].time_ns, tb, sizeof tb);
      jf_add (r, "time", json_object_new_string (tb));
      jf_add (r, "seq", json_object_new_int64 ((int64_t) d->resizes.ptr[k].seq));
      jf_add (r, "old_size", json_object_new_int64 ((int64_t) d->resizes.ptr[k].old_size));
      jf_add (r, "size", json_object_new_int64 ((int64_t) d->resizes.ptr[k].size));
      jf_append (a, r);
    }
    if (o)
      jf_add (o, "resizes", a);
    format_time (z->time_ns, tb, sizeof tb);
    format_size (z->old_size, sz, sizeof sz);
    if (n < len)
      snprintf (text + n, len - n, "; resized %zu time%s, last at %s from %s",
                d->resizes.len, d->resizes.len == 1 ? "" : "s", tb, sz);
  }
}
