#!/usr/bin/env bash
# SIGTERM cancels cdp get: held at a known place by the pipe of its
# standard output (tests/files/hold.py), get exits 1 saying "cancelled"
# in one line, prints no result document, and removes what it wrote: the
# partial tree, the partial archive file; on standard output the archive
# stops short of its end.  The point is unchanged: a get afterwards is
# the guest's tree.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/../files/functions.sh"

files_task k 256M
src=$tmpdir/src
mkdir -p "$src/t" "$src/h"
# 4 KiB of data every 64 KiB: 20480 extents to copy.
python3 - "$src/t/scattered" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
for i in range(20480):
    os.pwrite(fd, os.urandom(4096), i << 16)
PY
truncate -s 20G "$src/h/hole"
echo "the end of the hole" >>"$src/h/hole"
ext4_image "$tmpdir/fs.img" "$src" 200M
at=$(put_disk k "$tmpdir/fs.img")

# cancelled MODE ARG WHAT -- CMD...: held by hold.py, SIGTERM cancels CMD.
cancelled ()
{
    local mode=$1 arg=$2 what=$3
    shift 4
    python3 "$files_dir/hold.py" "$mode" "$arg" "$tmpdir/err" -- "$@" >"$tmpdir/held" ||
        fail "$what: could not hold it: $(cat "$tmpdir/err")"
    [ "$(head -n 1 "$tmpdir/held")" = 1 ] ||
        fail "$what: exited $(head -n 1 "$tmpdir/held"): $(cat "$tmpdir/err")"
    [ "$(wc -l <"$tmpdir/err")" -eq 1 ] && grep -q 'cancelled' "$tmpdir/err" ||
        fail "$what: not one line saying cancelled: $(cat "$tmpdir/err")"
}

cancelled lines "$tmpdir/tree/scattered" "get of a tree" -- \
    "$CDP" get k --at "$at" /t --output "$tmpdir/tree" --json --progress
[ ! -e "$tmpdir/tree" ] || fail "a cancelled get left its tree: $(ls -la "$tmpdir/tree")"
python3 - "$tmpdir/held" <<'PY' || fail "the stream of a cancelled get: $(cat "$tmpdir/held")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()[1:]
assert lines, "no progress line"
for l in lines:
    assert json.loads(l)["event"] == "progress", l      # no result document
PY

cancelled lines "$tmpdir/h.tar" "get --tar to a file" -- \
    "$CDP" get k --at "$at" /h --tar --output "$tmpdir/h.tar" --json --progress
[ ! -e "$tmpdir/h.tar" ] || fail "a cancelled get --tar left its file"

cancelled bytes $((1 << 20)) "get --tar to standard output" -- \
    "$CDP" get k --at "$at" /h --tar --output -
[ "$(tail -n 1 "$tmpdir/held")" -lt $((1 << 30)) ] ||
    fail "the archive went on after the cancel: $(tail -n 1 "$tmpdir/held") bytes"

cdp get k --at "$at" /t --output "$tmpdir/after" 2>/dev/null || fail "get after the cancels"
tree_same "$src/t" "$tmpdir/after" "get after the cancels"
stop_cdp_serve
