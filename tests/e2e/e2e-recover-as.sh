#!/usr/bin/env bash
# Rapid recovery into a new domain: cdp recover g --at T --as NEW.
#
# A busybox guest (make-vm) counts into /counter, protected by cdp serve.
# T is a bookmark; the guest counts on, and the host writes past the
# guest's file system before and after T.  Then cdp recover boots a
# clone of the domain on a qcow2 overlay backed by the point's export:
#   - while it runs, the point is locked and a second recover is refused
#     in one line;
#   - the clone is a new domain (its own name, UUID and console file)
#     whose guest says at boot the counter of the point at T, not the
#     newer one;
#   - the command exits 0 once the pull is done: the overlay has no
#     backing file, the domain (live and inactive) no backing store, the
#     export's socket is gone, the lock too, and the status says "done";
#   - the disk the clone runs on is the point plus what the guest wrote
#     since (see check_recovered_disk in recover.sh).
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/libvirt.sh"
source "$(dirname "$0")/recover.sh"
requires mkfs.ext4 cpio modprobe e2fsck ss

new=$dom-rec
extra_doms+=("$new" "$new-2")

define_recover_guest
point_at rec-point 5
n=$(point_counter rec-point)
newer=$(point_counter now)
echo "counter at the bookmark: $n; now: $newer"
[ -n "$n" ] && [ "$newer" -gt "$n" ] || fail "the guest did not count on after the bookmark ($n, $newer)"

overlay=$tmpdir/rec.qcow2
# 4 MiB/s: the pull (96 MiB) lasts long enough to look at it.
start_recover --at rec-point --to "$overlay" --as "$new" --bandwidth 4
wait_for 60 "the recovery to start the domain" \
    eval '[ "$(recovery_field state)" = streaming ]'
[ "$(recovery_field mode)" = as ] || fail "recovery mode: $(recovery_field mode)"
[ "$(recovery_field domain)" = "$new" ] || fail "recovery domain: $(recovery_field domain)"
[ "$(recovery_field disk.overlay)" = "$overlay" ] ||
    fail "recovery overlay: $(recovery_field disk.overlay)"
[ "$(virsh domstate "$new")" = running ] || fail "$new does not run: $(virsh domstate "$new")"
[ "$(virsh domuuid "$new")" != "$(virsh domuuid "$dom")" ] || fail "$new has $dom's UUID"
console=$(domain_console "$new")
[ "$console" = "$tmpdir/$new.console" ] ||
    fail "$new's console is '$console', expected $tmpdir/$new.console"
locked=$(locked_points)
[ "$(recovery_field state)" = streaming ] ||
    fail "the recovery ended too soon to be looked at: $(recovery_field state)"
[ "$locked" -ge 1 ] || fail "no point is locked while the recovery runs: $(cdp points g)"
expect_error 1 'runs already|unfinished recovery' cdp recover g --at rec-point \
    --to "$tmpdir/rec2.qcow2" --as "$new-2"
! virsh dominfo "$new-2" >/dev/null 2>&1 || fail "the refused recovery defined $new-2"
[ ! -e "$tmpdir/rec2.qcow2" ] || fail "the refused recovery made its overlay"

booted=$(boot_counter "$console")
echo "the recovered guest booted with counter $booted"
[ "$booted" = "$n" ] || fail "the recovered guest booted with counter $booted, the point has $n"

wait_recover
[ "$(wc -l <"$tmpdir/rec.out")" -ge 2 ] ||
    fail "cdp recover should say when the domain started and when it is done: $(cat "$tmpdir/rec.out")"
check_standalone "$new" "$overlay"
[ "$(virsh domstate "$new")" = running ] || fail "$new no longer runs: $(virsh domstate "$new")"
sleep 2                            # the guest writes on its own disk now
check_recovered_disk "$new" "$overlay" rec-point
stop_cdp_serve
