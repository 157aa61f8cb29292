#!/usr/bin/env bash
# Fidelity gaps in QMP mode: a point during the initial copy (before the
# mirror's READY) is refused with exit 1 and one line; so is a point
# after QEMU was killed and before the next READY, while 'cdp status'
# says the disk is not protected.  Points before the kill, and after the
# new READY, are exact; every point 'cdp points' lists can be exported.
source "$(dirname "$0")/functions.sh"
requires nbdcopy cmp

disk=$tmpdir/disk.qcow2
make_disk "$disk" 16M
qemu-io -f qcow2 "$disk" -c "write -P 0x31 0 8M" >/dev/null
# The initial copy reads the image at 1 MiB/s: a few seconds to look.
start_qemu "$disk" --throttle-read 1048576
cdp task create g --qmp "$cdp_qmp_sock" --node disk0
start_cdp_serve
wait_for 20 "the initial copy" state_is g disk0 copying
guest_io "write -P 0x32 12M 64k"
during=$(now)
qmp query-block-jobs | grep -q '"ready": false' ||
    fail "the mirror was READY already: the copy was too fast to test"
qmp qom-set '{"path": "tg0", "property": "limits", "value": {"bps-read": 0}}' >/dev/null
wait_protected g

refused ()
{
    expect_error 1 'fidelity gap' \
        cdp export g --at "$1" --listen "unix:$tmpdir/x.sock" --run true
}
refused "$during"

guest_io "write -P 0x33 1536 4096"
guest_io flush
before_kill=$(now)
kill_qemu
wait_for 10 "status to say not protected" state_is g disk0 "not protected"
cdp status g | grep -q 'not protected' || fail "cdp status: $(cdp status g)"
after_kill=$(now)
refused "$after_kill"

# The point before the kill is QEMU's disk as it was left.
qemu-img convert -f qcow2 -O raw "$disk" "$tmpdir/left.img"
export_to g "$before_kill" "$tmpdir/before-kill.img"
same "$tmpdir/before-kill.img" "$tmpdir/left.img" "point before the kill"

# QEMU again: cdp finds it by itself and protects the disk anew.
start_qemu "$disk"
wait_protected g
guest_io "write -P 0x34 8M 4096"
after_ready=$(now)
refused "$after_kill"
refused "$during"
source_image "$tmpdir/source.img"
export_to g "$after_ready" "$tmpdir/after.img"
same "$tmpdir/after.img" "$tmpdir/source.img" "point after the new READY"

# What 'cdp points' offers, cdp can export.
cdp points g --json | python3 -c '
import json, sys
for p in json.load(sys.stdin)["points"]:
    print(p["time"])' >"$tmpdir/points"
[ -s "$tmpdir/points" ] || fail "no points listed"
while read -r p; do
    cdp export g --at "$p" --listen "unix:$tmpdir/p.sock" --run true ||
        fail "listed point $p cannot be exported"
done <"$tmpdir/points"
echo "$(wc -l <"$tmpdir/points") listed points all exportable"

stop_cdp_serve
