#!/usr/bin/env bash
# A bookmark label names one point: 'cdp mark --label' refuses a label
# that reads as a time (--at would take the time) and a label the task
# has already, served or not; marks without a label get distinct ones.
source "$(dirname "$0")/functions.sh"
requires qemu-io python3

rx=$tmpdir/rx.sock
cdp task create b --size 8M --listen "unix:$rx"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
qemu-io -f raw -c "write -P 5 0 64k" "nbd+unix:///disk0?socket=$rx" >/dev/null ||
    fail "qemu-io"

cdp mark b --label before-upgrade | grep -q recorded || fail "cdp mark"
expect_error 2 "bookmark labelled 'before-upgrade' already" cdp mark b --label before-upgrade
for label in now -5m @1700000000 2026-11-22T10:15:03Z "2026-11-22 10:15:03" -90s; do
    expect_error 2 "reads as a time" cdp mark b --label "$label"
done
cdp mark b >/dev/null || fail "cdp mark without a label"
cdp mark b >/dev/null || fail "a second cdp mark without a label"
stop_cdp_serve
# Not served: the journal is written directly, the same rules hold.
expect_error 2 "bookmark labelled 'before-upgrade' already" cdp mark b --label before-upgrade
cdp mark b --label after-stop | grep -q recorded || fail "cdp mark, not served"

cdp points b --json | python3 -c '
import collections, json, sys
labels = [p["label"] for p in json.load(sys.stdin)["points"] if p["kind"] == "bookmark"]
assert len(labels) == 4, labels
dup = [l for l, n in collections.Counter(labels).items() if n > 1]
assert not dup, labels' || fail "bookmarks: $(cdp points b)"
