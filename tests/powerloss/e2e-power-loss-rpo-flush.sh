#!/usr/bin/env bash
# At an RPO above 0 a FLUSH, and a write with FUA, still complete only
# once durable.  A task at --rpo 1h on plfs (no sync comes by itself
# within the hour); qemu-io with a write-back cache (no FLUSH of its
# own after each write) writes through the receiver: A, a FLUSH, B, C
# with FUA, then D, and sleeps until the power cut kills it (so that it
# never flushes at exit).  After the cut and a serve started as on the
# next boot (rpo-functions.sh): A and C are there, D, acknowledged after
# the last of them and never flushed, is lost; the gap is journaled.
source "$(dirname "$0")/../e2e/functions.sh"
source "$(dirname "$0")/rpo-functions.sh"
requires fusermount3 mountpoint nbdcopy python3 pgrep unshare mount qemu-io stdbuf
: "${PLFS:?PLFS must name plfs}"

export CDP_STORE=$mnt/store
rx=$tmpdir/rx.sock
mount_plfs
cdp task create f --size 4M --listen "unix:$rx" --segment-size 16M --rpo 1h
start_serve_boot 1 f
wait_for 20 "the receiver's socket" test -S "$rx"

stdbuf -oL qemu-io -t writeback -f raw "nbd+unix:///disk0?socket=$rx" \
    -c 'write -P 0xa1 0 64k' -c flush -c 'write -P 0xb2 64k 64k' \
    -c 'write -f -P 0xc3 128k 64k' -c 'write -P 0xd4 192k 64k' \
    -c 'sleep 600000' >"$tmpdir/io.log" 2>&1 &
io_pid=$!
pids+=("$io_pid")
wait_for 60 "qemu-io's last write (D) to be acknowledged" \
    grep -q 'bytes at offset 196608' "$tmpdir/io.log"
grep -qi 'fail' "$tmpdir/io.log" && fail "qemu-io: $(cat "$tmpdir/io.log")"
power_cut

mount_plfs
start_serve_boot 2 f
wait_for 20 "the receiver's socket" test -S "$rx"
read -r _ reason < <(last_gap f)
[ "$reason" = "host went down within the RPO" ] || fail "the last gap's reason: $reason"
# "now": what survived (manual mode offers points again after the gap).
export_to f now "$tmpdir/now.img"
qemu-io -f raw "$tmpdir/now.img" -c 'read -P 0xa1 0 64k' \
    -c 'read -P 0xc3 128k 64k' -c 'read -P 0 192k 64k' >"$tmpdir/check.log" ||
    fail "qemu-io on the point 'now': $(cat "$tmpdir/check.log")"
if grep -q 'failed at offset 0,' "$tmpdir/check.log"; then
    fail "A, written before a FLUSH that completed, is lost"
elif grep -q 'failed at offset 131072' "$tmpdir/check.log"; then
    fail "C, written with FUA, is lost"
elif grep -q 'failed at offset 196608' "$tmpdir/check.log"; then
    fail "D, after the last FLUSH and FUA, survived: nothing was lost at the cut"
fi
echo "A (flushed) and C (FUA) survived the cut, D (neither) did not"
stop_cdp_serve
