#!/usr/bin/env bash
# Manual mode: whatever an NBD client (nbdcopy) writes into the receiver
# is the point "now"; a time before any write, an unknown task and a bad
# --size are refused with the contract's exit codes and one clear line.
source "$(dirname "$0")/functions.sh"
requires nbdcopy truncate dd cmp

rx=$tmpdir/rx.sock
cdp task create m --size 8M --listen "unix:$rx"
cdp task show m | grep -q 'manual' || fail "task show does not say manual mode"

before=$(now)
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"

# 8 MiB: random data with a hole in the middle and unaligned edges.
src=$tmpdir/src.img
truncate -s 8M "$src"
dd if=/dev/urandom of="$src" bs=512 seek=3 count=2045 conv=notrunc status=none
dd if=/dev/urandom of="$src" bs=512 seek=12289 count=3000 conv=notrunc status=none
nbdcopy -- "$src" "nbd+unix:///disk0?socket=$rx"
after=$(now)

export_to m now "$tmpdir/now.img"
same "$tmpdir/now.img" "$src" "point 'now' against what nbdcopy wrote"
export_to m "$after" "$tmpdir/after.img"
same "$tmpdir/after.img" "$src" "point at $after"

expect_error 1 'no recovery point' cdp export m --at "$before" \
    --listen "unix:$tmpdir/x.sock" --run true
expect_error 1 "no task 'nosuch'" cdp export nosuch --at now \
    --listen "unix:$tmpdir/x.sock" --run true
expect_error 2 '' cdp export m --at 'not a time' \
    --listen "unix:$tmpdir/x.sock" --run true
expect_error 2 'size' cdp task create bad --size 1000 --listen "unix:$tmpdir/b.sock"
expect_error 2 'size' cdp task create bad --size lots --listen "unix:$tmpdir/b.sock"
expect_error 2 'size' cdp task create bad --size 0 --listen "unix:$tmpdir/b.sock"
cdp task list | grep -q '^bad' && fail "a refused task was created"

stop_cdp_serve
