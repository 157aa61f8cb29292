#!/usr/bin/env bash
# Rapid recovery of a QMP-mode task (no libvirt): cdp recover serves the
# point, makes the overlay and prints how to boot it.  A second QEMU
# started with exactly the printed -blockdev pair runs on it, writes to
# it, and block-stream moves the point in; cdp sees the overlay stand
# alone and exits 0.  The overlay then holds the point and the second
# VM's writes, nothing written after T, and the store never saw those
# writes.  Refusals come first and leave nothing behind.
source "$(dirname "$0")/functions.sh"
requires nbdinfo

make_disk "$tmpdir/disk.qcow2" 32M
start_qemu "$tmpdir/disk.qcow2"
cdp task create q --qmp "$cdp_qmp_sock" --node disk0
start_cdp_serve
wait_protected q
guest_io "write -P 0x31 0 1m"
guest_io "write -P 0x32 8m 64k"
t=$(now)
sleep 0.05
guest_io "write -P 0x33 0 4k"
cdp restore q --at "$t" --output "$tmpdir/ref.raw" --format raw

expect_error 2 "no libvirt domain" cdp recover q --at "$t" --to "$tmpdir/x.qcow2" --as y
expect_error 1 "no recovery to resume" cdp recover q --resume
touch "$tmpdir/exists.qcow2"
expect_error 1 "exists" cdp recover q --at "$t" --to "$tmpdir/exists.qcow2"
expect_error 1 "no recovery point.*starts later" cdp recover q --at 2001-01-01T00:00:00Z --to "$tmpdir/old.qcow2"
[ ! -e "$CDP_STORE/tasks/q/recover.json" ] || fail "a refused recovery left a record"
[ ! -e "$tmpdir/old.qcow2" ] || fail "a refused recovery left an overlay"

"$CDP" recover q --at "$t" --to "$tmpdir/rec.qcow2" >"$tmpdir/rec.out" 2>"$tmpdir/rec.err" &
rec_pid=$!
pids+=("$rec_pid")
wait_for 20 "cdp recover to print how to boot" grep -q block-stream "$tmpdir/rec.out"
cat "$tmpdir/rec.out"
expect_error 1 "runs already" cdp recover q --at "$t" --to "$tmpdir/r2.qcow2"

recovery_field ()
{
    cdp status q --json | python3 -c '
import json, sys
print(json.load(sys.stdin)["tasks"][0]["recovery"][sys.argv[1]])' "$1"
}
locked_points ()
{
    python3 -c '
import json, sys
print(len(json.load(open(sys.argv[1]))["locks"]))' "$CDP_STORE/tasks/q/locks.json"
}
[ "$(recovery_field state)" = streaming ] || fail "recovery state $(recovery_field state)"
[ "$(recovery_field mode)" = qmp ] || fail "recovery mode $(recovery_field mode)"
[ "$(locked_points)" = 1 ] || fail "the point is not locked while it is served"
[ "$(recovery_field locked)" = 1 ] || fail "the recovery does not own its lock"
uri=$(grep -o 'nbd+unix://[^ ]*' "$tmpdir/rec.out" | sed -n 1p)
[ "$(nbdinfo --size "$uri")" = 33554432 ] || fail "the export's size: $(nbdinfo --size "$uri")"

# Boot a VM on the overlay with the printed arguments, as printed.
mapfile -t bd < <(grep -o "^ *-blockdev '[^']*'" "$tmpdir/rec.out" |
                  sed "s/^ *-blockdev '//; s/'\$//")
[ "${#bd[@]}" -eq 2 ] || fail "expected two -blockdev, got ${#bd[@]}"
q2=$tmpdir/q2.sock
qemu-system-x86_64 -M pc -S -nodefaults -display none \
    -qmp "unix:$q2,server=on,wait=off" -blockdev "${bd[0]}" -blockdev "${bd[1]}" \
    -device virtio-blk-pci,drive=rec-disk0,id=rv0 >>"$tmpdir/q2.log" 2>&1 &
q2_pid=$!
pids+=("$q2_pid")
wait_for 20 "the second QEMU" python3 "$e2e_dir/qmp.py" "$q2" query-status
python3 "$e2e_dir/qmp.py" "$q2" --hmp 'qemu-io -d rv0/virtio-backend "write -P 0x44 16m 64k"'
python3 "$e2e_dir/qmp.py" "$q2" block-stream '{"job-id": "rec-disk0", "device": "rec-disk0"}'

rc=0
timeout 60 tail --pid="$rec_pid" -f /dev/null || fail "cdp recover did not end after the stream"
reap "$rec_pid" || rc=$?
[ "$rc" -eq 0 ] || fail "cdp recover exited $rc: $(cat "$tmpdir/rec.err")"
grep -q "no longer depends on the store" "$tmpdir/rec.out" || fail "no closing line"
qemu-img info -U "$tmpdir/rec.qcow2" | grep -q "backing file" && fail "the overlay still has a backing file"
[ "$(recovery_field state)" = done ] || fail "recovery state $(recovery_field state) after the end"
[ "$(locked_points)" = 0 ] || fail "the point stayed locked"
[ ! -S "$CDP_STORE/tasks/q/run/recover.sock" ] || fail "the export's socket is still there"

python3 "$e2e_dir/qmp.py" "$q2" quit >/dev/null || :
reap "$q2_pid" || :
ref_apply "$tmpdir/ref.raw" "$tmpdir/ref2.raw" "write -P 0x44 16m 64k"
qemu-img convert -f qcow2 -O raw "$tmpdir/rec.qcow2" "$tmpdir/rec.raw"
same "$tmpdir/rec.raw" "$tmpdir/ref2.raw" "the recovered disk against the point and the VM's writes"

# The store never saw the second VM's writes.
cdp restore q --at "$t" --output "$tmpdir/again.raw" --format raw
same "$tmpdir/again.raw" "$tmpdir/ref.raw" "the point after the recovery"
source_image "$tmpdir/src.raw"
export_to q now "$tmpdir/now.raw"
same "$tmpdir/now.raw" "$tmpdir/src.raw" "the newest point against the protected disk"
stop_cdp_serve
