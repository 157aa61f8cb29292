#!/usr/bin/env bash
# A time after now names no point: lock, unlock, export, restore, cat,
# get and recover refuse it in one line (usage error), whatever way it
# is written, instead of taking it as "now"; nothing is left behind.
source "$(dirname "$0")/functions.sh"
requires qemu-io

rx=$tmpdir/rx.sock
cdp task create f --size 8M --listen "unix:$rx"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
qemu-io -f raw -c "write -P 5 0 64k" "nbd+unix:///disk0?socket=$rx" >/dev/null ||
    fail "qemu-io"
stop_cdp_serve

future=(
    "@$(( $(date +%s) + 3600 ))"
    "$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)"
    "2999-01-01 00:00:00"
)
for t in "${future[@]}"; do
    expect_error 2 'is in the future' cdp lock f --at "$t"
    expect_error 2 'is in the future' cdp unlock f --at "$t"
    expect_error 2 'is in the future' cdp export f --at "$t" \
        --listen "unix:$tmpdir/x.sock" --run true
    expect_error 2 'is in the future' cdp restore f --at "$t" --output "$tmpdir/out.raw"
    expect_error 2 'is in the future' cdp cat f --at "$t" /etc/hostname
    expect_error 2 'is in the future' cdp get f --at "$t" /etc --output "$tmpdir/get"
    expect_error 2 'is in the future' cdp recover f --at "$t" --to "$tmpdir/rec.qcow2"
done
[ ! -e "$tmpdir/out.raw" ] && [ ! -e "$tmpdir/get" ] && [ ! -e "$tmpdir/rec.qcow2" ] ||
    fail "a refused command left a file behind"
[ ! -e "$CDP_STORE/tasks/f/locks.json" ] || fail "a future time was locked"
[ ! -e "$CDP_STORE/tasks/f/recover.json" ] || fail "a refused recovery left a record"
cdp restore f --at now --output "$tmpdir/now.raw" >/dev/null || fail "now is refused"
