#!/usr/bin/env bash
# cdp serve killed (SIGKILL) in the middle of archiving a point leaves
# no point in the archive; the next serve archives it, uploading only
# the chunks the killed one had not, and it reads back byte for byte.
source "$(dirname "$0")/../e2e/functions.sh"
requires nbdcopy truncate dd cmp python3 find
: "${ARCHIVE_DUMP:?}"

rx=$tmpdir/rx.sock
arch=$tmpdir/arch
cdp task create m --size 64M --listen "unix:$rx" --archive "$arch" \
    --archive-bandwidth 1M
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
src=$tmpdir/src.img
truncate -s 64M "$src"
nbdcopy -- "$src" "nbd+unix:///disk0?socket=$rx"   # zeroes: a first base point
wait_for 60 "serve to archive the first base point" \
    grep -q 'task m: archived the base point' "$serve_log"

dd if=/dev/urandom of="$src" bs=1M count=48 conv=notrunc status=none
nbdcopy -- "$src" "nbd+unix:///disk0?socket=$rx"
cdp mark m --label big >/dev/null
chunks ()
{
    { find "$arch/chunks" -type f -regextype posix-extended \
          -regex '.*/[0-9a-f]{64}' 2>/dev/null || :; } | wc -l
}
before=$(chunks)
uploaded () { [ "$(chunks)" -ge $((before + 3)) ]; }
wait_for 120 "serve to upload 3 chunks of the bookmark" uploaded
kill_cdp_serve
have=$(( $(chunks) - before ))
[ "$have" -lt 12 ] || fail "serve was not killed half way ($have chunks)"
cdp archive list "$arch" m --json | python3 -c '
import json, sys
ps = json.load(sys.stdin)["tasks"][0]["points"]
assert all(p["kind"] != "bookmark" for p in ps), ps' ||
    fail "a killed push left a point"

cdp task set m --archive-bandwidth 0 >/dev/null
: >"$serve_log"
start_cdp_serve
wait_for 120 "the next serve to archive the bookmark" \
    grep -q 'task m: archived the bookmark point' "$serve_log"
line=$(grep 'task m: archived the bookmark point' "$serve_log")
new=$(sed -E 's/.*: [0-9]+ chunks, ([0-9]+) new .*/\1/' <<<"$line")
[ "$new" -eq $((12 - have)) ] ||
    fail "the push after the kill uploaded $new chunks, not the $((12 - have)) missing: $line"
bm=$(cdp archive list "$arch" m --json | python3 -c '
import json, sys
print([p["time"] for p in json.load(sys.stdin)["tasks"][0]["points"] if p["kind"] == "bookmark"][0])')
"$ARCHIVE_DUMP" "$arch" m "$bm" disk0 "$tmpdir/back.img"
same "$tmpdir/back.img" "$src" "the bookmark archived after the kill"
stop_cdp_serve
