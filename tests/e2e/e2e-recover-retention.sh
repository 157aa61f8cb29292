#!/usr/bin/env bash
# The point a recovery serves outlives retention: cdp recover locks it,
# and when folds and retention take the journal segments from under its
# export, the export reads the point from the base point made at the
# lock, byte-exact.  SIGTERM leaves the recovery interrupted (the VM
# would still need the export); cdp serve resumes it after its grace
# period (2 s here) and the point is served again; --cancel gives it up
# and lets the lock go.
source "$(dirname "$0")/functions.sh"
requires nbdcopy nbdinfo qemu-io python3

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
jdir=$CDP_STORE/tasks/r/journal
cdp task create r --size 16M --listen "unix:$rx" \
    --bp-interval 1s --journal-retention 3s --bp-retention 6s --segment-size 4M
CDP_RECOVER_RESUME_AFTER=2 start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"

ref=$tmpdir/ref.img
truncate -s 16M "$ref"
write_step ()
{
    local i=$1 c
    c="write -P $(( (i % 200) + 1 )) $(( (i * 768) % 15360 ))k 1M"
    qemu-io -f raw -c "$c" "$uri" >/dev/null || fail "qemu-io into the receiver"
    ref_apply "$ref" "$ref.new" "$c"
    mv "$ref.new" "$ref"
}
for i in 1 2 3; do write_step $i; done
t=$(now)
cp --sparse=always "$ref" "$tmpdir/ref.t"
write_step 4

"$CDP" recover r --at "$t" --to "$tmpdir/ov.qcow2" >"$tmpdir/rec.out" 2>"$tmpdir/rec.err" &
rec_pid=$!
pids+=("$rec_pid")
wait_for 20 "cdp recover to serve the point" grep -q block-stream "$tmpdir/rec.out"
export_uri=$(grep -o 'nbd+unix://[^ ]*' "$tmpdir/rec.out" | sed -n 1p)
nbdcopy -- "$export_uri" "$tmpdir/read1.img"
same "$tmpdir/read1.img" "$tmpdir/ref.t" "the served point, from the journal"

# Write well past both windows: segments fill, fold, and are reclaimed.
end=$(( $(date +%s) + 14 ))
i=5
while [ "$(date +%s)" -lt "$end" ]; do
    write_step $i
    i=$((i + 1))
    sleep 0.15
done
sleep 3
first=$(ls "$jdir" | grep '^seg-' | sort | sed -n 1p)
[ "$first" != "seg-0000000000000001.cdpj" ] ||
    fail "the first journal segment was never reclaimed"

nbdcopy -- "$export_uri" "$tmpdir/read2.img" ||
    fail "reading the served point after retention: $(cat "$tmpdir/rec.err")"
same "$tmpdir/read2.img" "$tmpdir/ref.t" "the served point after retention"
# (Unless a fold happened to make a base point right at T, the export
# had to reopen the point: it says so on stderr.)
grep "reading it from the base point" "$tmpdir/rec.err" || :

kill -TERM "$rec_pid"
rc=0
reap "$rec_pid" || rc=$?
[ "$rc" -eq 1 ] || fail "cdp recover exited $rc on SIGTERM"
grep -q -- "--resume" "$tmpdir/rec.err" || fail "SIGTERM did not say how to resume"
cdp status r | grep -q "recovery *interrupted" || fail "status: $(cdp status r)"

# cdp serve picks it up: the point is served again, on the same socket.
wait_for 30 "cdp serve to resume the recovery" grep -q "resuming the interrupted recovery" "$serve_log"
resumed=$(grep -o "resuming the interrupted recovery (pid [0-9]*" "$serve_log" | grep -o "[0-9]*$" | tail -n 1)
pids+=("$resumed")
wait_for 20 "the resumed export" nbdinfo --size "$export_uri"
nbdcopy -- "$export_uri" "$tmpdir/read3.img"
same "$tmpdir/read3.img" "$tmpdir/ref.t" "the point served by the resumed recovery"
[ "$(cdp status r --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"][0]["recovery"]["state"])')" = streaming ] ||
    fail "the resumed recovery is not streaming: $(cdp status r)"
kill -TERM "$resumed"
wait_for 20 "the resumed recovery to stop" eval "! kill -0 $resumed"
cdp recover r --cancel
cdp status r | grep -q "recovery *failed.*cancelled" || fail "status after --cancel: $(cdp status r)"
python3 -c '
import json, sys
assert json.load(open(sys.argv[1]))["locks"] == []' "$CDP_STORE/tasks/r/locks.json" ||
    fail "the lock stayed after --cancel"
expect_error 1 "no unfinished recovery" cdp recover r --cancel
stop_cdp_serve
