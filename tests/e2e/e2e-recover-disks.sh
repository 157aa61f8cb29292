#!/usr/bin/env bash
# Rapid recovery of a two-disk domain under libvirt: 'cdp recover --as'
# with a directory for PATH makes PATH/vda.qcow2 and PATH/vdb.qcow2,
# starts a clone (new name and UUID) on them and streams both in; each
# then stands alone and holds its disk exactly as it was at T.  With
# --disk only that disk is recovered, and the clone leaves the other
# (writable) disk out rather than share it with the original.  A domain
# that is gone (undefined) is recovered in place from the definition
# cdp serve kept.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/libvirt.sh"

new=$dom-rec
new2=$dom-recb
recover_cleanup ()
{
    local status=$? d
    for d in "$new" "$new2"; do
        virsh destroy "$d" >/dev/null 2>&1 || :
        virsh undefine "$d" >/dev/null 2>&1 || :
    done
    (exit "$status")
    libvirt_cleanup
}
trap recover_cleanup EXIT

define_domain --blank 16M --paused
qemu-img create -q -f qcow2 "$tmpdir/$dom-b.qcow2" 8M
virsh attach-disk "$dom" "$tmpdir/$dom-b.qcow2" vdb --driver qemu \
    --subdriver qcow2 --persistent >/dev/null
vio_b ()
{
    virsh qemu-monitor-command "$dom" --hmp \
        "qemu-io -d virtio-disk1/virtio-backend \"$1\"" >/dev/null
}
cdp task create two --domain "$dom"
start_cdp_serve
wait_protected two vda 60
wait_protected two vdb 60
vio "write -P 0x51 0 1m"
vio_b "write -P 0x61 64k 64k"
t=$(now)
sleep 0.05
vio "write -P 0x52 0 64k"
vio_b "write -P 0x62 64k 4k"
cdp restore two --at "$t" --disk vda --output "$tmpdir/ref-a.raw" --format raw
cdp restore two --at "$t" --disk vdb --output "$tmpdir/ref-b.raw" --format raw

expect_error 1 "exists already" cdp recover two --at "$t" --to "$tmpdir/x.qcow2" --as "$dom"
[ ! -e "$tmpdir/x.qcow2" ] || fail "a refused recovery left an overlay"
cdp recover two --at "$t" --to "$tmpdir/rec" --as "$new" >"$tmpdir/rec.out" 2>"$tmpdir/rec.err" ||
    fail "cdp recover: $(cat "$tmpdir/rec.err")"
cat "$tmpdir/rec.out"
for d in vda vdb; do
    if qemu-img info -U "$tmpdir/rec/$d.qcow2" | grep -q "backing file"; then
        fail "$d: the overlay still has a backing file"
    fi
done
[ "$(virsh domstate "$new")" = running ] || fail "$new is $(virsh domstate "$new")"
[ "$(virsh domuuid "$new")" != "$(virsh domuuid "$dom")" ] || fail "the clone has the same UUID"
virsh dumpxml --inactive "$new" >"$tmpdir/new.xml"
grep -q "$tmpdir/rec/vda.qcow2" "$tmpdir/new.xml" &&
    grep -q "$tmpdir/rec/vdb.qcow2" "$tmpdir/new.xml" ||
    fail "the clone's disks are not the overlays: $(grep -A3 '<disk' "$tmpdir/new.xml")"
if grep -q "<backingStore type=" "$tmpdir/new.xml"; then
    fail "the clone's definition still names a backing store"
fi
# The original runs on, still protected, on its own disks.
[ "$(disk_state two vda)" = protected ] || fail "vda of the original is $(disk_state two vda)"

virsh destroy "$new" >/dev/null          # QEMU closes the overlays cleanly
for d in a b; do
    disk=vd$d
    qemu-img convert -f qcow2 -O raw "$tmpdir/rec/$disk.qcow2" "$tmpdir/rec-$d.raw"
    same "$tmpdir/rec-$d.raw" "$tmpdir/ref-$d.raw" "the recovered $disk against its point"
done

# One disk only: the clone leaves the other, writable one out.
cdp recover two --at "$t" --disk vdb --to "$tmpdir/only-b.qcow2" --as "$new2" \
    >"$tmpdir/rec2.out" 2>"$tmpdir/rec2.err" || fail "cdp recover --disk: $(cat "$tmpdir/rec2.err")"
grep -q "disk vda of $dom is not recovered" "$tmpdir/rec2.err" ||
    fail "the left-out disk was not reported: $(cat "$tmpdir/rec2.err")"
blk=$(virsh domblklist "$new2")
[ "$(grep -c 'vd[a-z]' <<<"$blk")" = 1 ] || fail "$new2 should have one disk: $blk"
grep -q "vdb .*only-b.qcow2" <<<"$blk" || fail "$new2: $blk"
stop_cdp_serve

# The domain is deleted: in place brings it back, from the kept definition.
virsh destroy "$dom" >/dev/null
virsh undefine "$dom" >/dev/null
cdp recover two --at "$t" --to "$tmpdir/back" --in-place >"$tmpdir/rec3.out" 2>"$tmpdir/rec3.err" ||
    fail "cdp recover --in-place of a deleted domain: $(cat "$tmpdir/rec3.err")"
grep -q "is gone" "$tmpdir/rec3.err" || fail "not said that the domain was gone: $(cat "$tmpdir/rec3.err")"
[ "$(virsh domstate "$dom")" = running ] || fail "$dom is $(virsh domstate "$dom")"
vio flush
qemu-img convert -U -f qcow2 -O raw "$tmpdir/back/vda.qcow2" "$tmpdir/back-a.raw"
same "$tmpdir/back-a.raw" "$tmpdir/ref-a.raw" "vda of the domain brought back"
