#!/usr/bin/env bash
# A push killed (SIGKILL) in the middle of its upload leaves no point;
# the next push uploads only the chunks that are missing and the point
# reads back byte for byte.  A push cancelled with SIGTERM says so in
# one line and leaves no point either.
source "$(dirname "$0")/../e2e/functions.sh"
requires nbdcopy truncate dd cmp python3 find
: "${ARCHIVE_DUMP:?}"

rx=$tmpdir/rx.sock
arch=$tmpdir/arch
cdp task create m --size 64M --listen "unix:$rx" --archive "$arch" \
    --archive-bandwidth 1M
start_cdp_serve m
wait_for 20 "the receiver's socket" test -S "$rx"
src=$tmpdir/src.img
truncate -s 64M "$src"
dd if=/dev/urandom of="$src" bs=1M count=48 conv=notrunc status=none
nbdcopy -- "$src" "nbd+unix:///disk0?socket=$rx"
# The serve's own archiving is not what this test looks at.
cdp task set m --archive none >/dev/null
stop_cdp_serve
cdp task set m --archive "$arch" --archive-bandwidth 1M >/dev/null
t=$(now)

chunks ()
{
    { find "$arch/chunks" -type f -regextype posix-extended \
          -regex '.*/[0-9a-f]{64}' 2>/dev/null || :; } | wc -l
}
chunks_at_least () { [ "$(chunks)" -ge "$1" ]; }
no_points ()
{
    [ ! -e "$arch/cdp-archive.json" ] ||
        cdp archive list "$arch" | grep -q 'holds no points'
}

# SIGTERM: cancelled, one line, no point.
"$CDP" archive push m --at "$t" 2>"$tmpdir/cancel.err" &
pid=$!
pids+=("$pid")
wait_for 60 "the push to upload a chunk" chunks_at_least 1
kill -TERM "$pid"
rc=0; reap "$pid" || rc=$?
[ "$rc" -eq 1 ] || fail "a cancelled push exited $rc"
[ "$(wc -l <"$tmpdir/cancel.err")" -eq 1 ] &&
    grep -q 'cancelled' "$tmpdir/cancel.err" ||
    fail "cancel: $(cat "$tmpdir/cancel.err")"
no_points || fail "a cancelled push left a point"

# SIGKILL half way (1 MiB/s, 48 MiB of data).
"$CDP" archive push m --at "$t" >/dev/null 2>&1 &
pid=$!
pids+=("$pid")
wait_for 120 "the push to upload 4 chunks" chunks_at_least 4
kill -KILL "$pid"
reap "$pid" || :
no_points || fail "a killed push left a point"
have=$(chunks)
[ "$have" -lt 12 ] || fail "the push was not killed half way ($have chunks)"

cdp archive push m --at "$t" --archive-bandwidth 0 --json >"$tmpdir/push.json"
python3 - "$tmpdir/push.json" "$have" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
have = int(sys.argv[2])
assert d["chunks"] == 16 and d["zero_chunks"] == 4, d
assert d["new_chunks"] == 12 - have, (d, have)
PY
[ "$(chunks)" -eq 12 ] || fail "the archive holds $(chunks) chunks, not 12"
time=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["time"])' "$tmpdir/push.json")
"$ARCHIVE_DUMP" "$arch" m "$time" disk0 "$tmpdir/back.img"
same "$tmpdir/back.img" "$src" "the point pushed again after a kill"
