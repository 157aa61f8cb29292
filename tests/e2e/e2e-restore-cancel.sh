#!/usr/bin/env bash
# SIGTERM cancels a restore: while the copy runs (its writer, qemu-nbd,
# held stopped so that the copy cannot end first), cdp restore exits 1
# saying "cancelled" in one line, leaves no image and no temporary file,
# and a file it replaces with --force is left as it was.  The store is
# unchanged: a restore of the same point afterwards is the point.
source "$(dirname "$0")/functions.sh"
requires python3 nbdcopy qemu-img dd truncate pgrep cmp

rx=$tmpdir/rx.sock
cdp task create r --size 256M --listen "unix:$rx"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
ref=$tmpdir/ref.img
truncate -s 256M "$ref"
dd if=/dev/urandom of="$ref" bs=1M count=256 conv=notrunc status=none
nbdcopy -- "$ref" "nbd+unix:///disk0?socket=$rx"
t=$(now)
stop_cdp_serve

# cancel OUT [ARGS]: start a restore to OUT, stop its writer once the
# copy started, SIGTERM the restore, let the writer go; the restore must
# say it was cancelled.
cancel ()
{
    local out=$1 pid nbd rc=0
    shift
    "$CDP" restore r --at "$t" --output "$out" --json --progress "$@" \
        >"$tmpdir/out" 2>"$tmpdir/err" &
    pid=$!
    pids+=("$pid")
    wait_for 60 "the copy to start" grep -q '"phase":"copy"' "$tmpdir/out"
    nbd=$(pgrep -P "$pid" qemu-nbd) || fail "no qemu-nbd under the restore"
    kill -STOP "$nbd"
    kill -TERM "$pid"
    kill -CONT "$nbd"
    reap "$pid" || rc=$?
    [ "$rc" -eq 1 ] || fail "a cancelled restore exited $rc: $(cat "$tmpdir/err")"
    [ "$(wc -l <"$tmpdir/err")" -eq 1 ] ||
        fail "a cancelled restore should say one line: $(cat "$tmpdir/err")"
    grep -q 'cancelled' "$tmpdir/err" || fail "not said cancelled: $(cat "$tmpdir/err")"
    python3 - "$tmpdir/out" <<'PY' || fail "stdout of a cancelled restore: $(cat "$tmpdir/out")"
import json, sys
for l in open(sys.argv[1]).read().splitlines():
    assert json.loads(l)["event"] == "progress", l   # no result document
PY
    ! ls "$tmpdir" | grep -q '\.tmp-' || fail "a temporary image was left: $(ls "$tmpdir")"
}

cancel "$tmpdir/new.qcow2"
[ ! -e "$tmpdir/new.qcow2" ] || fail "a cancelled restore left its output"

echo "an image kept before" >"$tmpdir/old.qcow2"
cp "$tmpdir/old.qcow2" "$tmpdir/old.copy"
cancel "$tmpdir/old.qcow2" --force
cmp "$tmpdir/old.qcow2" "$tmpdir/old.copy" ||
    fail "a cancelled restore --force changed the file it was to replace"

cdp restore r --at "$t" --output "$tmpdir/after.img" 2>"$tmpdir/err" ||
    fail "restore after the cancels: $(cat "$tmpdir/err")"
cmp "$ref" "$tmpdir/after.img" || fail "the point changed after the cancels"
