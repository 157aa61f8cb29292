/* cdp: small helpers of the command line. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/timeutil.h"
#include "cdp/task/task.h"

/* fail_capture: where this thread's next line goes instead of stderr. */
static __thread char *capture;
static __thread size_t capture_len;

static int
vmsg (int code, const char *fmt, va_list ap)
{
  if (capture) {
    if (*capture == '\0')            /* the first line: the cause */
      vsnprintf (capture, capture_len, fmt, ap);
    return code;
  }
  fputs ("cdp: ", stderr);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  return code;
}

void
fail_capture (char *buf, size_t len)
{
  capture = len > 0 ? buf : NULL;
  capture_len = len;
  if (capture)
    *capture = '\0';
}

int
fail (const char *fmt, ...)
{
  va_list ap;
  int r;

  va_start (ap, fmt);
  r = vmsg (EXIT_FAIL, fmt, ap);
  va_end (ap);
  return r;
}

int
usage_error (const char *fmt, ...)
{
  va_list ap;
  int r;

  va_start (ap, fmt);
  r = vmsg (EXIT_USAGE, fmt, ap);
  va_end (ap);
  return r;
}

void
log_msg (const char *fmt, ...)
{
  va_list ap;
  char ts[32];
  time_t now = (time_t) (time_now_ns () / 1000000000);
  struct tm tm;

  localtime_r (&now, &tm);
  strftime (ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
  fprintf (stderr, "%s cdp: ", ts);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
}

char *
path_join (const char *a, const char *b)
{
  size_t la = strlen (a), lb = strlen (b);
  char *p = malloc (la + lb + 2);

  if (p == NULL)
    return NULL;
  memcpy (p, a, la);
  p[la] = '/';
  memcpy (p + la + 1, b, lb + 1);
  return p;
}

int
mkdir_p (const char *path, unsigned mode)
{
  char *copy = strdup (path);
  int r = 0;

  if (copy == NULL)
    return -ENOMEM;
  for (char *p = copy + 1; r == 0 && *p; p++)
    if (*p == '/') {
      *p = 0;
      if (mkdir (copy, 0755) < 0 && errno != EEXIST)
        r = -errno;
      *p = '/';
    }
  if (r == 0 && mkdir (copy, mode) < 0 && errno != EEXIST)
    r = -errno;
  free (copy);
  return r;
}

bool
want_help (int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
      return true;
  return false;
}

/* ---- unix sockets QEMU connects to ----------------------------------------- */

/* Can uid/gid search (x) directory path? */
static bool
searchable (const char *path, uid_t uid, gid_t gid)
{
  struct stat st;

  if (stat (path, &st) < 0)
    return false;
  if (uid == 0 || (st.st_mode & S_IXOTH))
    return true;
  if (st.st_uid == uid)
    return (st.st_mode & S_IXUSR) != 0;
  return st.st_gid == gid && (st.st_mode & S_IXGRP);
}

static int
grant_one (const char *path, gid_t gid, mode_t mode)
{
  if (chown (path, (uid_t) -1, gid) < 0 || chmod (path, mode) < 0)
    return -errno;
  return 0;
}

int
socket_grant (const char *task_dir, const char *sock, uid_t uid, gid_t gid,
              char *why, size_t len)
{
  char *dir = strdup (sock);
  int e = 0;

  if (dir == NULL)
    return -ENOMEM;
  if (uid == 0) {
    free (dir);
    return 0;
  }
  *strrchr (dir, '/') = 0;
  /* Ours: the task directory and the socket's let QEMU's group pass (no
   * listing), the socket lets it connect; other users get nothing. */
  if (task_dir && ((e = grant_one (task_dir, gid, 0710)) < 0 ||
                   (e = grant_one (dir, gid, 0710)) < 0))
    snprintf (why, len, "cannot open %s to QEMU's group %u: %s", dir,
              (unsigned) gid, strerror (-e));
  if (e == 0 && (e = grant_one (sock, gid, 0660)) < 0)
    snprintf (why, len, "cannot give socket %s to QEMU's group %u: %s", sock,
              (unsigned) gid, strerror (-e));
  for (char *p = strrchr (dir, '/'); e == 0 && p; p = strrchr (dir, '/')) {
    if (!searchable (*dir ? dir : "/", uid, gid)) {
      snprintf (why, len, "QEMU (uid %u) cannot reach the socket %s: %s is "
                "not searchable for it (chmod o+x it, or create the task "
                "with --listen)", (unsigned) uid, sock, dir);
      e = -EACCES;
    }
    *p = 0;
  }
  free (dir);
  return e;
}
