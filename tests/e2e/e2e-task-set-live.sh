#!/usr/bin/env bash
# task set on a served task applies the new policies live: the same cdp
# serve (same pid, its receiver never reopened) runs by them at once, as
# 'cdp status' shows right after task set returns; no gap is journaled,
# the points before, across and after the change are all there, and the
# writer's writes keep flowing.
source "$(dirname "$0")/functions.sh"
requires nbdcopy python3 truncate dd

rx=$tmpdir/rx.sock
cdp task create m --size 4M --listen "unix:$rx" --segment-size 4M
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"

# status_rpo TASK: "SERVED RPO_S WARNINGS" of 'cdp status --json'
status_rpo ()
{
    cdp status "$1" --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["tasks"][0]
print(t["served"], t["rpo_s"], len(t.get("warnings", [])), t["disks"][0]["gaps"])'
}
heartbeat_pid ()
{
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["pid"])' \
        "$CDP_STORE/tasks/m/run/state.json"
}
write_random ()
{
    truncate -s 4M "$1"
    dd if=/dev/urandom of="$1" bs=64K count=64 conv=notrunc status=none
    nbdcopy -- "$1" "nbd+unix:///disk0?socket=$rx"
}

wait_for 20 "status to show the task served" \
    eval '[ "$(status_rpo m)" = "True 0.0 0 0" ]'
write_random "$tmpdir/one.img"
between=$(now)
pid=$(heartbeat_pid)
[ "$pid" = "$serve_pid" ] || fail "heartbeat pid $pid is not serve's $serve_pid"

out=$(cdp task set m --rpo 1s --bp-interval 1h --verify-interval 30d)
echo "$out"
grep -q 'cdp serve runs by it now' <<<"$out" || fail "task set: $out"
# At once: task set returns once serve's heartbeat shows the change.
[ "$(status_rpo m)" = "True 1.0 0 0" ] ||
    fail "status right after task set: $(status_rpo m) (served rpo_s warnings gaps)"
[ "$(heartbeat_pid)" = "$serve_pid" ] || fail "another serve holds the task"
kill -0 "$serve_pid" || fail "cdp serve is gone"
grep -q 'task m: policies read again (task set): rpo 1s, base points every 60m' \
    "$serve_log" || fail "serve did not log the new policies"

write_random "$tmpdir/two.img"
export_to m now "$tmpdir/now.img"
same "$tmpdir/now.img" "$tmpdir/two.img" "point 'now' after the change"
export_to m "$between" "$tmpdir/between.img"
same "$tmpdir/between.img" "$tmpdir/one.img" "point before the change"

# Back to 0, live again.
cdp task set m --rpo 0 | grep -q 'cdp serve runs by it now' || fail "task set --rpo 0"
[ "$(status_rpo m)" = "True 0.0 0 0" ] || fail "status after --rpo 0: $(status_rpo m)"
write_random "$tmpdir/three.img"
export_to m now "$tmpdir/now.img"
same "$tmpdir/now.img" "$tmpdir/three.img" "point 'now' after --rpo 0"

[ "$(grep -c 'task m: receiver on' "$serve_log")" = 1 ] ||
    fail "the receiver was opened again"
gaps=$(python3 "$e2e_dir/journal-records.py" --type 5 "$CDP_STORE/tasks/m/journal")
[ -z "$gaps" ] || fail "gap records journaled: $gaps"
stop_cdp_serve
