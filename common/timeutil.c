/* cdp: times, durations and sizes for the command line. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/timeutil.h"

#define NS 1000000000LL

int64_t
time_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t) ts.tv_sec * NS + ts.tv_nsec;
}

int64_t
time_mono_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * NS + ts.tv_nsec;
}

struct timespec
time_deadline (clockid_t clk, int64_t ns)
{
  struct timespec ts;

  clock_gettime (clk, &ts);
  ts.tv_sec += ns / NS;
  ts.tv_nsec += ns % NS;
  if (ts.tv_nsec >= NS) {
    ts.tv_sec++;
    ts.tv_nsec -= NS;
  }
  return ts;
}

void
time_pace (int64_t start, uint64_t bytes, uint64_t rate)
{
  double want;
  struct timespec d;

  if (rate == 0)
    return;
  want = (double) bytes / (double) rate
         - (double) (time_mono_ns () - start) / 1e9;
  if (want <= 0)
    return;
  d.tv_sec = (time_t) want;
  d.tv_nsec = (long) ((want - (double) d.tv_sec) * 1e9);
  nanosleep (&d, NULL);
}

static int64_t
unit_ns (const char *u)
{
  if (strcmp (u, "ms") == 0) return 1000000;
  if (strcmp (u, "s") == 0 || *u == 0) return NS;
  if (strcmp (u, "m") == 0) return 60 * NS;
  if (strcmp (u, "h") == 0) return 3600 * NS;
  if (strcmp (u, "d") == 0) return 86400 * NS;
  return 0;
}

int
parse_duration (const char *s, int64_t *ns)
{
  char *end;
  unsigned long long v;
  int64_t u;

  if (!isdigit ((unsigned char) *s))
    return -EINVAL;
  errno = 0;
  v = strtoull (s, &end, 10);
  u = unit_ns (end);
  if (errno || u == 0 || v > INT64_MAX ||
      __builtin_mul_overflow ((int64_t) v, u, ns))
    return -EINVAL;
  return 0;
}

int
parse_size (const char *s, uint64_t *bytes)
{
  char *end;
  unsigned long long v;
  int shift = 0;

  if (!isdigit ((unsigned char) *s))
    return -EINVAL;
  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno)
    return -EINVAL;
  switch (toupper ((unsigned char) *end)) {
  case 0: break;
  case 'K': shift = 10; break;
  case 'M': shift = 20; break;
  case 'G': shift = 30; break;
  case 'T': shift = 40; break;
  default: return -EINVAL;
  }
  if (*end && end[1] != 0 && strcasecmp (end + 1, "iB") != 0 &&
      strcasecmp (end + 1, "B") != 0)
    return -EINVAL;
  if (shift && v > (UINT64_MAX >> shift))
    return -EINVAL;
  *bytes = (uint64_t) v << shift;
  return 0;
}

/* ".123" -> nanoseconds; advances *p. */
static int64_t
parse_fraction (const char **p)
{
  int64_t f = 0, scale = NS / 10;

  if (**p != '.')
    return 0;
  for ((*p)++; isdigit ((unsigned char) **p); (*p)++, scale /= 10)
    f += (**p - '0') * scale;
  return f;
}

static int
parse_epoch (const char *s, int64_t *ns)
{
  char *end;
  long long sec;
  const char *p;
  int64_t f;

  errno = 0;
  sec = strtoll (s, &end, 10);
  if (errno || end == s)
    return -EINVAL;
  p = end;
  f = parse_fraction (&p);
  if (*p)
    return -EINVAL;
  if (__builtin_mul_overflow ((int64_t) sec, NS, ns) ||
      __builtin_add_overflow (*ns, *s == '-' ? -f : f, ns))
    return -EINVAL;
  return 0;
}

/* "+01:00", "-0530", "Z" -> seconds east of UTC. */
static int
parse_offset (const char *p, long *east)
{
  int h, m;

  if (*p == 'Z' || *p == 'z')
    return p[1] ? -EINVAL : (*east = 0, 0);
  if ((*p != '+' && *p != '-') ||
      (sscanf (p + 1, "%2d:%2d", &h, &m) != 2 &&
       sscanf (p + 1, "%2d%2d", &h, &m) != 2))
    return -EINVAL;
  *east = (h * 3600L + m * 60L) * (*p == '-' ? -1 : 1);
  return 0;
}

static int
parse_calendar (const char *s, int64_t *ns)
{
  struct tm tm = { 0 };
  const char *p;
  int64_t f;
  long east;
  time_t t;

  p = strptime (s, "%Y-%m-%d", &tm);
  if (p == NULL || (*p != 'T' && *p != 't' && *p != ' '))
    return -EINVAL;
  p = strptime (p + 1, "%H:%M:%S", &tm);
  if (p == NULL)
    return -EINVAL;
  f = parse_fraction (&p);
  if (*p == 0) {                    /* local time */
    tm.tm_isdst = -1;
    t = mktime (&tm);
  }
  else {
    if (parse_offset (p, &east) < 0)
      return -EINVAL;
    t = timegm (&tm) - east;
  }
  if (t == (time_t) -1)
    return -EINVAL;
  /* Past what int64 ns hold (1677..2262): the nearest that is, so that a
   * date far ahead still reads as after every point, never wraps. */
  if (__builtin_mul_overflow ((int64_t) t, NS, ns) ||
      __builtin_add_overflow (*ns, f, ns))
    *ns = t < 0 ? INT64_MIN : INT64_MAX;
  return 0;
}

int
parse_time (const char *s, int64_t now, int64_t *ns)
{
  int64_t d;

  if (strcmp (s, "now") == 0) {
    *ns = now;
    return 0;
  }
  if (*s == '@')
    return parse_epoch (s + 1, ns);
  if (*s == '-' && parse_duration (s + 1, &d) == 0) {
    *ns = now - d;
    return 0;
  }
  return parse_calendar (s, ns);
}

void
format_time (int64_t ns, char *buf, size_t len)
{
  time_t t = (time_t) (ns >= 0 ? ns / NS : (ns - NS + 1) / NS);
  long frac = (long) (ns - (int64_t) t * NS);
  struct tm tm;
  char s[32];

  gmtime_r (&t, &tm);
  strftime (s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf (buf, len, "%s.%09ldZ", s, frac);
}

void
format_size (uint64_t bytes, char *buf, size_t len)
{
  static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
  double v = (double) bytes;
  int u = 0;

  while (v >= 1024 && u < 5) {
    v /= 1024;
    u++;
  }
  if (u == 0)
    snprintf (buf, len, "%llu B", (unsigned long long) bytes);
  else
    snprintf (buf, len, "%.1f %s", v, units[u]);
}

void
format_duration (int64_t ns, char *buf, size_t len)
{
  int64_t s = ns / NS;

  if (ns < NS)
    snprintf (buf, len, "%lldms", (long long) (ns / 1000000));
  else if (s < 120)
    snprintf (buf, len, "%llds", (long long) s);
  else if (s < 7200)
    snprintf (buf, len, "%lldm %llds", (long long) (s / 60), (long long) (s % 60));
  else if (s < 172800)
    snprintf (buf, len, "%lldh %lldm", (long long) (s / 3600),
              (long long) (s % 3600 / 60));
  else
    snprintf (buf, len, "%lldd %lldh", (long long) (s / 86400),
              (long long) (s % 86400 / 3600));
}
