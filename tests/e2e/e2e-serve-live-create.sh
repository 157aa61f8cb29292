#!/usr/bin/env bash
# Tasks created while cdp serve runs are taken up without a restart:
# task create says so (naming the serve's pid); a manual-mode task's
# receiver takes writes, it has points, and task set changes it live; a
# QMP-mode task of a second QEMU gets its mirror job and is protected.
# The task served since the start keeps its mirror job, its receiver's
# socket and a history without a gap: its guest writes go on being
# exact points.
source "$(dirname "$0")/functions.sh"
requires nbdcopy python3 stat dd

disk=$tmpdir/disk.qcow2
make_disk "$disk" 8M
start_qemu "$disk"
cdp task create a --qmp "$cdp_qmp_sock" --node disk0
start_cdp_serve
wait_protected a
guest_io "write -P 0x61 0 64k"

# What must not change on task a: its job, its socket, its gaps.
jobs ()
{
    qmp query-block-jobs | python3 -c '
import json, sys
print(sorted((j["device"], j["type"], j["status"]) for j in json.load(sys.stdin)))'
}
gaps ()
{
    cdp status a --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["tasks"][0]
d = t["disks"][0]
print(t["served"], d["state"], d["gaps"], d.get("last_gap"))'
    python3 "$e2e_dir/journal-records.py" --type 5 "$CDP_STORE/tasks/a/journal"
}
rxa=$CDP_STORE/tasks/a/run/receiver.sock
jobs_before=$(jobs)
ino_before=$(stat -c %i "$rxa")
gaps_before=$(gaps)
[[ $jobs_before == *ready* ]] || fail "no READY mirror job: $jobs_before"
lines=$(wc -l <"$serve_log")

rx=$tmpdir/b.sock
cdp task create b --size 8M --listen "unix:$rx" >"$tmpdir/create.out" \
    2>"$tmpdir/create.err" || fail "task create b: $(cat "$tmpdir/create.err")"
[ "$(cat "$tmpdir/create.err")" = \
  "task b: taken up by the running cdp serve (pid $serve_pid)" ] ||
    fail "task create says: $(cat "$tmpdir/create.err")"
grep -q "task b created" "$tmpdir/create.out" || fail "$(cat "$tmpdir/create.out")"
cdp status b --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["tasks"][0]
assert t["served"], t' || fail "status does not show b served"

src=$tmpdir/src.img
dd if=/dev/urandom of="$src" bs=1M count=8 status=none
nbdcopy -- "$src" "nbd+unix:///disk0?socket=$rx" || fail "nbdcopy into b"
after=$(now)
export_to b "$after" "$tmpdir/b.img"
same "$tmpdir/b.img" "$src" "b's point after the copy"
has_points ()
{
    cdp points b --json | python3 -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["points"] else 1)'
}
wait_for 30 "points of b" has_points

out=$(cdp task set b --rpo 500ms) || fail "task set b: $out"
grep -q 'cdp serve runs by it now' <<<"$out" || fail "task set b: $out"
cdp status b --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["tasks"][0]
assert t["served"] and t["rpo_s"] == 0.5, t' || fail "b does not run by RPO 500ms"

# A QMP-mode task of a second QEMU: its mirror job starts, READY.
qmp_a=$qmp_sock cdp_qmp_a=$cdp_qmp_sock qemu_a=$qemu_pid
qmp_sock=$tmpdir/qmp2.sock cdp_qmp_sock=$tmpdir/cdp-qmp2.sock
make_disk "$tmpdir/disk2.qcow2" 8M
start_qemu "$tmpdir/disk2.qcow2"
cdp task create c --qmp "$cdp_qmp_sock" --node disk0 2>"$tmpdir/create.err" ||
    fail "task create c: $(cat "$tmpdir/create.err")"
grep -qx "task c: taken up by the running cdp serve (pid $serve_pid)" "$tmpdir/create.err" ||
    fail "task create c says: $(cat "$tmpdir/create.err")"
wait_protected c
guest_io "write -P 0x63 2M 64k"
source_image "$tmpdir/c-source.img"
export_to c now "$tmpdir/c.img"
same "$tmpdir/c.img" "$tmpdir/c-source.img" "c's point"
qmp_sock=$qmp_a cdp_qmp_sock=$cdp_qmp_a qemu_pid=$qemu_a

# Task a: the same job, the same socket, no gap; its writes are exact.
guest_io "write -P 0x62 1M 64k"
source_image "$tmpdir/a-source.img"
export_to a now "$tmpdir/a.img"
same "$tmpdir/a.img" "$tmpdir/a-source.img" "a's point after b was taken up"
[ "$(jobs)" = "$jobs_before" ] || fail "a's job changed: $jobs_before -> $(jobs)"
[ "$(stat -c %i "$rxa")" = "$ino_before" ] || fail "a's receiver socket was made again"
[ "$(gaps)" = "$gaps_before" ] || fail "a's gaps changed: $gaps_before -> $(gaps)"
tail -n +"$((lines + 1))" "$serve_log" >"$tmpdir/later.log"
grep -E "task a(:| disk disk0: (copying|not protected|starting))" "$tmpdir/later.log" &&
    fail "serve started task a again"
grep -q "task b: taken up" "$tmpdir/later.log" || fail "serve does not log that it took b up"
stop_cdp_serve
