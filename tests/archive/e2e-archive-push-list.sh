#!/usr/bin/env bash
# cdp archive push and list: a point of a manual task fed by nbdcopy is
# archived (text and --json), listed (text and --json) and reads back
# byte for byte; a second point, after part of the disk was rewritten,
# uploads only the chunks that changed, and a push of a point archived
# already uploads nothing.
source "$(dirname "$0")/../e2e/functions.sh"
requires nbdcopy truncate dd cmp python3
: "${ARCHIVE_DUMP:?}"

rx=$tmpdir/rx.sock
arch=$tmpdir/arch
cdp task create m --size 64M --listen "unix:$rx"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"

# 64 MiB = 16 chunks: 6 random, 2 of zero bytes written, the rest holes.
src=$tmpdir/src.img
truncate -s 64M "$src"
dd if=/dev/urandom of="$src" bs=1M seek=4 count=24 conv=notrunc status=none
dd if=/dev/zero of="$src" bs=1M seek=40 count=8 conv=notrunc status=none
nbdcopy -- "$src" "nbd+unix:///disk0?socket=$rx"
cdp fold m

expect_error 2 'no archive' cdp archive push m
cdp archive push m --archive "$arch" >"$tmpdir/push1.txt"
grep -Eq '^archived m at [0-9T:.-]+Z: 16 chunks, 6 new \([0-9.]+ MiB stored\), 10 zero$' \
    "$tmpdir/push1.txt" || fail "push said: $(cat "$tmpdir/push1.txt")"

cdp archive list "$arch" >"$tmpdir/list.txt"
grep -q '^m:$' "$tmpdir/list.txt" || fail "list: $(cat "$tmpdir/list.txt")"
grep -Eq '^  [0-9T:.-]+Z  push +disk0 64.0 MiB  stored' "$tmpdir/list.txt" ||
    fail "list: $(cat "$tmpdir/list.txt")"
cdp archive list "$arch" m --json >"$tmpdir/list.json"
t1=$(python3 - "$tmpdir/list.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert list(d)[0] == "version", d
[task] = d["tasks"]
assert task["name"] == "m", task
[p] = task["points"]
assert p["kind"] == "push" and p["disks"] == [
    {"name": "disk0", "size": 64 << 20, "chunks": 16}], p
assert p["stored_bytes"] >= 24 << 20, p
print(p["time"])
PY
)
"$ARCHIVE_DUMP" "$arch" m "$t1" disk0 "$tmpdir/back1.img"
same "$tmpdir/back1.img" "$src" "the archived point read back"

# Rewrite 3 MiB across the border of chunks 5 and 6 and 1 MiB in chunk 12:
# 3 chunks change, the archive holds the other 13.
cp "$src" "$tmpdir/src2.img"
dd if=/dev/urandom of="$tmpdir/src2.img" bs=1M seek=22 count=3 conv=notrunc status=none
dd if=/dev/urandom of="$tmpdir/src2.img" bs=1M seek=49 count=1 conv=notrunc status=none
nbdcopy -- "$tmpdir/src2.img" "nbd+unix:///disk0?socket=$rx"
t2=$(now)
cdp archive push m --at "$t2" --archive "$arch" --json >"$tmpdir/push2.json"
python3 - "$tmpdir/push2.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert list(d)[0] == "version", d
assert d["task"] == "m" and d["kind"] == "push" and not d["already"], d
assert d["chunks"] == 16 and d["zero_chunks"] == 9, d
assert d["new_chunks"] == 3, d
assert 3 << 20 <= d["new_bytes"] <= 3 * (4 << 20) + 4096, d
PY
t2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["time"])' "$tmpdir/push2.json")
"$ARCHIVE_DUMP" "$arch" m "$t2" disk0 "$tmpdir/back2.img"
same "$tmpdir/back2.img" "$tmpdir/src2.img" "the second point read back"
"$ARCHIVE_DUMP" "$arch" m "$t1" disk0 "$tmpdir/back1.img"
same "$tmpdir/back1.img" "$src" "the first point after the second push"

# Once more: archived already, nothing uploaded.
cdp archive push m --at "$t2" --archive "$arch" --json >"$tmpdir/push3.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["already"] and d["new_chunks"] == 0, d' \
    "$tmpdir/push3.json"
cdp archive push m --at "$t2" --archive "$arch" | grep -q 'archived already' ||
    fail "a second push of the same point does not say it is archived already"
[ "$(cdp archive list "$arch" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["tasks"][0]["points"]))')" = 2 ] ||
    fail "the archive should hold 2 points"

expect_error 1 'no archive at' cdp archive list "$tmpdir/nothing"
expect_error 2 'not a task name' cdp archive list "$arch" 'a/b'
expect_error 2 'not an S3 bucket' cdp archive push m --archive 's3://A'
stop_cdp_serve
