#!/usr/bin/env bash
# --at T on a task whose store no longer has T reads the point from the
# task's archive: a point pushed with --at, then the journal under it
# reclaimed by retention (--journal-retention 2s, a base point a second,
# segments rolled by more writes).  cdp points lists it as kind
# "archive", a local point also archived gets "archived": true, the
# timeline has it in "archive"; export, restore and verify --at read
# it, and a T neither local nor archived is refused naming the nearest
# archived points.
source "$(dirname "$0")/../e2e/functions.sh"
source "$(dirname "$0")/reading.sh"

arch=$tmpdir/archive
archive_task p 4M --segment-size 4M --bp-interval 1s --journal-retention 2s \
    --archive "$arch"

a=$tmpdir/a.img
head -c 4M /dev/urandom >"$a"
put_image p "$a" >/dev/null
t=$(now)
t=$(archive_push p --at "$t")
[ "$(archive_state p "$t")" = "archive True" ] ||
    fail "the pushed point is not listed as archived and local: $(archive_state p "$t")"
wait_archived_only p "$t"
cdp points p | grep -E "^$t +archive" || fail "the text list lacks the archived point"

# A local point also archived: the newest base point, pushed.
b=$(push_point p "$arch")
cdp points p --json | python3 -c '
import json, sys
ps = {p["time"]: p for p in json.load(sys.stdin)["points"]}
p = ps[sys.argv[1]]
assert p["kind"] == "base" and p["archived"] is True, p
assert all(q["archived"] is False for q in ps.values()
           if q["kind"] == "second"), "a second point is not archived"
' "$b" || fail "the pushed base point $b is not listed as archived"
cdp points p --bucket 1m --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
a = {p["time"]: p for p in d["archive"]}
assert a[sys.argv[1]]["local"] is False, a
# serve archives the task too (its archiver): maybe an older point.
assert d["retention"]["oldest_archived"] <= sys.argv[1], d["retention"]
' "$t" || fail "the timeline lacks the archived point"

export_to p "$t" "$tmpdir/export.img" || fail "export --at an archived point"
same "$tmpdir/export.img" "$a" "export of the archived point"
cdp restore p --at "$t" --output "$tmpdir/restore.img" || fail "restore --at an archived point"
same "$tmpdir/restore.img" "$a" "restore of the archived point"
cdp verify p --at "$t" --json >"$tmpdir/verify.json" ||
    fail "verify --at an archived point: $(cat "$tmpdir/verify.json")"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["result"] == "clean" and d["archive"] == sys.argv[2], d
assert d["checked"]["chunks"] == 1 and d["checked"]["points"] == 1, d
' "$tmpdir/verify.json" "$arch" || fail "verify --json: $(cat "$tmpdir/verify.json")"

older=$(python3 -c '
import sys
from datetime import datetime, timedelta, timezone
t = datetime.strptime(sys.argv[1][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
print((t - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$t")
expect_error 1 "no recovery point at .*nearest archived point is [-0-9T:.]+Z \(newer\)" \
    cdp restore p --at "$older" --output "$tmpdir/no.img"
stop_cdp_serve
