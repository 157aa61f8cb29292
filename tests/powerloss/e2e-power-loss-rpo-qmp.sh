#!/usr/bin/env bash
# QMP mode, --rpo 1s, the store on plfs: the power of the store's host
# is cut while the guest writes, and its last writes, acknowledged from
# the page cache, may be lost with it.  QEMU runs on (its host is not
# the store's: its disk is outside plfs, and only the processes of the
# store's host die at the cut); its mirror job ends with the lost
# connection, and the guest writes on while cdp is away.  cdp serve then
# starts as on the store host's next boot (rpo-functions.sh): it
# journals the gap "host went down within the RPO", and the new mirror
# job's initial copy brings history in line again: after READY the
# point "now" is QEMU's disk byte for byte, a point inside the gap is
# refused, and the copy journaled only what differs (the writes the cut
# lost and those the guest made meanwhile), not the disk again.
source "$(dirname "$0")/../e2e/functions.sh"
source "$(dirname "$0")/rpo-functions.sh"
requires fusermount3 mountpoint nbdcopy python3 pgrep unshare mount cmp
: "${PLFS:?PLFS must name plfs}"

export CDP_STORE=$mnt/store
mount_plfs
disk=$tmpdir/disk.qcow2
make_disk "$disk" 64M
qemu-io -f qcow2 "$disk" -c "write -P 0x21 0 12M" -c "write -P 0x22 40M 4M" >/dev/null
start_qemu "$disk"
cdp task create q --qmp "$cdp_qmp_sock" --node disk0 --rpo 1s
start_serve_boot 1 q
wait_protected q disk0 120

# Guest writes of 64 KiB at distinct places, patterns of their own.
nw=24
for i in $(seq "$nw"); do
    guest_io "write -P $((0x40 + i)) $((16 + i))M 64k"
done
# The store's host goes down: QEMU is not one of its processes.
keep=()
for p in "${pids[@]}"; do [ "$p" = "$qemu_pid" ] || keep+=("$p"); done
pids=("${keep[@]}")
cut=$(date +%s%N)
power_cut
pids+=("$qemu_pid")
guest_io "write -P 0x71 30M 64k"
guest_io "write -P 0x72 31M 64k"

mount_plfs
start_serve_boot 2 q
grep -q 'task q: the host went down' "$serve_log" ||
    fail "serve says nothing of the lost page cache tail"
wait_protected q disk0 120
# The gap of the lost tail (the new copy's own follows it).
read -r gap_seq t < <(journal_records "$CDP_STORE/tasks/q/journal" |
    awk '$2 == 5 && / host went down within the RPO$/ { print $1, $4 }')
[ -n "$t" ] || fail "no gap 'host went down within the RPO' in the journal"
[ "$t" -lt "$cut" ] || fail "the gap starts after the cut"
# The guest's writes whose records survived: before the gap.
kept_writes=$(python3 "$e2e_dir/journal-records.py" "$CDP_STORE/tasks/q/journal" |
    awk -v g="$gap_seq" '$4 < g && $5 >= 17 * 1048576 && $5 % 1048576 == 0 && $6 == 65536' |
    wc -l)
lost=$((nw - kept_writes))
echo "the cut lost $lost of the guest's $nw acknowledged writes"
expect_error 1 'fidelity gap' cdp export q --at "@${cut:0:-9}.${cut: -9}" \
    --listen "unix:$tmpdir/x.sock" --run true

source_image "$tmpdir/source.img"
export_to q now "$tmpdir/now.img"
same "$tmpdir/now.img" "$tmpdir/source.img" "the point 'now' after the new copy"

read -r received kept < <(status_of q disk0.copy_received_bytes disk0.copy_kept_bytes)
echo "the new copy: $received bytes received, $kept kept"
[ "$received" -ge $((16 << 20)) ] || fail "the copy sent only $received bytes"
# What differs: the writes the cut lost, and the two made while away.
[ "$kept" -eq $(((lost + 2) * (64 << 10))) ] ||
    fail "the copy kept $kept bytes for $((lost + 2)) writes of 64 KiB that differ"
stop_cdp_serve
