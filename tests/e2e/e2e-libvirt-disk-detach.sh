#!/usr/bin/env bash
# libvirt mode: libvirt refuses to detach a disk under cdp's copy; cdp
# detach ends the copy and detaches it (live and persistent, the guest
# releasing the device).  The disk stops being protected, its history
# stays readable, and the other disk goes on without a gap.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/libvirt.sh"
requires nbdcopy cmp

define_domain --guest
wait_for 120 "the guest to boot" grep -q "counter at boot" "$dom_console"
attach_blank vdb 8M
cdp task create lv --domain "$dom"
start_cdp_serve
wait_protected lv vda 90
wait_protected lv vdb 90
vdb=$(disk_device vdb)
vio_dev "$vdb" "write -P 0x51 0 64k"
vio_dev "$vdb" "write -P 0x52 5m 4k"
t1=$(now)
disk_image vdb "$tmpdir/vdb-t1.img"
gaps ()
{
    cdp status lv --json | python3 -c '
import json, sys
print([d for d in json.load(sys.stdin)["tasks"][0]["disks"]
       if d["name"] == "vda"][0]["gaps"])'
}
before=$(gaps)

if virsh detach-disk "$dom" vdb --live >"$tmpdir/detach.out" 2>&1; then
    fail "libvirt detached a disk under cdp's copy: the design rests on its refusal"
fi
grep -q "block copy still active" "$tmpdir/detach.out" ||
    fail "virsh detach-disk: $(cat "$tmpdir/detach.out")"
cdp detach lv --disk vdb --json >"$tmpdir/detach.json"
python3 "$e2e_dir/json-doc.py" "$tmpdir/detach.json" task disk >/dev/null ||
    fail "detach --json: $(cat "$tmpdir/detach.json")"
wait_for 60 "the guest to release vdb" \
    eval "! virsh domblklist '$dom' | grep -q '^ *vdb '"
virsh domblklist "$dom" --inactive | grep -q '^ *vdb ' &&
    fail "vdb is still in the persistent definition"
wait_for 30 "vdb to be reported detached" \
    eval "cdp status lv | grep -q 'vdb .*not protected (the domain has no such disk now (detached)'"

cdp export lv --at "$t1" --disk vdb --listen "unix:$tmpdir/e.sock" \
    --run "nbdcopy -- \"\$uri\" $tmpdir/p.img"
same "$tmpdir/p.img" "$tmpdir/vdb-t1.img" "vdb at t1, after the detach"
state_is lv vda protected || fail "vda is no longer protected"
[ "$(gaps)" = "$before" ] || fail "vda got a gap: $before, now $(gaps)"
stop_cdp_serve
