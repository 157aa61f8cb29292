#!/usr/bin/env bash
# libvirt mode: the files of points on both sides of a resize read at
# their own sizes: an ext4 file system the size of the disk before
# (cdp ls and cat see its files), and one the size of the grown disk
# after, whose blocks lie past the old size.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/libvirt.sh"
requires mkfs.ext4

# fs SIZE DIR FILE TEXT...: an ext4 image of SIZE holding DIR's files.
fs ()
{
    local size=$1 dir=$tmpdir/$2
    shift 2
    mkdir -p "$dir"
    while [ $# -gt 1 ]; do echo "$2" >"$dir/$1"; shift 2; done
    mkfs.ext4 -q -F -d "$dir" -L cdpresize "$tmpdir/$(basename "$dir").img" "$size" >/dev/null
    echo "$tmpdir/$(basename "$dir").img"
}

define_domain --blank 16M --paused
img=$(fs 16M small a "before the resize")
vio "write -s $img 0 16M"
cdp task create lv --domain "$dom"
start_cdp_serve
wait_protected lv vda 60
t0=$(now)

lines=$(wc -l <"$serve_log")
cdp resize lv 48M >/dev/null
wait_for 90 "the disk to be protected after the resize" \
    eval "tail -n +$((lines + 1)) '$serve_log' | grep -q 'disk vda: protected'"
mkdir -p "$tmpdir/big"
# 30 MiB: a file of a 48 MiB file system that cannot lie below 16 MiB.
dd if=/dev/urandom of="$tmpdir/big/b" bs=1M count=30 status=none
img=$(fs 48M big a "after the resize")
vio "write -s $img 0 48M"
t1=$(now)

[ "$(cdp cat lv --at "$t0" /a)" = "before the resize" ] ||
    fail "cat /a before the resize: $(cdp cat lv --at "$t0" /a 2>&1)"
cdp ls lv --at "$t0" / >"$tmpdir/ls0.txt"
grep -q ' b$' "$tmpdir/ls0.txt" && fail "ls before the resize shows b"
[ "$(cdp cat lv --at "$t1" /a)" = "after the resize" ] ||
    fail "cat /a after the resize: $(cdp cat lv --at "$t1" /a 2>&1)"
cdp cat lv --at "$t1" /b >"$tmpdir/b.out" ||
    fail "cat /b after the resize: $(cdp cat lv --at "$t1" /b 2>&1 >/dev/null)"
same "$tmpdir/b.out" "$tmpdir/big/b" "/b after the resize (past the old end)"
cdp ls lv --at "$t1" / --json | python3 -c '
import json, sys
names = {e["name"] for e in json.load(sys.stdin)["entries"]}
assert {"a", "b"} <= names, names' || fail "ls after the resize"
stop_cdp_serve
