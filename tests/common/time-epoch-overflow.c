/* An epoch time whose fraction carries it past what int64 nanoseconds
 * hold is refused, as one whose seconds do: it never wraps to the other
 * end of time (a time far ahead read as one before every point).  A
 * negative time's fraction counts backwards, also below one second. */
#include <criterion/criterion.h>
#include <errno.h>

#include "common/timeutil.h"

Test (time, epoch_fraction_overflow)
{
  int64_t ns = 0;
  int r;

  /* INT64_MAX ns is 9223372036.854775807 s. */
  cr_assert_eq (parse_time ("@9223372036.854775807", 0, &ns), 0);
  cr_assert_eq (ns, INT64_MAX);
  r = parse_time ("@9223372036.9", 0, &ns);
  cr_assert (r == -EINVAL || ns > 0, "@9223372036.9 read as %lld",
             (long long) ns);
  cr_assert_eq (r, -EINVAL);
  r = parse_time ("@-9223372036.9", 0, &ns);
  cr_assert (r == -EINVAL || ns < 0, "@-9223372036.9 read as %lld",
             (long long) ns);
  cr_assert_eq (r, -EINVAL);
  cr_assert_eq (parse_time ("@-9223372036.854775808", 0, &ns), 0);
  cr_assert_eq (ns, INT64_MIN);
  /* The fraction takes the sign of the whole, also of "-0". */
  cr_assert_eq (parse_time ("@-0.5", 0, &ns), 0);
  cr_assert_eq (ns, -500000000);
}
