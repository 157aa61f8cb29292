#!/usr/bin/env bash
# libvirt mode with a real guest: a Debian kernel boots a busybox root
# from an ext4 disk (TCG) and writes /counter every second.  The points
# of the protected disk hold the guest's file system as it was: the
# counter read from a point is the one the guest had written by then,
# and it grows from one point to the next.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/libvirt.sh"
requires nbdcopy mkfs.ext4 cpio modprobe

define_domain --guest
cdp task create g --domain "$dom"
start_cdp_serve
wait_protected g vda 60

# The guest is up once its counter moves in the protected disk.  A
# point is the disk as a power cut would leave it: the file system's
# journal may hold the newest /counter, so it is read the way the guest
# would read it after a restart, by cdp cat, which replays that journal
# (debugfs on the exported image would not, and could see the new
# directory entry before the inode it names).
counter_at ()
{
    cdp cat g --at "$1" /counter 2>/dev/null | awk '{ print $1 }'
}
wait_for 90 "the guest to boot and count" eval '[ "$(counter_at now)" -ge 2 ]'
sleep 1.5
t1=$(now)
sleep 4
t2=$(now)
c1=$(counter_at "$t1")
c2=$(counter_at "$t2")
echo "counter at $t1: $c1; at $t2: $c2"
[ -n "$c1" ] && [ -n "$c2" ] || fail "no counter in the points"
[ "$c2" -ge $((c1 + 2)) ] || fail "the counter did not advance between the points ($c1, $c2)"

# The newest point is the guest's disk as QEMU has it.
virsh suspend "$dom" >/dev/null
dom_image "$tmpdir/source.img"
export_to g now "$tmpdir/last.img"
same "$tmpdir/last.img" "$tmpdir/source.img" "the last point against the guest's disk"
stop_cdp_serve
