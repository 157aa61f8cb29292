#!/usr/bin/env bash
# task set's other policies apply live too: a served task with base
# points every 7d and a check every 7d gets, right after 'task set
# --bp-interval 1s --verify-interval 2s', a new base point of what was
# written since and a background check of its history, from the same
# cdp serve (no restart: the policies are read again, not the task).
source "$(dirname "$0")/functions.sh"
requires nbdcopy qemu-io python3 dd

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
cdp task create m --size 4M --listen "unix:$rx" --bp-interval 7d --verify-interval 7d
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"

base_points ()
{
    cdp points m --json | python3 -c '
import json, sys
print(sum(p["kind"] == "base" for p in json.load(sys.stdin)["points"]))'
}
last_verify_by ()
{
    cdp status m --json | python3 -c '
import json, sys
print(json.load(sys.stdin)["tasks"][0]["integrity"].get("last_verify", {}).get("by", ""))'
}

dd if=/dev/urandom of="$tmpdir/src.img" bs=1M count=4 status=none
nbdcopy -- "$tmpdir/src.img" "$uri"
# A disk with no base point gets one at once, whatever the interval.
wait_for 60 "the first base point" eval '[ "$(base_points)" = 1 ]'
qemu-io -f raw -c 'write -P 0x5a 1M 64k' "$uri" >/dev/null
[ -z "$(last_verify_by)" ] || fail "a check ran before its interval"

cdp task set m --bp-interval 1s --verify-interval 2s | grep -q 'cdp serve runs by it now' ||
    fail "task set did not apply the change live"
wait_for 60 "a base point of the write made before task set" \
    eval '[ "$(base_points)" = 2 ]'
wait_for 60 "a background check by the new interval" \
    eval '[ "$(last_verify_by)" = "cdp serve" ]'
[ "$(grep -c 'task m: receiver on' "$serve_log")" = 1 ] ||
    fail "the task was served anew"
kill -0 "$serve_pid" || fail "cdp serve is gone"
stop_cdp_serve
