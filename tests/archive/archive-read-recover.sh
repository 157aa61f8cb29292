#!/usr/bin/env bash
# cdp recover of a point the store no longer has but its archive does:
# the point is served from the archive (not locked: retention cannot
# take it), a QEMU started with the printed -blockdev pair streams it
# into the overlay, and cdp recover ends once the overlay stands alone;
# the overlay then holds the archived point and the VM's own write.
source "$(dirname "$0")/../e2e/functions.sh"
source "$(dirname "$0")/reading.sh"
requires qemu-img qemu-system-x86_64

arch=$tmpdir/archive
archive_task v 4M --segment-size 4M --bp-interval 1s --journal-retention 2s \
    --archive "$arch"
a=$tmpdir/a.img
head -c 4M /dev/urandom >"$a"
put_image v "$a" >/dev/null
t=$(now)
t=$(archive_push v --at "$t")
wait_archived_only v "$t"

"$CDP" recover v --at "$t" --to "$tmpdir/rec.qcow2" >"$tmpdir/rec.out" 2>"$tmpdir/rec.err" &
rec_pid=$!
pids+=("$rec_pid")
wait_for 30 "cdp recover to print how to boot" grep -q block-stream "$tmpdir/rec.out"
python3 -c '
import json, sys
print(len(json.load(open(sys.argv[1])).get("locks", [])))' \
    "$CDP_STORE/tasks/v/locks.json" 2>/dev/null | grep -qx '[1-9][0-9]*' &&
    fail "an archived point was locked in the store"

mapfile -t bd < <(grep -o "^ *-blockdev '[^']*'" "$tmpdir/rec.out" |
                  sed "s/^ *-blockdev '//; s/'\$//")
[ "${#bd[@]}" -eq 2 ] || fail "expected two -blockdev, got ${#bd[@]}: $(cat "$tmpdir/rec.out")"
q2=$tmpdir/q2.sock
qemu-system-x86_64 -M pc -S -nodefaults -display none \
    -qmp "unix:$q2,server=on,wait=off" -blockdev "${bd[0]}" -blockdev "${bd[1]}" \
    -device virtio-blk-pci,drive=rec-disk0,id=rv0 >>"$tmpdir/q2.log" 2>&1 &
q2_pid=$!
pids+=("$q2_pid")
wait_for 20 "the second QEMU" python3 "$e2e_dir/qmp.py" "$q2" query-status
python3 "$e2e_dir/qmp.py" "$q2" --hmp 'qemu-io -d rv0/virtio-backend "write -P 0x44 1m 64k"'
python3 "$e2e_dir/qmp.py" "$q2" block-stream '{"job-id": "rec-disk0", "device": "rec-disk0"}'

rc=0
timeout 120 tail --pid="$rec_pid" -f /dev/null || fail "cdp recover did not end after the stream"
reap "$rec_pid" || rc=$?
[ "$rc" -eq 0 ] || fail "cdp recover exited $rc: $(cat "$tmpdir/rec.err")"
python3 "$e2e_dir/qmp.py" "$q2" quit >/dev/null || :
reap "$q2_pid" || :
qemu-img info "$tmpdir/rec.qcow2" | grep -q "backing file" && fail "the overlay still has a backing file"
ref_apply "$a" "$tmpdir/ref.raw" "write -P 0x44 1m 64k"
qemu-img convert -f qcow2 -O raw "$tmpdir/rec.qcow2" "$tmpdir/rec.raw"
same "$tmpdir/rec.raw" "$tmpdir/ref.raw" "the recovered disk against the archived point and the VM's write"
stop_cdp_serve
