#!/usr/bin/env bash
# 'cdp task delete' of a task that cdp serve serves first has serve let
# it go: its mirror job ends (QEMU has none left), its receiver closes,
# and only then is the directory removed; serve goes on serving the
# other tasks, and logs nothing more of the deleted one.
source "$(dirname "$0")/functions.sh"
requires nbdinfo qemu-io python3

disk=$tmpdir/disk.qcow2
make_disk "$disk" 8M
start_qemu "$disk"
cdp task create k --qmp "$cdp_qmp_sock" --node disk0
other=$tmpdir/other.sock
cdp task create o --size 8M --listen "unix:$other"
start_cdp_serve
wait_protected k
qmp query-block-jobs | grep -q '"status": "ready"' || fail "no READY mirror job"
rxk=$CDP_STORE/tasks/k/run/receiver.sock
[ -S "$rxk" ] || fail "no receiver socket for k"

cdp task delete k >"$tmpdir/delete.out" || fail "task delete of a served task"
grep -q "cdp serve stopped serving it" "$tmpdir/delete.out" || fail "$(cat "$tmpdir/delete.out")"
grep -q "deleted" "$tmpdir/delete.out" || fail "$(cat "$tmpdir/delete.out")"
[ ! -e "$CDP_STORE/tasks/k" ] || fail "the task directory is still there"
[ "$(qmp query-block-jobs | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 0 ] ||
    fail "QEMU still has a block job: $(qmp query-block-jobs)"
grep -q "task k: no longer served" "$serve_log" || fail "serve does not say it let k go"
kill -0 "$serve_pid" || fail "serve is gone"

# The other task is served as before.
qemu-io -f raw -c "write -P 1 0 64k" "nbd+unix:///disk0?socket=$other" >/dev/null ||
    fail "the other task's receiver"
cdp status --json | python3 -c '
import json, sys
ts = json.load(sys.stdin)["tasks"]
assert [t["name"] for t in ts] == ["o"], ts
assert ts[0]["served"], ts' || fail "status after the delete"
lines=$(wc -l <"$serve_log")
guest_io "write -P 2 0 64k"
wait_for 10 "a heartbeat of the other task" test -f "$CDP_STORE/tasks/o/run/state.json"
sleep 1
tail -n +"$((lines + 1))" "$serve_log" | grep -q "task k" &&
    fail "serve still logs about the deleted task: $(tail -n 5 "$serve_log")"
stop_cdp_serve
