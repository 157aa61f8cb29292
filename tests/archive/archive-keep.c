/* archive_keep_select keeps the newest point of each of the N most
 * recent days, ISO weeks and months (UTC) that have points, every
 * pinned point and the newest point, and no other. */
#include "tests/archive/archive-test.h"

#define NS INT64_C(1000000000)
#define DAY (86400 * NS)
/* 2026-01-05T00:00:00Z, a Monday. */
#define MON (INT64_C(1767571200) * NS)

static void
select_at (const int64_t *t, size_t n, struct archive_keep k,
           const int64_t *pinned, size_t np, bool *keep)
{
  struct archive_point pts[80];

  memset (pts, 0, sizeof pts);
  for (size_t i = 0; i < n; i++)
    pts[i].time_ns = t[i];
  archive_keep_select (pts, n, &k, pinned, np, keep);
}

Test (archive_keep, daily)
{
  /* Two points a day for five days, oldest first. */
  int64_t t[10];
  bool keep[10];

  for (int i = 0; i < 10; i++)
    t[i] = MON + (i / 2) * DAY + (i % 2 ? 20 : 8) * 3600 * NS;
  select_at (t, 10, (struct archive_keep) { .daily = 3 }, NULL, 0, keep);
  for (int i = 0; i < 10; i++)
    cr_assert_eq (keep[i], i == 5 || i == 7 || i == 9, "point %d", i);
}

Test (archive_keep, weekly_and_monthly)
{
  /* One point a day for 70 days from Monday 5 January. */
  int64_t t[70];
  bool keep[70];

  for (int i = 0; i < 70; i++)
    t[i] = MON + i * DAY + 3600 * NS;
  select_at (t, 70, (struct archive_keep) { .weekly = 2 }, NULL, 0, keep);
  /* Day 69 (newest, a Sunday ending week 10) and day 62 (week 9). */
  for (int i = 0; i < 70; i++)
    cr_assert_eq (keep[i], i == 69 || i == 62, "weekly: point %d", i);
  select_at (t, 70, (struct archive_keep) { .monthly = 3 }, NULL, 0, keep);
  /* 5 Jan + 69 days = 15 March: 15 Mar, 28 Feb (day 54), 31 Jan (26). */
  for (int i = 0; i < 70; i++)
    cr_assert_eq (keep[i], i == 69 || i == 54 || i == 26, "monthly: %d", i);
  select_at (t, 70, (struct archive_keep) { .daily = 2, .weekly = 2,
                                            .monthly = 3 }, NULL, 0, keep);
  for (int i = 0; i < 70; i++)
    cr_assert_eq (keep[i], i == 69 || i == 68 || i == 62 || i == 54
                  || i == 26, "all three: %d", i);
}

Test (archive_keep, pinned_and_newest)
{
  int64_t t[6], pinned[2];
  bool keep[6];

  for (int i = 0; i < 6; i++)
    t[i] = MON + i * 3600 * NS;     /* all on one day */
  pinned[0] = t[1];
  pinned[1] = t[3];
  select_at (t, 6, (struct archive_keep) { 0 }, pinned, 2, keep);
  for (int i = 0; i < 6; i++)
    cr_assert_eq (keep[i], i == 1 || i == 3 || i == 5, "point %d", i);
  select_at (t, 1, (struct archive_keep) { 0 }, NULL, 0, keep);
  cr_assert (keep[0], "the only point was not kept");
  select_at (t, 0, (struct archive_keep) { 1, 1, 1 }, NULL, 0, keep);
}
