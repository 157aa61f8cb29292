#!/usr/bin/env bash
# When the reader of cdp get --tar --output - goes away in the middle
# (a page closed its download, head read enough), get ends at once with
# one line and exit 1: it neither hangs on its sandboxed reader nor dies
# silently of SIGPIPE.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/../files/functions.sh"
requires head timeout

files_task r 64M
mkdir -p "$tmpdir/src/d"
head -c $((8 << 20)) /dev/urandom >"$tmpdir/src/d/big"
echo after >"$tmpdir/src/d/zz"
ext4_image "$tmpdir/fs.img" "$tmpdir/src" 32M
at=$(put_disk r "$tmpdir/fs.img")

set +o pipefail
timeout 60 "$CDP" get r --at "$at" /d --tar --output - 2>"$tmpdir/err" | head -c 1000 >/dev/null
rc=${PIPESTATUS[0]}
set -o pipefail
[ "$rc" -eq 1 ] || fail "get --tar with its reader gone exited $rc: $(cat "$tmpdir/err")"
[ "$(wc -l <"$tmpdir/err")" -eq 1 ] && grep -q 'Broken pipe' "$tmpdir/err" ||
    fail "get --tar with its reader gone: $(cat "$tmpdir/err")"
stop_cdp_serve
