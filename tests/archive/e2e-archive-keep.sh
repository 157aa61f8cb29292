#!/usr/bin/env bash
# serve prunes a task's archived points by its keep policy, locks and
# bookmarks pinned.  With --keep-daily 1 (weekly and monthly 0) only the
# newest point of today stays besides them: a base point is let go once
# a bookmark is archived after it, a point pushed by hand once a newer
# bookmark is, and a lock's point once it is unlocked.  (Points of
# earlier days cannot be made without waiting for them: which of those
# the policy keeps is archive_keep_select's, tested in archive-keep.c;
# this test shows serve applies it, with its pins.)
source "$(dirname "$0")/../e2e/functions.sh"
requires nbdcopy truncate dd python3

rx=$tmpdir/rx.sock
arch=$tmpdir/arch
cdp task create m --size 8M --listen "unix:$rx" --archive "$arch" \
    --keep-daily 1 --keep-weekly 0 --keep-monthly 0
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
truncate -s 8M "$tmpdir/src.img"
dd if=/dev/urandom of="$tmpdir/src.img" bs=1M count=3 conv=notrunc status=none
nbdcopy -- "$tmpdir/src.img" "nbd+unix:///disk0?socket=$rx"

# The archive's points as "kind:label-or-time" words, oldest first.
points ()
{
    cdp archive list "$arch" m --json | python3 -c '
import json, sys
for t in json.load(sys.stdin)["tasks"]:
    for p in t["points"]:
        print("%s:%s" % (p["kind"], p.get("label", p["time"])))'
}
archived_as () { [ "$(points | tr '\n' ' ')" = "$1" ]; }
time_of () { date -u -d "@${1#@}" +%Y-%m-%dT%H:%M:%S.%NZ; }

wait_for 60 "the base point archived" grep -q 'task m: archived the base point' "$serve_log"
cdp mark m --label A >/dev/null
wait_for 60 "the base point let go for bookmark A" archived_as "bookmark:A "

tl=$(now)
cdp lock m --at "$tl" >/dev/null
tl=$(time_of "$tl")
wait_for 60 "the lock archived" archived_as "bookmark:A lock:$tl "
tp=$(now)
cdp archive push m --at "$tp" >/dev/null
tp=$(time_of "$tp")
archived_as "bookmark:A lock:$tl push:$tp " || fail "points: $(points)"
cdp mark m --label B >/dev/null
wait_for 60 "the pushed point let go for bookmark B" \
    archived_as "bookmark:A lock:$tl bookmark:B "

cdp unlock m --at "$tl" >/dev/null
wait_for 60 "the unlocked point let go" archived_as "bookmark:A bookmark:B "
grep -q "archived point at $tl let go by the keep policy" "$serve_log" ||
    fail "serve did not say it let the unlocked point go"
stop_cdp_serve
