#!/usr/bin/env bash
# A task's archive directory that held its points goes away (an
# unmounted file system): cdp points fails in one line saying so rather
# than listing no archived point; back in place, the points are listed.
# An archive never made yet (no push so far) lists nothing, quietly.
source "$(dirname "$0")/../e2e/functions.sh"
requires nbdcopy truncate dd python3

rx=$tmpdir/rx.sock
arch=$tmpdir/arch
cdp task create m --size 8M --listen "unix:$rx" --archive "$arch"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
cdp points m >/dev/null || fail "points of a task whose archive is not made yet"
src=$tmpdir/src.img
truncate -s 8M "$src"
dd if=/dev/urandom of="$src" bs=1M count=2 conv=notrunc status=none
nbdcopy -- "$src" "nbd+unix:///disk0?socket=$rx"
cdp fold m >/dev/null
archived ()
{
    cdp status m --json | python3 -c '
import json, sys
a = json.load(sys.stdin)["tasks"][0]["archive"]
sys.exit(not (a["state"] == "idle" and a["points"] >= 1))'
}
wait_for 120 "serve to archive the first base point" archived
stop_cdp_serve
cdp points m | grep -q "(archived)" || fail "no archived point listed: $(cdp points m)"

mv "$arch" "$tmpdir/elsewhere"
expect_error 1 "archive $arch is gone .*is it mounted" cdp points m
expect_error 1 "archive $arch is gone" cdp points m --json

mv "$tmpdir/elsewhere" "$arch"
cdp points m | grep -q "(archived)" || fail "no archived point listed once back: $(cdp points m)"
echo "ok"
