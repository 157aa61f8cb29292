#!/usr/bin/env bash
# libvirt mode: a block job that cdp did not start (here an operator's
# own block copy) runs on the disk.  cdp says so in its status, leaves
# the job alone (it still runs, untouched), and protects the disk by
# itself once the job is gone.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/libvirt.sh"
requires nbdcopy cmp

define_domain --blank 16M --paused
vio "write -P 0x71 0 128k"
virsh blockcopy "$dom" vda "$tmpdir/theirs.qcow2" --transient-job >/dev/null
wait_for 30 "the operator's copy to be READY" \
    eval "virsh blockjob '$dom' vda --info 2>&1 | grep -q '100 %'"
cdp task create f --domain "$dom"
start_cdp_serve
wait_for 20 "cdp to report the foreign job" \
    eval "cdp status f | grep -q 'block job that cdp did not start'"
cdp status f
sleep 3
state_is f vda "not protected" || fail "cdp protected a disk another job owns"
virsh blockjob "$dom" vda --info >"$tmpdir/job.txt" 2>&1
grep -q "Block Copy" "$tmpdir/job.txt" || fail "the operator's job is gone: $(cat "$tmpdir/job.txt")"
virsh dumpxml "$dom" >"$tmpdir/dom.xml"
grep -q "$tmpdir/theirs.qcow2" "$tmpdir/dom.xml" || fail "the operator's job was replaced"

virsh blockjob "$dom" vda --abort >/dev/null
wait_protected f vda 60
vio "write -P 0x72 64k 4k"
t=$(now)
dom_image "$tmpdir/now.img"
export_to f "$t" "$tmpdir/point.img"
same "$tmpdir/point.img" "$tmpdir/now.img" "point after the foreign job"
stop_cdp_serve
