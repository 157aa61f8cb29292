#!/usr/bin/env bash
# Rapid recovery in place: cdp recover g --at T --in-place, while cdp
# serve protects the domain.
#
# A busybox guest (make-vm) counts into /counter.  T is a bookmark; the
# guest counts on for a while (the newest point holds a higher count).
# cdp recover destroys the domain, redefines it on an overlay backed by
# the point's export, starts it and pulls the data in:
#   - while the pull runs, serve does not protect the disk and says that
#     a recovery streams it;
#   - the guest boots with the point's counter;
#   - once the pull is done, serve protects the disk again by itself, the
#     status says "done", no point is locked, the overlay stands alone;
#   - the history holds both: a point from before the recovery still has
#     the old, higher counter; a point after protection resumed has the
#     recovered guest's (from the point's on, below the old one);
#   - the disk is the point plus what the guest wrote since
#     (check_recovered_disk in recover.sh).
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/libvirt.sh"
source "$(dirname "$0")/recover.sh"
requires mkfs.ext4 cpio modprobe e2fsck ss

define_recover_guest
# 25 s: long enough that the recovered guest, counting from the point's
# count on, is still below the old count when protection has resumed.
point_at rec-point 25
n=$(point_counter rec-point)
before=$(now)
old=$(point_counter "$before")
echo "counter at the bookmark: $n; just before the recovery: $old"
[ -n "$n" ] && [ "$old" -ge $((n + 10)) ] ||
    fail "the guest did not count on after the bookmark ($n, $old)"

overlay=$tmpdir/rec.qcow2
# 8 MiB/s: the pull lasts long enough to see serve stand aside, and
# not so long that the recovered guest counts past the old count.
start_recover --at rec-point --to "$overlay" --in-place --bandwidth 8
wait_for 60 "the recovery to start the domain" \
    eval '[ "$(recovery_field state)" = streaming ]'
[ "$(recovery_field mode)" = in-place ] || fail "recovery mode: $(recovery_field mode)"
[ "$(recovery_field domain)" = "$dom" ] || fail "recovery domain: $(recovery_field domain)"
wait_for 30 "serve to say that the recovery streams vda" eval \
    "cdp status g --json | python3 -c '
import json, sys
d = json.load(sys.stdin)[\"tasks\"][0][\"disks\"][0]
sys.exit(0 if d[\"state\"] != \"protected\" and \"recover\" in (d.get(\"reason\") or \"\") else 1)'"
[ "$(recovery_field state)" = streaming ] ||
    fail "the recovery ended too soon to be looked at: $(recovery_field state)"
[ "$(locked_points)" -ge 1 ] || fail "no point is locked while the recovery runs: $(cdp points g)"
cdp status g

booted=$(boot_counter "$dom_console")
echo "the recovered guest booted with counter $booted"
[ "$booted" = "$n" ] || fail "the recovered guest booted with counter $booted, the point has $n"

wait_recover
check_standalone "$dom" "$overlay"
[ "$(virsh domstate "$dom")" = running ] || fail "$dom no longer runs: $(virsh domstate "$dom")"

wait_protected g vda 120
cdp status g
sleep 2
after=$(now)
c_after=$(point_counter "$after")
c_before=$(point_counter "$before")
echo "counter before the recovery: $c_before; after protection resumed: $c_after"
[ "$c_before" = "$old" ] ||
    fail "the point from before the recovery changed: counter $old, now $c_before"
[ -n "$c_after" ] && [ "$c_after" -ge "$n" ] && [ "$c_after" -lt "$old" ] ||
    fail "the point after the recovery has counter '$c_after': not the recovered guest's ($n..$old)"
[ "$(locked_points)" = 0 ] || fail "a point is still locked: $(cdp points g)"
check_recovered_disk "$dom" "$overlay" rec-point
stop_cdp_serve
