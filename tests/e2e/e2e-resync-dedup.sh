#!/usr/bin/env bash
# A new mirror job's full copy (here: cdp serve stopped and started
# again, QMP mode) journals only what differs from the disk as cdp
# already holds it: 16 MiB of data copied again cost about the 64 KiB
# the guest wrote while cdp was away, and the points stay exact.
source "$(dirname "$0")/functions.sh"
requires nbdcopy cmp

disk=$tmpdir/disk.qcow2
make_disk "$disk" 64M
qemu-io -f qcow2 "$disk" -c "write -P 0x21 0 12M" -c "write -P 0x22 40M 4M" >/dev/null
start_qemu "$disk"
cdp task create d --qmp "$cdp_qmp_sock" --node disk0
start_cdp_serve
wait_protected d
guest_io "write -P 0x41 1M 64k"
t1=$(now)
source_image "$tmpdir/ref1.img"
stop_cdp_serve

guest_io "write -P 0x42 41M 64k"
guest_io "write -z 2M 64k"
start_cdp_serve
wait_protected d
source_image "$tmpdir/ref2.img"
t2=$(now)

copy_stats ()
{
    cdp status d --json | python3 -c '
import json, sys
d = json.load(sys.stdin)["tasks"][0]["disks"][0]
print(d["copy_received_bytes"], d["copy_kept_bytes"], d["bytes"])'
}
read -r received kept bytes < <(copy_stats)
echo "second copy: $received bytes received, $kept kept; journaled since the restart: $bytes"
[ "$received" -ge $((16 << 20)) ] || fail "the copy sent only $received bytes"
[ "$kept" -ge $((128 << 10)) ] || fail "the changes made while cdp was away were not kept"
[ "$kept" -le $((512 << 10)) ] || fail "the copy kept $kept bytes for 128 KiB changed"

export_to d "$t1" "$tmpdir/p1.img"
same "$tmpdir/p1.img" "$tmpdir/ref1.img" "point before the restart"
export_to d "$t2" "$tmpdir/p2.img"
same "$tmpdir/p2.img" "$tmpdir/ref2.img" "point after the second copy"
stop_cdp_serve
