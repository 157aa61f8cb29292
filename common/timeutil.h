/* cdp: parsing and printing of times, durations and sizes as the CLI
 * contract (CLI.md) defines them.  All return 0 or -EINVAL. */
#ifndef CDP_TIMEUTIL_H
#define CDP_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Nanoseconds since the epoch, CLOCK_REALTIME. */
int64_t time_now_ns (void);
/* CLOCK_MONOTONIC in ns: for intervals and deadlines. */
int64_t time_mono_ns (void);
/* The instant ns from now on clock clk (the clock of the condition
 * variable it is for: CLOCK_REALTIME unless set), for
 * pthread_cond_timedwait. */
struct timespec time_deadline (clockid_t clk, int64_t ns);

/* Hold a pace of rate bytes a second (0: none): sleep until the bytes
 * done since start (a time_mono_ns) are within it. */
void time_pace (int64_t start, uint64_t bytes, uint64_t rate);

/* "90s", "5m", "2h", "7d" (also "500ms" and plain seconds) -> ns. */
int parse_duration (const char *s, int64_t *ns);

/* Bytes, or with suffix K M G T (binary); "512" "10G" "1.5T" no. */
int parse_size (const char *s, uint64_t *bytes);

/* A point in time: RFC 3339 ("2026-11-22T10:15:03Z", with fractions and
 * offsets), "2026-11-22 10:15:03" (local time), "@EPOCH[.FRACTION]",
 * "-90s" (relative to now), "now".  Bookmark labels are resolved by the
 * caller.  Returns -EINVAL if s is none of these. */
int parse_time (const char *s, int64_t now, int64_t *ns);

/* RFC 3339 UTC with nanoseconds: "2026-11-22T10:15:03.123456789Z". */
void format_time (int64_t ns, char *buf, size_t len);

/* "1.5 GiB", "512 B". */
void format_size (uint64_t bytes, char *buf, size_t len);

/* "2h 5m", "90s", "350ms". */
void format_duration (int64_t ns, char *buf, size_t len);

#endif
