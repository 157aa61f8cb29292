#!/usr/bin/env bash
# cdp serve archives a task's points in the background: its first base
# point at once, then each bookmark; cdp status shows the archive's
# state, points and lag.  A push slowed by --archive-bandwidth does not
# hold serve's stop (it is cancelled, no point is listed), and the next
# serve archives the point.  task set --archive none stops archiving.
source "$(dirname "$0")/../e2e/functions.sh"
requires nbdcopy truncate dd cmp python3
: "${ARCHIVE_DUMP:?}"

rx=$tmpdir/rx.sock
arch=$tmpdir/arch
cdp task create m --size 32M --listen "unix:$rx"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"

src=$tmpdir/src.img
truncate -s 32M "$src"
dd if=/dev/urandom of="$src" bs=1M seek=1 count=10 conv=notrunc status=none
nbdcopy -- "$src" "nbd+unix:///disk0?socket=$rx"
cdp fold m >/dev/null
# The archive, given to the task while it is served, is taken up live.
cdp task set m --archive "$arch" | grep -q "cdp serve runs by it now" ||
    fail "task set --archive was not applied live"
cdp task show m | grep -q "^archive: *$arch, keeping 30 daily, 12 weekly, 12 monthly" ||
    fail "task show: $(cdp task show m)"

# archive (task status) as JSON, with the newest base point beside it.
archive_status ()
{
    cdp status m --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["tasks"][0]
a = t["archive"]
a["base_point"] = t["disks"][0]["base_point"]
print(json.dumps(a))'
}
archived_base ()
{
    archive_status | python3 -c '
import json, sys
a = json.load(sys.stdin)
sys.exit(not (a["state"] == "idle" and a["points"] >= 1 and
              a["newest"] is not None and a["newest"] == a["base_point"]))'
}
wait_for 120 "serve to archive the first base point" archived_base
archive_status | python3 -c '
import json, sys
a = json.load(sys.stdin)
assert a["location"] == sys.argv[1] and a["lag_s"] == 0, a
assert a["error"] is None and a["pushing"] is None, a' "$arch"
cdp status m | grep -Eq "^  archive $arch: idle, 1 point, newest " ||
    fail "status: $(cdp status m)"
base=$(archive_status | python3 -c 'import json,sys; print(json.load(sys.stdin)["newest"])')
cdp archive list "$arch" m --json | python3 -c '
import json, sys
[p] = json.load(sys.stdin)["tasks"][0]["points"]
assert p["kind"] == "base" and p["time"] == sys.argv[1], p' "$base"
"$ARCHIVE_DUMP" "$arch" m "$base" disk0 "$tmpdir/back.img"
same "$tmpdir/back.img" "$src" "the base point serve archived"

# 16 MiB more of new data, a bookmark, and a push bounded to 64 KiB/s:
# it would take minutes.
cdp task set m --archive-bandwidth 64K | grep -q 'archive-bandwidth 104857600 -> 65536' ||
    fail "task set did not say the change"
dd if=/dev/urandom of="$src" bs=1M seek=12 count=16 conv=notrunc status=none
nbdcopy -- "$src" "nbd+unix:///disk0?socket=$rx"
cdp mark m --label slow >/dev/null
pushing ()
{
    archive_status | python3 -c '
import json, sys
a = json.load(sys.stdin)
sys.exit(not (a["state"] == "pushing" and a["pushing"]["total"] == 32 << 20
              and a["lag_s"] is not None))'
}
wait_for 60 "serve to push the bookmark" pushing
cdp status m | grep -Eq "^  archive $arch: pushing the point at " ||
    fail "status: $(cdp status m)"
# The lag: the age of the bookmark, due and not archived yet.
lagging ()
{
    archive_status | python3 -c '
import json, sys
a = json.load(sys.stdin)
sys.exit(not (a["state"] == "pushing" and a["lag_s"] >= 2))'
}
wait_for 60 "status to show the archive's lag" lagging
cdp status m | grep -Eq "^  archive $arch: pushing .*, lag [0-9]" ||
    fail "status: $(cdp status m)"

# SIGTERM: serve stops without waiting for the push (which has minutes
# to go: the bound below is for a loaded machine, not the measure).
kill -TERM "$serve_pid"
stopped_at=$(date +%s)
reap "$serve_pid" || fail "cdp serve did not stop cleanly"
(( $(date +%s) - stopped_at < 60 )) ||
    fail "serve's stop waited for the push in progress"
[ "$(cdp archive list "$arch" m --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["tasks"][0]["points"]))')" = 1 ] ||
    fail "a cancelled push left a point"
cdp status m --json | python3 -c '
import json, sys
a = json.load(sys.stdin)["tasks"][0]["archive"]
assert a["state"] == "not served", a'

# The next serve, unbounded, archives the bookmark.
cdp task set m --archive-bandwidth 0 >/dev/null
start_cdp_serve
has_bookmark ()
{
    cdp archive list "$arch" m --json | python3 -c '
import json, sys
ps = json.load(sys.stdin)["tasks"][0]["points"]
sys.exit(not any(p["kind"] == "bookmark" and p.get("label") == "slow" for p in ps))'
}
wait_for 120 "serve to archive the bookmark" has_bookmark
bm=$(cdp archive list "$arch" m --json | python3 -c '
import json, sys
print([p["time"] for p in json.load(sys.stdin)["tasks"][0]["points"] if p["kind"] == "bookmark"][0])')
"$ARCHIVE_DUMP" "$arch" m "$bm" disk0 "$tmpdir/back.img"
same "$tmpdir/back.img" "$src" "the bookmark serve archived"

# No archive any more: serve stops archiving, status says none.
cdp task set m --archive none | grep -q "archive $arch -> none" ||
    fail "task set --archive none did not say so"
cdp status m --json | python3 -c '
import json, sys
assert json.load(sys.stdin)["tasks"][0]["archive"] is None'
wait_for 20 "serve to stop archiving" grep -q 'task m: no longer archived' "$serve_log"
cdp task show m | grep -q '^archive: *none' || fail "task show: $(cdp task show m)"
stop_cdp_serve
