#!/usr/bin/env bash
# 'cdp serve' stopped cleanly (SIGTERM) removes its mirror job, so guest
# writes while it is down never reach cdp: that time is a fidelity gap
# (its points are refused), points before are exact, and after the
# restart's READY the point is QEMU's disk again.
source "$(dirname "$0")/functions.sh"
requires nbdcopy cmp

disk=$tmpdir/disk.qcow2
make_disk "$disk" 8M
start_qemu "$disk"
cdp task create s --qmp "$cdp_qmp_sock" --node disk0
start_cdp_serve
wait_protected s

guest_io "write -P 0x61 0 64k"
before_stop=$(now)
source_image "$tmpdir/before.img"
stop_cdp_serve
[ "$(qmp query-block-jobs)" = "[]" ] || fail "a mirror job outlived cdp serve"
[ "$(disk_state s)" = "not protected" ] || fail "status: $(disk_state s)"

guest_io "write -P 0x62 4096 4096"
while_down=$(now)
expect_error 1 'fidelity gap' \
    cdp export s --at "$while_down" --listen "unix:$tmpdir/x.sock" --run true
export_to s "$before_stop" "$tmpdir/point.img"
same "$tmpdir/point.img" "$tmpdir/before.img" "point before the stop"

start_cdp_serve
wait_protected s
after=$(now)
source_image "$tmpdir/source.img"
export_to s "$after" "$tmpdir/after.img"
same "$tmpdir/after.img" "$tmpdir/source.img" "point after the restart"
expect_error 1 'fidelity gap' \
    cdp export s --at "$while_down" --listen "unix:$tmpdir/x.sock" --run true
stop_cdp_serve
