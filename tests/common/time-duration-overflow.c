/* A duration too large for int64 nanoseconds is refused, however large
 * the number: 18446744073709551615s must not read as -1 s (a retention
 * or "-DURATION" time then points the other way). */
#include <criterion/criterion.h>
#include <errno.h>

#include "common/timeutil.h"

Test (time, duration_overflow)
{
  int64_t ns = 0;
  int r;

  cr_assert_eq (parse_duration ("9223372036s", &ns), 0);
  cr_assert_eq (ns, 9223372036 * INT64_C (1000000000));
  cr_assert_eq (parse_duration ("9223372037s", &ns), -EINVAL);
  cr_assert_eq (parse_duration ("9223372036854775808s", &ns), -EINVAL);
  r = parse_duration ("18446744073709551615s", &ns);
  cr_assert (r == -EINVAL || ns > 0, "18446744073709551615s read as %lld ns",
             (long long) ns);
  cr_assert_eq (r, -EINVAL);
  r = parse_time ("-18446744073709551615s", 1000, &ns);
  cr_assert (r != 0 || ns < 1000, "-18446744073709551615s read as %lld, "
             "after now", (long long) ns);
}
