#!/usr/bin/env bash
# cdp recover --json --progress of a QMP-mode task: stdout is JSON Lines
# only, phase "start" up to the point being served (how to boot it goes
# to stderr then), phase "stream" while a second QEMU booted as told
# runs block-stream, and once the overlay stands alone the recovery's
# document: state done, mode qmp, no domain, the point's time, the disk
# and its overlay, and seconds to ready and to stream.  A second
# recovery stopped by SIGTERM while it serves exits 1 saying cancelled
# (resumable, stdout progress lines only), and --cancel --json then
# prints it failed, cancelled by the operator.
source "$(dirname "$0")/functions.sh"
requires python3

make_disk "$tmpdir/disk.qcow2" 32M
start_qemu "$tmpdir/disk.qcow2"
cdp task create q --qmp "$cdp_qmp_sock" --node disk0
start_cdp_serve
wait_protected q
guest_io "write -P 0x31 0 1m"
t=$(now)

"$CDP" recover q --at "$t" --to "$tmpdir/rec.qcow2" --json --progress \
    >"$tmpdir/rec.out" 2>"$tmpdir/rec.err" &
rec_pid=$!
pids+=("$rec_pid")
wait_for 30 "cdp recover to say how to boot" grep -q block-stream "$tmpdir/rec.err"
grep -q '"phase":"start","done":2,"total":2,"unit":"steps"' "$tmpdir/rec.out" ||
    fail "no end of phase start before the VM is to boot: $(cat "$tmpdir/rec.out")"
grep -q 'blockdev\|nbd+unix' "$tmpdir/rec.out" && fail "how to boot went to stdout"

mapfile -t bd < <(grep -o "^ *-blockdev '[^']*'" "$tmpdir/rec.err" |
                  sed "s/^ *-blockdev '//; s/'\$//")
[ "${#bd[@]}" -eq 2 ] || fail "expected two -blockdev on stderr, got ${#bd[@]}"
q2=$tmpdir/q2.sock
qemu-system-x86_64 -M pc -S -nodefaults -display none \
    -qmp "unix:$q2,server=on,wait=off" -blockdev "${bd[0]}" -blockdev "${bd[1]}" \
    -device virtio-blk-pci,drive=rec-disk0,id=rv0 >>"$tmpdir/q2.log" 2>&1 &
q2_pid=$!
pids+=("$q2_pid")
wait_for 20 "the second QEMU" python3 "$e2e_dir/qmp.py" "$q2" query-status
python3 "$e2e_dir/qmp.py" "$q2" block-stream '{"job-id": "rec-disk0", "device": "rec-disk0"}'

rc=0
timeout 60 tail --pid="$rec_pid" -f /dev/null || fail "cdp recover did not end after the stream"
reap "$rec_pid" || rc=$?
[ "$rc" -eq 0 ] || fail "cdp recover exited $rc: $(cat "$tmpdir/rec.err")"
python3 "$e2e_dir/json-doc.py" --stream "$tmpdir/rec.out" task state mode domain at \
    disks[].name disks[].overlay disks[].size ready_s stream_s protection_resumes \
    error >"$tmpdir/d" || fail "recover --json --progress: $(cat "$tmpdir/rec.out")"
python3 - "$tmpdir/d" "$tmpdir/rec.out" "$tmpdir/rec.qcow2" <<'PY' || fail "the document: $(cat "$tmpdir/d")"
import json, sys
d = json.load(open(sys.argv[1]))
lines = [json.loads(l) for l in open(sys.argv[2]).read().splitlines()[:-1]]
phases = [p["phase"] for p in lines]
assert phases[0] == "start" and phases[-1] == "stream", phases
assert phases == sorted(phases, key=["start", "stream"].index), phases
last = lines[-1]
assert last["unit"] == "bytes" and last["done"] == last["total"] == 32 << 20, last
assert d["state"] == "done" and d["mode"] == "qmp" and d["domain"] is None, d
assert d["task"] == "q" and d["error"] is None and d["protection_resumes"] is False, d
assert d["disks"] == [{"name": "disk0", "overlay": sys.argv[3], "size": 32 << 20}], d
assert d["ready_s"] >= 0 and d["stream_s"] >= 0, d
PY
python3 "$e2e_dir/qmp.py" "$q2" quit >/dev/null || :
reap "$q2_pid" || :

"$CDP" recover q --at "$t" --to "$tmpdir/rec2.qcow2" --json --progress \
    >"$tmpdir/rec2.out" 2>"$tmpdir/rec2.err" &
rec_pid=$!
pids+=("$rec_pid")
wait_for 30 "the second recovery to serve" grep -q block-stream "$tmpdir/rec2.err"
kill -TERM "$rec_pid"
rc=0
reap "$rec_pid" || rc=$?
[ "$rc" -eq 1 ] || fail "a recovery stopped by SIGTERM exited $rc"
[ "$(grep -c '^cdp: ' "$tmpdir/rec2.err")" -eq 1 ] &&
    grep -q '^cdp: cancelled: .*--resume' "$tmpdir/rec2.err" ||
    fail "SIGTERM: $(cat "$tmpdir/rec2.err")"
python3 - "$tmpdir/rec2.out" <<'PY' || fail "stdout of a stopped recovery: $(cat "$tmpdir/rec2.out")"
import json, sys
for l in open(sys.argv[1]).read().splitlines():
    assert json.loads(l)["event"] == "progress", l
PY
cdp recover q --cancel --json >"$tmpdir/cancel.out" 2>"$tmpdir/cancel.err" ||
    fail "recover --cancel: $(cat "$tmpdir/cancel.err")"
python3 "$e2e_dir/json-doc.py" "$tmpdir/cancel.out" task state mode domain at disks \
    error >"$tmpdir/d" || fail "recover --cancel --json"
python3 - "$tmpdir/d" <<'PY' || fail "recover --cancel --json: $(cat "$tmpdir/d")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["state"] == "failed" and d["error"] == "cancelled by the operator", d
assert d["stream_s"] is None and d["protection_resumes"] is False, d
PY
stop_cdp_serve
