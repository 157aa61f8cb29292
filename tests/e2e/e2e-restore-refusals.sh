#!/usr/bin/env bash
# cdp restore never leaves a half image under FILE and says no clearly:
# a bad --format or missing arguments exit 2; an existing FILE is
# refused (exit 1) and replaced only with --force; a restore stopped by
# SIGTERM removes its temporary file, one killed by SIGKILL leaves no
# FILE; in both cases its qemu-nbd goes too.
source "$(dirname "$0")/functions.sh"
requires nbdcopy qemu-img truncate dd cmp ps

rx=$tmpdir/rx.sock
cdp task create k --size 128M --listen "unix:$rx"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
src=$tmpdir/src.img
truncate -s 128M "$src"
dd if=/dev/urandom of="$src" bs=1M count=128 conv=notrunc status=none
nbdcopy -- "$src" "nbd+unix:///disk0?socket=$rx"
at=$(now)
out=$tmpdir/out.qcow2

expect_error 2 'format.*vmdk' cdp restore k --at "$at" --output "$out" --format vmdk
expect_error 2 'usage' cdp restore k --at "$at"
expect_error 2 'usage' cdp restore k --output "$out"
expect_error 2 'usage' cdp restore --at "$at" --output "$out"
expect_error 2 'unknown option --bogus' cdp restore k --at "$at" --output "$out" --bogus
expect_error 2 '--output needs a value' cdp restore k --at "$at" --output
expect_error 2 'neither a time' cdp restore k --at 'not a time' --output "$out"
expect_error 1 "no task 'nosuch'" cdp restore nosuch --at "$at" --output "$out"
expect_error 1 'directory' cdp restore k --at "$at" --output "$tmpdir"
[ -e "$out" ] && fail "a refused restore wrote $out"

echo "precious" >"$out"
expect_error 1 'exists.*--force' cdp restore k --at "$at" --output "$out"
[ "$(cat "$out")" = precious ] || fail "a refused restore changed $out"
cdp restore k --at "$at" --output "$out" --force 2>/dev/null
qemu-img compare -q -f raw -F qcow2 "$src" "$out" || fail "--force did not replace $out"
cdp restore --help | grep -q -- '--format qcow2|raw' || fail "restore --help"

# child_qemu_nbd PID: the qemu-nbd started by process PID, if any.
child_qemu_nbd ()
{
    ps --ppid "$1" -o pid=,comm= | awk '$2 == "qemu-nbd" { print $1 }'
}

# stop_mid_restore SIGNAL FILE: start a restore into FILE, wait until its
# qemu-nbd runs, send SIGNAL; sets $status and $nbd_pid.  Returns 1 if
# the restore ended before it could be caught.
stop_mid_restore ()
{
    local sig=$1 file=$2 pid i
    rm -f "$file"
    "$CDP" restore k --at "$at" --output "$file" 2>"$tmpdir/stopped.err" &
    pid=$!
    pids+=("$pid")
    nbd_pid=
    for i in $(seq 500); do
        nbd_pid=$(child_qemu_nbd "$pid")
        [ -n "$nbd_pid" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.01
    done
    if [ -z "$nbd_pid" ] || ! kill -STOP "$pid" 2>/dev/null; then
        reap "$pid" || :
        return 1
    fi
    ls "$file".tmp-* >/dev/null 2>&1 || fail "no temporary file during the restore"
    [ -e "$file" ] && fail "$file exists before the restore completed"
    kill "-$sig" "$pid"
    kill -CONT "$pid" 2>/dev/null || :
    status=0
    reap "$pid" || status=$?
    return 0
}

# gone PID: the process exits within 10 s.
gone ()
{
    wait_for 10 "process $1 to exit" eval "! kill -0 $1 2>/dev/null"
}

caught=0
for try in $(seq 10); do
    stop_mid_restore TERM "$tmpdir/term.qcow2" && { caught=1; break; }
done
[ "$caught" = 1 ] || fail "could not catch a restore in progress"
[ "$status" -eq 1 ] || fail "a restore stopped by SIGTERM exited $status"
grep -q 'cancelled' "$tmpdir/stopped.err" || fail "SIGTERM: $(cat "$tmpdir/stopped.err")"
[ -e "$tmpdir/term.qcow2" ] && fail "SIGTERM left term.qcow2"
ls "$tmpdir"/term.qcow2.tmp-* >/dev/null 2>&1 && fail "SIGTERM left a temporary file"
gone "$nbd_pid"

caught=0
for try in $(seq 10); do
    stop_mid_restore KILL "$tmpdir/kill.qcow2" && { caught=1; break; }
done
[ "$caught" = 1 ] || fail "could not catch a restore in progress"
[ "$status" -eq 137 ] || fail "SIGKILL: exit status $status"
[ -e "$tmpdir/kill.qcow2" ] && fail "SIGKILL left kill.qcow2"
gone "$nbd_pid"

# The point itself is untouched by all this.
cdp restore k --at "$at" --output "$tmpdir/again.img" 2>/dev/null
same "$tmpdir/again.img" "$src" "the point after interrupted restores"
stop_cdp_serve
