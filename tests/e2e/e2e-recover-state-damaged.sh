#!/usr/bin/env bash
# A recover.json that no longer parses (bytes flipped after the recovery
# was killed) is never taken as "no recovery": a new 'cdp recover'
# refuses to overwrite it, 'cdp serve' refuses the task (status names
# the file), and 'task delete' without --force refuses the task.
source "$(dirname "$0")/functions.sh"
requires qemu-io python3

rx=$tmpdir/rx.sock
tdir=$CDP_STORE/tasks/r
cdp task create r --size 8M --listen "unix:$rx"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
qemu-io -f raw -c "write -P 7 0 1m" "nbd+unix:///disk0?socket=$rx" >/dev/null ||
    fail "qemu-io"
t=$(now)
stop_cdp_serve

"$CDP" recover r --at "$t" --to "$tmpdir/rec.qcow2" >"$tmpdir/rec.out" 2>"$tmpdir/rec.err" &
rec_pid=$!
pids+=("$rec_pid")
wait_for 30 "cdp recover to serve the point" grep -q block-stream "$tmpdir/rec.out"
kill -KILL "$rec_pid"
reap "$rec_pid" || :
cp "$tdir/recover.json" "$tmpdir/recover.good"
printf '\x5d' | dd of="$tdir/recover.json" bs=1 seek=0 conv=notrunc status=none

expect_error 1 "cannot read $tdir/recover.json: not valid JSON" \
    cdp recover r --at "$t" --to "$tmpdir/rec2.qcow2"
[ ! -e "$tmpdir/rec2.qcow2" ] || fail "a new recovery made an overlay"
cmp -s <(printf '\x5d'; tail -c +2 "$tmpdir/recover.good") "$tdir/recover.json" ||
    fail "recover.json was rewritten"
expect_error 1 "cannot read $tdir/recover.json" cdp recover r --cancel
cdp unlock r --at "$t" >/dev/null || fail "cdp unlock"     # the recovery's lock
expect_error 1 "not deleted: cannot read its recover.json" cdp task delete r

serve_once "$tmpdir/serve.err"
grep -q "task r refused: cannot read $tdir/recover.json" "$tmpdir/serve.err" ||
    fail "serve took the task: $(cat "$tmpdir/serve.err")"
cdp status r --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["tasks"][0]
assert "recover.json" in t["error"], t' || fail "status does not name recover.json"

# Restored: the interrupted recovery is there to resume or cancel.
cp "$tmpdir/recover.good" "$tdir/recover.json"
cdp recover r --cancel >/dev/null || fail "cancel the restored recovery"
