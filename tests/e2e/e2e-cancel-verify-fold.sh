#!/usr/bin/env bash
# SIGTERM cancels cdp verify and the waiting of cdp fold, each with exit
# 1 and one line saying "cancelled", and stdout holding progress lines
# only (no result document):
#   - verify (held stopped once its first progress line is out, then
#     SIGTERM and let go) records nothing: verify.json is as it was;
#   - fold, waiting on a serve that is held stopped, returns at once;
#     the serve, let go, makes the base point it was asked for.
source "$(dirname "$0")/functions.sh"
requires python3 nbdcopy dd truncate cmp

rx=$tmpdir/rx.sock
cdp task create c --size 256M --listen "unix:$rx" --bp-interval 1h
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
truncate -s 256M "$tmpdir/ref.img"
dd if=/dev/urandom of="$tmpdir/ref.img" bs=1M count=256 conv=notrunc status=none
nbdcopy -- "$tmpdir/ref.img" "nbd+unix:///disk0?socket=$rx"
cdp fold c >/dev/null
cdp verify c >/dev/null || fail "verify of an undamaged task"
cp "$CDP_STORE/tasks/c/verify.json" "$tmpdir/verify.before"

# cancelled PID OUT ERR: PID exits 1, says cancelled, printed no result.
cancelled ()
{
    local rc=0
    reap "$1" || rc=$?
    [ "$rc" -eq 1 ] || fail "a cancelled command exited $rc: $(cat "$3")"
    [ "$(wc -l <"$3")" -eq 1 ] && grep -q cancelled "$3" ||
        fail "a cancelled command should say so in one line: $(cat "$3")"
    python3 - "$2" <<'PY' || fail "stdout of a cancelled command: $(cat "$2")"
import json, sys
for l in open(sys.argv[1]).read().splitlines():
    assert json.loads(l)["event"] == "progress", l
PY
}

"$CDP" verify c --json --progress >"$tmpdir/v.out" 2>"$tmpdir/v.err" &
pid=$!
pids+=("$pid")
wait_for 60 "verify's first progress line" grep -q '"event":"progress"' "$tmpdir/v.out"
kill -STOP "$pid"
kill -TERM "$pid"
kill -CONT "$pid"
cancelled "$pid" "$tmpdir/v.out" "$tmpdir/v.err"
cmp "$CDP_STORE/tasks/c/verify.json" "$tmpdir/verify.before" ||
    fail "a cancelled verify changed verify.json"

base_point ()
{
    cdp status c --json | python3 -c '
import json, sys; print(json.load(sys.stdin)["tasks"][0]["disks"][0]["base_point"])'
}
base_before=$(base_point)
dd if=/dev/urandom of="$tmpdir/ref.img" bs=1M seek=100 count=1 conv=notrunc status=none
nbdcopy -- "$tmpdir/ref.img" "nbd+unix:///disk0?socket=$rx"
kill -STOP "$serve_pid"
"$CDP" fold c --json --progress >"$tmpdir/f.out" 2>"$tmpdir/f.err" &
pid=$!
pids+=("$pid")
wait_for 60 "fold's first progress line" grep -q '"phase":"fold"' "$tmpdir/f.out"
kill -TERM "$pid"
timeout 30 tail --pid="$pid" -f /dev/null ||
    fail "a cancelled fold waited for the stopped serve"
cancelled "$pid" "$tmpdir/f.out" "$tmpdir/f.err"
kill -CONT "$serve_pid"

# The serve made the base point the cancelled fold asked for (no other
# is due: --bp-interval 1h, and the first one was made).
new_base ()
{
    [ "$(base_point)" != "$base_before" ]
}
wait_for 60 "the base point of the cancelled fold" new_base
cdp restore c --at "$(base_point)" --output "$tmpdir/b.img"
cmp "$tmpdir/ref.img" "$tmpdir/b.img" || fail "the base point is not the disk"
stop_cdp_serve
