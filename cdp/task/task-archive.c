/* cdp: the archive a task keeps its points in — task.json "archive",
 * the flags that set it (task create and task set share them), and what
 * a location must look like.
 *
 * task.json: "archive": {"location": L, "keep": {"daily": N, "weekly": N,
 * "monthly": N}, "bandwidth": B}.  A task.json without it (written
 * before archives, or with --archive none) has no archive; an older cdp
 * reading one with it ignores it and archives nothing.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "common/cleanup.h"
#include "common/jsonfile.h"
#include "common/timeutil.h"

#define KEEP_MAX 100000

void
task_archive_defaults (struct task_archive *a)
{
  *a = (struct task_archive) {
    .location = NULL, .keep_daily = ARCHIVE_KEEP_DAILY_DEFAULT,
    .keep_weekly = ARCHIVE_KEEP_WEEKLY_DEFAULT,
    .keep_monthly = ARCHIVE_KEEP_MONTHLY_DEFAULT,
    .bandwidth = ARCHIVE_BANDWIDTH_DEFAULT };
}

void
task_archive_free (struct task_archive *a)
{
  free (a->location);
  a->location = NULL;
}

int
task_archive_copy (struct task_archive *dst, const struct task_archive *a)
{
  *dst = *a;
  dst->location = NULL;
  if (a->location && (dst->location = strdup (a->location)) == NULL)
    return -ENOMEM;
  return 0;
}

bool
task_archive_same (const struct task_archive *a, const struct task_archive *b)
{
  if ((a->location == NULL) != (b->location == NULL) ||
      (a->location && strcmp (a->location, b->location) != 0))
    return false;
  return a->keep_daily == b->keep_daily && a->keep_weekly == b->keep_weekly &&
         a->keep_monthly == b->keep_monthly && a->bandwidth == b->bandwidth;
}

static int
keep_opt (const char *flag, const char *arg, unsigned *dst)
{
  char *end;
  long n = strtol (arg, &end, 10);

  if (end == arg || *end || n < 0 || n > KEEP_MAX)
    return usage_error ("--%s takes a number from 0 to %d, not '%s'", flag,
                        KEEP_MAX, arg);
  *dst = (unsigned) n;
  return 0;
}

int
task_archive_opt (int c, const char *arg, struct task_archive *a)
{
  char why[512];

  switch (c) {
  case ARCHIVE_OPT_LOCATION:
    free (a->location);
    a->location = NULL;
    if (strcmp (arg, "none") == 0)
      return 0;
    if (task_archive_location_check (arg, why, sizeof why) == -EINVAL)
      return usage_error ("%s", why);
    if ((a->location = strdup (arg)) == NULL)
      return fail ("%s", strerror (ENOMEM));
    return 0;
  case ARCHIVE_OPT_KEEP_DAILY:
    return keep_opt ("keep-daily", arg, &a->keep_daily);
  case ARCHIVE_OPT_KEEP_WEEKLY:
    return keep_opt ("keep-weekly", arg, &a->keep_weekly);
  case ARCHIVE_OPT_KEEP_MONTHLY:
    return keep_opt ("keep-monthly", arg, &a->keep_monthly);
  case ARCHIVE_OPT_BANDWIDTH:
    if (parse_size (arg, &a->bandwidth) < 0)
      return usage_error ("--archive-bandwidth takes bytes a second (K M G "
                          "suffixes; 0: no bound), not '%s'", arg);
    return 0;
  default:
    abort ();                   /* only the ARCHIVE_OPT_* come here */
  }
}

/* S3's rules for a bucket's name: 3 to 63 of a-z 0-9 . -, starting and
 * ending with a letter or digit. */
static bool
bucket_valid (const char *b, size_t n)
{
  if (n < 3 || n > 63)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = b[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && ((i == 0 || i == n - 1) || (c != '.' && c != '-')))
      return false;
  }
  return true;
}

/* A prefix: '/'-separated parts, none "." or "..", no control bytes. */
static bool
prefix_valid (const char *p)
{
  for (const char *s = p; *s; ) {
    size_t n = strcspn (s, "/");
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
      return false;
    for (size_t i = 0; i < n; i++)
      if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
        return false;
    s += n;
    while (*s == '/')
      s++;
  }
  return true;
}

static int
check_s3 (const char *location, char *why, size_t len)
{
  const char *b = location + 5, *slash = strchr (b, '/');
  size_t n = slash ? (size_t) (slash - b) : strlen (b);

  if (!bucket_valid (b, n)) {
    snprintf (why, len, "archive location '%s': '%.*s' is not an S3 bucket "
              "name (3-63 of a-z 0-9 . -); the form is s3://BUCKET/PREFIX",
              location, (int) n, b);
    return -EINVAL;
  }
  if (slash && !prefix_valid (slash + 1)) {
    snprintf (why, len, "archive location '%s': its prefix has a '.' or "
              "'..' part or a control character", location);
    return -EINVAL;
  }
  return 0;
}

static int
check_dir (const char *location, char *why, size_t len)
{
  CLEANUP_FREE char *parent = strdup (location);
  struct stat st;
  char *slash;

  if (parent == NULL)
    return -ENOMEM;
  if (stat (location, &st) == 0) {
    if (S_ISDIR (st.st_mode))
      return 0;
    snprintf (why, len, "archive location %s is not a directory", location);
    return -ENOTDIR;
  }
  while ((slash = strrchr (parent, '/')) && slash[1] == '\0' && slash != parent)
    *slash = '\0';                  /* "dir/" is dir */
  slash = strrchr (parent, '/');
  if (slash == parent)
    parent[1] = '\0';
  else if (slash)
    *slash = '\0';
  else
    strcpy (parent, ".");
  if (stat (parent, &st) < 0 || !S_ISDIR (st.st_mode)) {
    snprintf (why, len, "archive location %s: its parent directory %s %s",
              location, parent, stat (parent, &st) < 0 ? "does not exist"
              : "is not a directory");
    return stat (parent, &st) < 0 ? -ENOENT : -ENOTDIR;
  }
  return 0;
}

int
task_archive_location_check (const char *location, char *why, size_t len)
{
  if (*location == '\0') {
    snprintf (why, len, "--archive needs a directory or s3://BUCKET/PREFIX");
    return -EINVAL;
  }
  if (strncmp (location, "s3://", 5) == 0)
    return check_s3 (location, why, len);
  if (strstr (location, "://")) {
    snprintf (why, len, "archive location '%s': only a directory or "
              "s3://BUCKET/PREFIX can be an archive", location);
    return -EINVAL;
  }
  if (location[0] != '/') {
    snprintf (why, len, "archive location '%s': a directory is given by its "
              "absolute path (cdp serve runs elsewhere)", location);
    return -EINVAL;
  }
  return check_dir (location, why, len);
}

json_object *
task_archive_json (const struct task_archive *a)
{
  json_object *o, *keep;

  if (a->location == NULL)
    return NULL;
  o = json_object_new_object ();
  keep = json_object_new_object ();
  jf_add (o, "location", json_object_new_string (a->location));
  jf_add (keep, "daily", json_object_new_int64 (a->keep_daily));
  jf_add (keep, "weekly", json_object_new_int64 (a->keep_weekly));
  jf_add (keep, "monthly", json_object_new_int64 (a->keep_monthly));
  jf_add (o, "keep", keep);
  jf_add (o, "bandwidth", json_object_new_int64 ((int64_t) a->bandwidth));
  return o;
}

static int
keep_member (json_object *keep, const char *key, unsigned *dst)
{
  json_object *v;
  int64_t n;

  if (!json_object_object_get_ex (keep, key, &v))
    return 0;
  if (!json_object_is_type (v, json_type_int))
    return -EINVAL;
  n = json_object_get_int64 (v);
  if (n < 0 || n > KEEP_MAX)
    return -EINVAL;
  *dst = (unsigned) n;
  return 0;
}

int
task_archive_parse (json_object *o, struct task_archive *a)
{
  json_object *ar, *keep, *v;

  task_archive_free (a);
  task_archive_defaults (a);
  if (!json_object_object_get_ex (o, "archive", &ar))
    return 0;
  if (!json_object_is_type (ar, json_type_object) ||
      !json_object_object_get_ex (ar, "location", &v) ||
      !json_object_is_type (v, json_type_string) ||
      *json_object_get_string (v) == '\0')
    return -EINVAL;
  if (json_object_object_get_ex (ar, "keep", &keep) &&
      (!json_object_is_type (keep, json_type_object) ||
       keep_member (keep, "daily", &a->keep_daily) < 0 ||
       keep_member (keep, "weekly", &a->keep_weekly) < 0 ||
       keep_member (keep, "monthly", &a->keep_monthly) < 0))
    return -EINVAL;
  if (json_object_object_get_ex (ar, "bandwidth", &keep)) {
    if (!json_object_is_type (keep, json_type_int) ||
        json_object_get_int64 (keep) < 0)
      return -EINVAL;
    a->bandwidth = (uint64_t) json_object_get_int64 (keep);
  }
  a->location = strdup (json_object_get_string (v));
  return a->location ? 0 : -ENOMEM;
}

int
task_archive_origin (const char *store, char *host, size_t len, char **real)
{
  if (gethostname (host, len) < 0)
    return -errno;
  host[len - 1] = '\0';
  *real = realpath (store, NULL);
  return *real ? 0 : -errno;
}

bool
task_archive_ours (const char *host, const char *real, const char *p_host,
                   const char *p_store)
{
  return p_host && p_store && strcmp (host, p_host) == 0 &&
         strcmp (real, p_store) == 0;
}
