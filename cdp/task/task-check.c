/* cdp: what `cdp task create` checks before a task exists — its listen
 * address and its disks' sizes — so that serve never finds out later. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/un.h>

#include "cdp/task/task.h"
#include "common/timeutil.h"

/* tcp:HOST:PORT (HOST may be [IPv6], or empty: every address) with a
 * port 1-65535. */
static int
check_tcp (const char *addr, char *why, size_t len)
{
  const char *hp = addr + 4, *colon = strrchr (hp, ':');
  char *end;
  long port;

  if (colon == NULL) {
    snprintf (why, len, "--listen: tcp:HOST:PORT, not '%s'", addr);
    return -EINVAL;
  }
  port = strtol (colon + 1, &end, 10);
  if (colon[1] < '0' || colon[1] > '9' || *end || port < 1 || port > 65535) {
    snprintf (why, len, "--listen: '%s' has no port from 1 to 65535", addr);
    return -EINVAL;
  }
  if (hp[0] == '[' && (colon == hp || colon[-1] != ']')) {
    snprintf (why, len, "--listen: an IPv6 host is written [ADDRESS], not "
              "'%.*s'", (int) (colon - hp), hp);
    return -EINVAL;
  }
  return 0;
}

int
listen_addr_check (const char *addr, char *why, size_t len)
{
  struct sockaddr_un sa;

  if (strncmp (addr, "tcp:", 4) == 0)
    return check_tcp (addr, why, len);
  if (strncmp (addr, "unix:", 5) != 0) {
    snprintf (why, len, "--listen: unix:PATH or tcp:HOST:PORT, not '%s'", addr);
    return -EINVAL;
  }
  if (addr[5] != '/') {
    snprintf (why, len, "--listen: the socket path must be absolute, not "
              "'%s'", addr + 5);
    return -EINVAL;
  }
  if (strlen (addr + 5) >= sizeof sa.sun_path) {
    snprintf (why, len, "--listen: the socket path is longer than %zu bytes",
              sizeof sa.sun_path - 1);
    return -EINVAL;
  }
  return 0;
}

/* Is the host of tcp:HOST:PORT (the port's colon at colon) one that
 * takes the port on every address? */
static bool
wildcard_host (const char *addr, const char *colon)
{
  static const char *const any[] = { "", "0.0.0.0", "[::]", NULL };
  size_t n = (size_t) (colon - (addr + 4));

  for (const char *const *w = any; *w; w++)
    if (strlen (*w) == n && strncmp (addr + 4, *w, n) == 0)
      return true;
  return false;
}

/* Same address: the same socket path, or the same port on the same host
 * or on a wildcard host. */
static bool
same_addr (const char *a, const char *b)
{
  const char *pa, *pb;

  if (strcmp (a, b) == 0)
    return true;
  if (strncmp (a, "tcp:", 4) != 0 || strncmp (b, "tcp:", 4) != 0)
    return false;
  pa = strrchr (a, ':');
  pb = strrchr (b, ':');
  return strcmp (pa, pb) == 0 && (wildcard_host (a, pa) || wildcard_host (b, pb));
}

int
listen_addr_taken (const char *store, const char *addr, char *why, size_t len)
{
  string_vector names = empty_vector;
  int e = task_list (store, &names), r = 0;

  for (size_t i = 0; e == 0 && i < names.len; i++) {
    struct task *t;
    if (r == 0 && task_load (store, names.ptr[i], &t) == 0) {
      if (t->listen && same_addr (t->listen, addr)) {
        snprintf (why, len, "--listen: task %s listens on %s already",
                  t->name, t->listen);
        r = -EADDRINUSE;
      }
      task_free (t);
    }
    free (names.ptr[i]);
  }
  string_vector_reset (&names);
  return e < 0 ? e : r;
}

/* The store's file system, or that of its nearest existing parent. */
static int
store_fs_size (const char *store, uint64_t *size)
{
  char *p = strdup (store), *slash;
  struct statvfs st;
  int r = -ENOENT;

  if (p == NULL)
    return -ENOMEM;
  for (;;) {
    if (statvfs (*p ? p : "/", &st) == 0) {
      *size = (uint64_t) st.f_blocks * st.f_frsize;
      r = 0;
      break;
    }
    if (errno != ENOENT || (slash = strrchr (p, '/')) == NULL) {
      r = -errno;
      break;
    }
    *slash = 0;
  }
  free (p);
  return r;
}

int
task_size_check (const char *store, const struct task *t, char *why,
                 size_t len)
{
  uint64_t fs = 0;
  char a[32], b[32];
  int e = store_fs_size (store, &fs);

  if (e < 0) {
    snprintf (why, len, "cannot look at the store %s: %s", store,
              strerror (-e));
    return e;
  }
  for (size_t i = 0; i < t->disks.len; i++)
    if (t->disks.ptr[i].size > fs) {
      format_size (t->disks.ptr[i].size, a, sizeof a);
      format_size (fs, b, sizeof b);
      snprintf (why, len, "disk %s (%s) is larger than the store's file "
                "system (%s): its base points could never be made",
                t->disks.ptr[i].name, a, b);
      return -EFBIG;
    }
  return 0;
}
