/* cdp archive: which archived points a keep policy keeps.
 *
 * As restic's --keep-daily/weekly/monthly: going from the newest point
 * back, the newest point of each of the N most recent UTC days (ISO
 * weeks, months) that have points is kept; the newest point overall and
 * every pinned one (a lock or bookmark of the task) are kept too. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "recovery/archive/archive.h"

enum bucket { DAY, WEEK, MONTH };

/* The day, ISO week or month of time t (ns, UTC) as one number. */
static long
bucket_of (int64_t t, enum bucket b)
{
  time_t s = (time_t) (t / 1000000000 - (t % 1000000000 < 0));
  struct tm tm;
  char buf[16];

  gmtime_r (&s, &tm);
  switch (b) {
  case DAY:
    return (tm.tm_year + 1900L) * 1000 + tm.tm_yday;
  case WEEK:
    strftime (buf, sizeof buf, "%G%V", &tm);
    return atol (buf);
  default:
    return (tm.tm_year + 1900L) * 100 + tm.tm_mon;
  }
}

static bool
pinned_at (int64_t t, const int64_t *pinned, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (pinned[i] == t)
      return true;
  return false;
}

void
archive_keep_select (const struct archive_point *pts, size_t n,
                     const struct archive_keep *k, const int64_t *pinned,
                     size_t npinned, bool *keep)
{
  const unsigned want[3] = { k->daily, k->weekly, k->monthly };
  unsigned got[3] = { 0, 0, 0 };
  long last[3];
  bool seen[3] = { false, false, false };

  for (size_t i = n; i-- > 0;) {
    keep[i] = i == n - 1 || pinned_at (pts[i].time_ns, pinned, npinned);
    for (int b = DAY; b <= MONTH; b++) {
      long id = bucket_of (pts[i].time_ns, (enum bucket) b);
      if (got[b] < want[b] && (!seen[b] || id != last[b])) {
        keep[i] = true;
        got[b]++;
        seen[b] = true;
        last[b] = id;
      }
    }
  }
}
