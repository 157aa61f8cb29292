#!/usr/bin/env bash
# libvirt mode: the VM destroyed and started again.  The stop is a
# fidelity gap (no point inside it is offered), protection resumes by
# itself with a new block copy, and that copy's full pass stores only
# what changed while protection was off: the journal grows by far less
# than the disk.  Points on both sides of the gap are exact.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/libvirt.sh"
requires nbdcopy cmp

define_domain --blank 64M --paused
vio "write -P 0x31 0 8M"
vio "write -P 0x32 20M 8M"
dom_image "$tmpdir/base.img"
cdp task create r --domain "$dom" --segment-size 4M
start_cdp_serve
wait_protected r vda 60

vio "write -P 0x41 1M 64k"
t1=$(now)
ref_apply "$tmpdir/base.img" "$tmpdir/ref1.img" "write -P 0x41 1M 64k"

journal_data ()
{
    cdp status r --json | python3 -c '
import json, sys
print(json.load(sys.stdin)["tasks"][0]["disks"][0]["bytes"])'
}
before=$(journal_data)

virsh destroy "$dom" >/dev/null
wait_for 20 "the stop to be seen" state_is r vda "not protected"
cdp status r >"$tmpdir/status.txt"
grep -q "the domain was destroyed\|the domain is shut off" "$tmpdir/status.txt" ||
    fail "status does not say why: $(cdp status r)"
down=$(now)
# While the domain is off, its disk changes behind cdp's back.
qemu-io -f qcow2 "$dom_disk" -c "write -P 0x51 30M 128k" >/dev/null
virsh start --paused "$dom" >/dev/null
wait_protected r vda 60
after=$(journal_data)
grep -q "copying: initial full copy" "$serve_log" || fail "no new copy"
echo "journal data: $before bytes before the restart, $after after (disk: 64 MiB, 16 MiB of data)"
[ $((after - before)) -le $((1 << 20)) ] ||
    fail "the new full copy stored $((after - before)) bytes for 128 KiB changed"
[ $((after - before)) -ge $((128 << 10)) ] ||
    fail "the change made while the domain was off is missing from the journal"

vio "write -P 0x61 2M 4k"
t2=$(now)
ref_apply "$tmpdir/ref1.img" "$tmpdir/ref2.img" "write -P 0x51 30M 128k" "write -P 0x61 2M 4k"

export_to r "$t1" "$tmpdir/p1.img"
same "$tmpdir/p1.img" "$tmpdir/ref1.img" "point before the stop"
expect_error 1 'fidelity gap' \
    cdp export r --at "$down" --listen "unix:$tmpdir/x.sock" --run true
export_to r "$t2" "$tmpdir/p2.img"
same "$tmpdir/p2.img" "$tmpdir/ref2.img" "point after the restart"
dom_image "$tmpdir/now.img"
same "$tmpdir/now.img" "$tmpdir/ref2.img" "the domain's disk"
cdp status r --json | python3 -c '
import json, sys
d = json.load(sys.stdin)["tasks"][0]["disks"][0]
assert d["gaps"] >= 2 and d["rpo_lag_s"] == 0, d' || fail "status: gaps"
stop_cdp_serve
