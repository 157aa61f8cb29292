#!/usr/bin/env bash
# At an RPO above 0 a write is acknowledged once the kernel holds its
# record, before it is durable; a read through the receiver (the disk as
# it is now) must still see it at once.  qemu-io with a write-back cache
# (no FLUSH after each write) writes and reads back, overlapping, through
# the receiver of a task with --rpo 1h, where no sync comes by itself.
source "$(dirname "$0")/functions.sh"
requires qemu-io

rx=$tmpdir/rx.sock
cdp task create w --size 4M --listen "unix:$rx" --rpo 1h
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"

qemu-io -t writeback -f raw "nbd+unix:///disk0?socket=$rx" \
    -c 'write -P 0x44 0 64k' -c 'read -P 0x44 0 64k' \
    -c 'write -P 0x55 32k 64k' -c 'read -P 0x44 0 32k' \
    -c 'read -P 0x55 32k 64k' -c 'write -z 48k 4k' -c 'read -P 0 48k 4k' \
    >"$tmpdir/io.log" 2>&1 || fail "qemu-io: $(cat "$tmpdir/io.log")"
cat "$tmpdir/io.log"
if grep -qi 'fail' "$tmpdir/io.log"; then
    fail "a read after an acknowledged write did not see it: $(grep -i fail "$tmpdir/io.log" | head -n 1)"
fi
stop_cdp_serve
