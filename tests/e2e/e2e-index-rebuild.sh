#!/usr/bin/env bash
# The LMDB index is only a cache of the journal: with TASK/index deleted,
# an export (no daemon running) and then 'cdp serve' rebuild it, and
# every point reads as before, with the same points listed.
source "$(dirname "$0")/functions.sh"
requires nbdcopy cmp

disk=$tmpdir/disk.qcow2
make_disk "$disk" 16M
qemu-io -f qcow2 "$disk" -c "write -P 0x21 1M 2M" >/dev/null
start_qemu "$disk"
cdp task create r --qmp "$cdp_qmp_sock" --node disk0
start_cdp_serve
wait_protected r

guest_io "write -P 0x51 0 70000"
t[1]=$(now)
guest_io "write -P 0x52 65024 4096"
guest_io "write -z 1536 2048"
t[2]=$(now)
guest_io "write -P 0x53 2M 1536"
t[3]=$(now)
source_image "$tmpdir/source.img"
stop_cdp_serve

index=$CDP_STORE/tasks/r/index
[ -d "$index" ] || fail "no index at $index"
cdp points r --to "${t[3]}" --json >"$tmpdir/points.before"
grep -q '"kind":"second"' "$tmpdir/points.before" || fail "no points listed"
for i in 1 2 3; do
    export_to r "${t[$i]}" "$tmpdir/before$i.img"
done
same "$tmpdir/before3.img" "$tmpdir/source.img" "the last point against QEMU's disk"

check ()
{
    local i
    for i in 1 2 3; do
        export_to r "${t[$i]}" "$tmpdir/after$i.img"
        same "$tmpdir/after$i.img" "$tmpdir/before$i.img" "point $i after $1"
    done
    cdp points r --to "${t[3]}" --json >"$tmpdir/points.after"
    same "$tmpdir/points.after" "$tmpdir/points.before" "points listed after $1"
    echo "points identical after $1"
}

rm -rf "$index"
check "deleting the index (rebuilt by export)"

rm -rf "$index"
start_cdp_serve
grep -q 'caught up' "$serve_log" || fail "serve did not rebuild the index"
wait_protected r
check "deleting the index (rebuilt by serve)"
stop_cdp_serve
