#!/usr/bin/env bash
# cdp points --bucket refuses, in one line and with exit 2, what it
# cannot draw: --bucket without --json, a bucket that is not a duration
# or is under 1 ms, --from after --to (or after now), and a range of
# more buckets than the cap; a task with history answers all of these
# before and after it reads anything.
source "$(dirname "$0")/functions.sh"
requires qemu-io jq

rx=$tmpdir/rx.sock
cdp task create u --size 4M --listen "unix:$rx"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
qemu-io -f raw -c "write -P 7 0 64k" "nbd+unix:///disk0?socket=$rx" >/dev/null ||
    fail "qemu-io"
stop_cdp_serve

expect_error 2 "--bucket needs --json" cdp points u --bucket 1s
expect_error 2 "not a duration of 1ms or more: 'soon'" cdp points u --bucket soon --json
expect_error 2 "not a duration of 1ms or more: '0s'" cdp points u --bucket 0s --json
expect_error 2 "not a duration of 1ms or more: '500us'" cdp points u --bucket 500us --json
expect_error 2 "--from is after --to" \
    cdp points u --from -1m --to -2m --bucket 1s --json
expect_error 2 "--from is after now" cdp points u --from 2090-01-01T00:00:00Z --bucket 1s --json
expect_error 2 "more than 1000000 buckets" \
    cdp points u --from -2d --bucket 100ms --json
expect_error 2 "more than 1000000 buckets" \
    cdp points u --from @0 --to @1000000 --bucket 999ms --json
# The defaults stay within the cap: from the oldest point to now.
cdp points u --bucket 1ms --json >"$tmpdir/tl.json" || fail "--bucket 1ms"
jq -e '.buckets == (.counts | length) and .bucket_s == 0.001 and .bucket_ns == 1000000' \
    "$tmpdir/tl.json" >/dev/null || fail "1 ms buckets: $(jq -c 'del(.counts)' "$tmpdir/tl.json")"
# --from equal to --to: one bucket.
cdp points u --from @1000 --to @1000 --bucket 1s --json >"$tmpdir/one.json" ||
    fail "a range of one instant"
jq -e '.buckets == 1 and .counts == [0] and .points == []' "$tmpdir/one.json" >/dev/null ||
    fail "one instant: $(jq -c . "$tmpdir/one.json")"
# The list without --bucket is as it was, with its version.
cdp points u --json | jq -e '(keys_unsorted == ["version", "points"]) and .version == 1' \
    >/dev/null || fail "the list changed: $(cdp points u --json)"
