#!/usr/bin/env bash
# The initial copy of a mirrored disk becomes its first base point (the
# disk as it was at READY), and the journal that carried it is given back
# at once rather than kept for --journal-retention; the base point passes
# `qemu-img check` and holds exactly the source disk; points after READY
# stay exact on top of it.
source "$(dirname "$0")/functions.sh"
requires qemu-img nbdcopy python3

disk=$tmpdir/disk.qcow2
make_disk "$disk" 64M
qemu-io -f qcow2 "$disk" -c "write -P 0x21 0 24M" -c "write -P 0x22 40M 8M" >/dev/null
qemu-img convert -f qcow2 -O raw "$disk" "$tmpdir/ref0.img"

start_qemu "$disk"
cdp task create vm --qmp "$cdp_qmp_sock" --node disk0 --segment-size 4M
start_cdp_serve
wait_protected vm

base=$CDP_STORE/tasks/vm/base
jdir=$CDP_STORE/tasks/vm/journal
wait_for 30 "the first base point" eval "ls '$base'/*.qcow2 2>/dev/null | grep -q ."
first=$(ls "$base"/*.qcow2 | sed -n 1p)
qemu-img check -q "$first" || fail "qemu-img check of the first base point"
qemu-img convert -U -O raw "$first" "$tmpdir/base0.img"
same "$tmpdir/base0.img" "$tmpdir/ref0.img" "the first base point against the source"

journal_bytes ()
{
    du -sb --apparent-size "$jdir"/seg-*.cdpj | awk '{ s += $1 } END { print s }'
}
wait_for 30 "the initial copy to leave the journal" \
    eval "[ \$(journal_bytes) -lt $((16 << 20)) ]"
echo "journal after the initial copy: $(journal_bytes) bytes for 32 MiB copied"

guest_io "write -P 0x41 1M 64k"
t1=$(now)
guest_io "write -P 0x42 41M 4k"
t2=$(now)
cp "$tmpdir/ref0.img" "$tmpdir/ref1.img"
qemu-io -f raw "$tmpdir/ref1.img" -c "write -P 0x41 1M 64k" >/dev/null
cp "$tmpdir/ref1.img" "$tmpdir/ref2.img"
qemu-io -f raw "$tmpdir/ref2.img" -c "write -P 0x42 41M 4k" >/dev/null
export_to vm "$t1" "$tmpdir/out1.img"
same "$tmpdir/out1.img" "$tmpdir/ref1.img" "point after the first write"
export_to vm "$t2" "$tmpdir/out2.img"
same "$tmpdir/out2.img" "$tmpdir/ref2.img" "point after the second write"
stop_cdp_serve
