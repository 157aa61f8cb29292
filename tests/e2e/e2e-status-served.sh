#!/usr/bin/env bash
# 'cdp status' says a task is served only while a live cdp serve holds
# it: after kill -9 of serve (before and after it is reaped) and while
# it is stopped (SIGSTOP: the heartbeat ages) the task is "not served
# since T", no disk is protected and the RPO lag grows; a malformed
# run/state.json never crashes it, and a task whose task.json is bad
# gets an error entry while the others are reported.
source "$(dirname "$0")/functions.sh"
requires python3

disk=$tmpdir/disk.qcow2
make_disk "$disk" 8M
start_qemu "$disk"
cdp task create k --qmp "$cdp_qmp_sock" --node disk0
cdp task create m --size 1M --listen "unix:$tmpdir/m.sock"
start_cdp_serve
wait_protected k

# status_is TASK SERVED STATE [since]: served (true/false), every disk's
# state; "since": when it was last served is known.
status_is ()
{
    cdp status "$1" --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["tasks"][0]
served = sys.argv[1] == "true"
assert t["served"] == served, t
for d in t["disks"]:
    assert d["state"] == sys.argv[2], d
    if not served:
        assert d["rpo_lag_s"] is not None and d["rpo_lag_s"] >= 0, d
if sys.argv[3:]:
    assert t["served_until"], t' "$2" "$3" ${4-}
}
status_is k true protected || fail "a protected task is not shown served"

# kill -9: not served at once, even before the dead serve is reaped.
kill -KILL "$serve_pid"
wait_for 20 "status to see the killed serve" status_is k false "not protected" since
reap "$serve_pid" || :
status_is k false "not protected" since || fail "status after the serve was reaped"
cdp status k | grep -q "not served since" || fail "text status: $(cdp status k)"
lag1=$(cdp status k --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"][0]["disks"][0]["rpo_lag_s"])')
sleep 1.5
lag2=$(cdp status k --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"][0]["disks"][0]["rpo_lag_s"])')
python3 -c "import sys; sys.exit(0 if $lag2 > $lag1 else 1)" ||
    fail "the RPO lag does not grow while nobody serves ($lag1, $lag2)"

# A malformed state.json: no crash, not served.
state=$CDP_STORE/tasks/k/run/state.json
for bad in '{"pid": "x", "updated_ns": "y", "disks": [{"name": 5}, 7, {"name": "disk0"}]}' \
           '{"disks": {"name": "disk0"}}' '[1, 2' ''; do
    printf '%s' "$bad" >"$state"
    status_is k false "not protected" || fail "status on state.json '$bad'"
done

# A hung serve: its heartbeat ages, and it is not served any more.
start_cdp_serve
wait_protected k
kill -STOP "$serve_pid"
wait_for 60 "status to see the stopped serve" status_is k false "not protected" since
kill -CONT "$serve_pid"
wait_for 30 "status to see the serve again" status_is k true protected

# One bad task.json: an error entry for it, the others as they are.
printf '{"name": "m", "mode": "manual", "disks": [' >"$CDP_STORE/tasks/m/task.json"
cdp status --json >"$tmpdir/all.json" || fail "status fails for every task"
python3 -c '
import json, sys
ts = {t["name"]: t for t in json.load(open(sys.argv[1]))["tasks"]}
assert "task.json" in ts["m"]["error"], ts["m"]
assert ts["k"]["served"] and ts["k"]["disks"][0]["state"] == "protected", ts["k"]
' "$tmpdir/all.json" || fail "status with one bad task.json: $(cat "$tmpdir/all.json")"
cdp status >"$tmpdir/all.txt" || fail "text status fails for every task"
grep -q "^m  error: cannot read .*task.json" "$tmpdir/all.txt" || fail "$(cat "$tmpdir/all.txt")"

stop_cdp_serve
status_is k false "not protected" since || fail "status after a clean stop"
cdp status k | grep -q "not served since" || fail "text status after a clean stop"
