/* cdp ls: the entries of a directory of a point, or its partitions. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/cli/cli-internal.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"
#include "recovery/files/files.h"

/* ---- ls ------------------------------------------------------------------------ */

static int
by_name (const void *a, const void *b)
{
  return strcmp (((const struct files_entry *) a)->name,
                 ((const struct files_entry *) b)->name);
}

/* Control characters as \xNN, so that a name cannot drive the terminal. */
static void
print_name (const char *s)
{
  for (; *s; s++)
    if ((unsigned char) *s < 0x20 || *s == 0x7f || *s == '\\')
      printf (*s == '\\' ? "\\\\" : "\\x%02x", (unsigned char) *s);
    else
      putchar (*s);
}

static void
local_time (int64_t ns, char *buf, size_t len)
{
  time_t t = (time_t) (ns / 1000000000 - (ns % 1000000000 < 0));
  struct tm tm;

  if (localtime_r (&t, &tm) == NULL || strftime (buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
    snprintf (buf, len, "@%" PRId64, ns / 1000000000);
}

static int
imax (int a, int b)
{
  return a > b ? a : b;
}

static void
print_long (const files_entry_vector *v)
{
  int wsize = 1, wlink = 1, wuid = 1, wgid = 1;
  char mode[11], tm[64];

  for (size_t i = 0; i < v->len; i++) {
    const struct files_entry *e = &v->ptr[i];
    wsize = imax (wsize, snprintf (NULL, 0, "%" PRIu64, e->size));
    wlink = imax (wlink, snprintf (NULL, 0, "%u", e->nlink));
    wuid = imax (wuid, snprintf (NULL, 0, "%u", e->uid));
    wgid = imax (wgid, snprintf (NULL, 0, "%u", e->gid));
  }
  for (size_t i = 0; i < v->len; i++) {
    const struct files_entry *e = &v->ptr[i];
    if (e->fs[0]) {                 /* a partition */
      format_size (e->size, tm, sizeof tm);
      printf ("%-6s %-10s %s\n", e->name, e->fs, tm);
      continue;
    }
    files_mode_string (e->mode, mode);
    local_time (e->mtime_ns, tm, sizeof tm);
    printf ("%s %*u %*u %*u %*" PRIu64 " %s ", mode, wlink, e->nlink, wuid, e->uid,
            wgid, e->gid, wsize, e->size, tm);
    print_name (e->name);
    if (e->target) {
      fputs (" -> ", stdout);
      print_name (e->target);
    }
    putchar ('\n');
  }
}

static bool
valid_utf8 (const unsigned char *s)
{
  while (*s) {
    int n = *s < 0x80 ? 0 : (*s & 0xe0) == 0xc0 ? 1 : (*s & 0xf0) == 0xe0 ? 2
          : (*s & 0xf8) == 0xf0 ? 3 : -1;
    if (n < 0 || (n == 1 && *s < 0xc2))
      return false;
    s++;
    for (int i = 0; i < n; i++, s++)
      if ((*s & 0xc0) != 0x80)
        return false;
  }
  return true;
}

/* A name as a JSON string: as it is when UTF-8, else with each bad byte
 * as U+FFFD and the exact bytes in hex beside it (key_hex). */
static void
add_name (json_object *o, const char *key, const char *s)
{
  char hexkey[32];

  if (valid_utf8 ((const unsigned char *) s)) {
    jf_add (o, key, json_object_new_string (s));
    return;
  }
  size_t n = strlen (s);
  char *lossy = malloc (3 * n + 1), *hex = malloc (2 * n + 1), *p = lossy;
  if (lossy == NULL || hex == NULL) {
    free (lossy);
    free (hex);
    jf_fail (o);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char) s[i];
    if (c < 0x80) {
      *p++ = (char) c;
    }
    else {
      memcpy (p, "\xef\xbf\xbd", 3);
      p += 3;
    }
    sprintf (hex + 2 * i, "%02x", c);
  }
  *p = 0;
  jf_add (o, key, json_object_new_string (lossy));
  snprintf (hexkey, sizeof hexkey, "%s_hex", key);
  jf_add (o, hexkey, json_object_new_string (hex));
  free (lossy);
  free (hex);
}

static void
add_time (json_object *o, const char *key, int64_t ns)
{
  char buf[64];

  format_time (ns, buf, sizeof buf);
  jf_add (o, key, json_object_new_string (buf));
}

/* Every entry has every member; what does not apply is null. */
static json_object *
entry_json (const struct files_entry *e)
{
  json_object *o = json_object_new_object ();
  char mode[11];
  unsigned part;
  bool is_part = e->fs[0] != 0;

  add_name (o, "name", e->name);
  jf_add (o, "type", json_object_new_string (files_type_name (e->mode)));
  jf_add (o, "mode", json_object_new_int (e->mode & 07777));
  files_mode_string (e->mode, mode);
  jf_add (o, "mode_string", json_object_new_string (mode));
  jf_add (o, "uid", json_object_new_int64 (e->uid));
  jf_add (o, "gid", json_object_new_int64 (e->gid));
  jf_add (o, "size", json_object_new_int64 ((int64_t) e->size));
  jf_add (o, "nlink", json_object_new_int64 (e->nlink));
  jf_add (o, "ino", json_object_new_int64 ((int64_t) e->ino));
  if (is_part) {
    jf_add_null (o, "mtime");
    jf_add_null (o, "atime");
    jf_add_null (o, "ctime");
  }
  else {
    add_time (o, "mtime", e->mtime_ns);
    add_time (o, "atime", e->atime_ns);
    add_time (o, "ctime", e->ctime_ns);
  }
  if (e->target)
    add_name (o, "target", e->target);
  else
    jf_add_null (o, "target");
  if (is_part && sscanf (e->name, "p%u", &part) == 1)
    jf_add (o, "partition", json_object_new_int64 (part));
  else
    jf_add_null (o, "partition");
  if (is_part)
    jf_add (o, "fs", json_object_new_string (e->fs));
  else
    jf_add_null (o, "fs");
  return o;
}

/* What path is: the partitions of a disk, a directory, or a file (or
 * another non-directory) whose own entry is the listing. */
static const char *
listing_kind (const struct files_entry *self, const files_entry_vector *v)
{
  for (size_t i = 0; i < v->len; i++)
    if (v->ptr[i].fs[0])
      return "partitions";
  return S_ISDIR (self->mode) ? "directory" : "file";
}

static int
print_json (const struct fsession *s, const char *path, const struct files_entry *self,
            const files_entry_vector *v)
{
  json_object *root = json_object_new_object (), *a = json_object_new_array ();

  add_name (root, "path", path);
  jf_add (root, "point", json_object_new_string (s->tbuf));
  jf_add (root, "kind", json_object_new_string (listing_kind (self, v)));
  for (size_t i = 0; i < v->len; i++)
    jf_append (a, entry_json (&v->ptr[i]));
  jf_add (root, "entries", a);
  return cli_print_json (root);
}

static int
do_ls (struct fsession *s, const struct files_opts *o)
{
  files_entry_vector v = empty_vector;
  struct files_entry self = { 0 };
  int r = files_stat (s->f, o->path, true, &self);

  if (r == 0)
    r = files_list (s->f, o->path, &v);
  if (r == -ENOTSUP) {
    files_entry_clear (&self);
    r = fsession_gfs_list (s, o->path, &v, &self);
  }
  if (r < 0) {
    files_entry_vector_clear (&v);
    files_entry_clear (&self);
    return r == -ENOTSUP ? EXIT_FAIL : fsession_failed (s, "list", o->path, r);
  }
  if (v.len)
    qsort (v.ptr, v.len, sizeof *v.ptr, by_name);
  if (o->json)
    r = print_json (s, o->path, &self, &v);
  else
    print_long (&v);
  files_entry_vector_clear (&v);
  files_entry_clear (&self);
  if (o->json)
    return r;
  return fflush (stdout) == 0 ? EXIT_OK : fail ("cannot write the listing: %s",
                                               strerror (errno));
}

int
cmd_ls (const char *store, int argc, char **argv)
{
  return fsession_run (CMD_LS, store, argc, argv, do_ls);
}
