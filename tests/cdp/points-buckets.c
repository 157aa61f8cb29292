/* The timeline's bucketing (cdp points --bucket): times rounded down to
 * whole buckets on both sides of the epoch, the number of buckets of a
 * range up to the cap and refused beyond it without overflowing, and
 * the counts written as a JSON array json-c reads back. */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>

#include "cdp/cli/cli-internal.h"

#define NS 1000000000LL

Test (points_buckets, floor)
{
  cr_assert_eq (points_floor (0, NS), 0);
  cr_assert_eq (points_floor (NS - 1, NS), 0);
  cr_assert_eq (points_floor (NS, NS), NS);
  cr_assert_eq (points_floor (-1, NS), -NS);
  cr_assert_eq (points_floor (-NS, NS), -NS);
  cr_assert_eq (points_floor (-NS - 1, NS), -2 * NS);
  cr_assert_eq (points_floor (1796592694469220071LL, 60 * NS),
                1796592660000000000LL);
  cr_assert_eq (points_floor (INT64_MAX, 1000000), INT64_MAX / 1000000 * 1000000);
}

Test (points_buckets, count)
{
  cr_assert_eq (points_bucket_count (0, 0, NS), 1);
  cr_assert_eq (points_bucket_count (0, NS - 1, NS), 1);
  cr_assert_eq (points_bucket_count (0, NS, NS), 2);
  cr_assert_eq (points_bucket_count (-5, 5, NS), 1);
  /* A day at one second: 86400 seconds and the instant closing it. */
  cr_assert_eq (points_bucket_count (0, 86400 * NS, NS), 86401);
  cr_assert_eq (points_bucket_count (0, (POINTS_MAX_BUCKETS - 1) * NS, NS),
                POINTS_MAX_BUCKETS);
  cr_assert_eq (points_bucket_count (0, POINTS_MAX_BUCKETS * NS, NS), 0);
  cr_assert_eq (points_bucket_count (INT64_MIN, INT64_MAX, 1000000), 0);
  cr_assert_eq (points_bucket_count (INT64_MIN, INT64_MAX, INT64_MAX), 3);
}

Test (points_buckets, counts_text)
{
  uint32_t c[] = { 0, 1, 9, 10, 4294967295u, 123456 };
  size_t len;
  char *s = points_counts_text (c, 6, &len);
  json_object *o;

  cr_assert_str_eq (s, "[0,1,9,10,4294967295,123456]");
  cr_assert_eq (len, strlen (s));
  o = json_tokener_parse (s);
  cr_assert_eq (json_object_array_length (o), 6);
  cr_assert_eq (json_object_get_int64 (json_object_array_get_idx (o, 4)),
                4294967295LL);
  json_object_put (o);
  free (s);
  s = points_counts_text (c, 0, &len);
  cr_assert_str_eq (s, "[]");
  cr_assert_eq (len, 2);
  free (s);
}
