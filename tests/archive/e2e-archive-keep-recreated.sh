#!/usr/bin/env bash
# Points kept with task delete --keep-archive stay when a task of the
# same name is created again on the same store: its serve prunes only
# what it pushed itself (the keep policy and the task's pins are the new
# task's), and its task delete forgets only those.
source "$(dirname "$0")/../e2e/functions.sh"
requires nbdcopy truncate dd python3

rx=$tmpdir/rx.sock
arch=$tmpdir/arch
points ()
{
    cdp archive list "$arch" m --json | python3 -c '
import json, sys
for t in json.load(sys.stdin)["tasks"]:
    for p in t["points"]:
        print("%s:%s" % (p["kind"], p.get("label", p["time"])))'
}
has_point () { points | grep -q "$1"; }
idle ()
{
    cdp status m --json | python3 -c '
import json, sys
sys.exit(json.load(sys.stdin)["tasks"][0]["archive"]["state"] != "idle")'
}
feed ()
{
    wait_for 20 "the receiver's socket" test -S "$rx"
    truncate -s 8M "$tmpdir/src.img"
    dd if=/dev/urandom of="$tmpdir/src.img" bs=1M count=3 conv=notrunc status=none
    nbdcopy -- "$tmpdir/src.img" "nbd+unix:///disk0?socket=$rx"
}

cdp task create m --size 8M --listen "unix:$rx" --archive "$arch"
start_cdp_serve
feed
cdp mark m --label OLD >/dev/null
wait_for 60 "bookmark OLD archived" has_point bookmark:OLD
cdp task delete m --keep-archive >/dev/null
old=$(points | tr '\n' ' ')

cdp task create m --size 8M --listen "unix:$rx" --archive "$arch" \
    --keep-daily 1 --keep-weekly 0 --keep-monthly 0
feed
cdp mark m --label NEW >/dev/null
wait_for 60 "bookmark NEW archived" has_point bookmark:NEW
# The new task's prune has run once its bookmark was archived.
wait_for 60 "serve idle" idle
for p in $old; do
    points | grep -qx "$p" || fail "point $p kept by --keep-archive was let go: $(points | tr '\n' ' ')"
done
cdp task delete m >/dev/null
for p in $old; do
    points | grep -qx "$p" || fail "task delete of the new task forgot $p"
done
points | grep -q bookmark:NEW && fail "task delete left the new task's point"
stop_cdp_serve
