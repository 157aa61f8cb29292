#!/usr/bin/env bash
# A byte flipped in one chunk file of a directory archive: cdp verify
# --archive finds it and exits 1 naming that chunk (text and --json),
# the other chunks check clean; restore of the point refuses to return
# bad data (exit 1, naming the chunk, no output written).  The archive
# checks clean again once the chunk is put back.
source "$(dirname "$0")/../e2e/functions.sh"
source "$(dirname "$0")/reading.sh"

arch=$tmpdir/archive
archive_task d 12M --bp-interval 7d
src=$tmpdir/src.img
head -c 12M /dev/urandom >"$src"
put_image d "$src" >/dev/null
t=$(push_point d "$arch")
stop_cdp_serve
fresh_store

cdp verify --archive "$arch" >"$tmpdir/clean.txt" || fail "verify of a clean archive: $(cat "$tmpdir/clean.txt")"
grep -q ': clean$' "$tmpdir/clean.txt" || fail "$(cat "$tmpdir/clean.txt")"

chunk=$(chunk_of "$src" $((4 << 20)) "$arch")
[ -f "$chunk" ] || fail "no chunk file $chunk: $(find "$arch" -type f | head)"
cp "$chunk" "$tmpdir/chunk.orig"
key=${chunk#"$arch"/}
size=$(stat -c %s "$chunk")
python3 -c '
import sys
f = open(sys.argv[1], "r+b")
f.seek(int(sys.argv[2]))
b = f.read(1)
f.seek(int(sys.argv[2]))
f.write(bytes([b[0] ^ 0x40]))
' "$chunk" $((size / 2))

rc=0
cdp verify --archive "$arch" >"$tmpdir/bad.txt" || rc=$?
[ "$rc" -eq 1 ] || fail "verify of a damaged archive exited $rc: $(cat "$tmpdir/bad.txt")"
grep -q "damaged: chunk .*$(basename "$key")" "$tmpdir/bad.txt" ||
    fail "verify does not name the damaged chunk: $(cat "$tmpdir/bad.txt")"
[ "$(grep -c '^damaged: ' "$tmpdir/bad.txt")" -eq 1 ] ||
    fail "verify names more than the one damaged chunk: $(cat "$tmpdir/bad.txt")"
# The damaged copy is moved aside, so that the next push of that data
# puts it again instead of touching the bad one.
grep -q "moved to bad/" "$tmpdir/bad.txt" || fail "verify does not say where the chunk went: $(cat "$tmpdir/bad.txt")"
[ ! -e "$chunk" ] || fail "the damaged chunk stayed under chunks/"
[ -f "$arch/bad/${key#chunks/}" ] || fail "the damaged chunk is not under bad/"
rc=0
cdp verify --archive "$arch" d --json >"$tmpdir/bad.json" || rc=$?
[ "$rc" -eq 1 ] || fail "verify --json of a damaged archive exited $rc"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == 1 and d["result"] == "damaged", d
assert d["task"] == "d" and d["archive"] == sys.argv[2], d
assert d["checked"]["chunks"] == 3 and d["checked"]["bad_chunks"] == 1, d
assert len(d["damage"]) == 1 and sys.argv[3] in d["damage"][0]["where"], d
assert d["damage"][0]["kind"] == "chunk", d
' "$tmpdir/bad.json" "$arch" "$(basename "$key")" ||
    fail "verify --json: $(cat "$tmpdir/bad.json")"

expect_error 1 "restore of d/disk0 at .* failed.*$(basename "$key")" \
    cdp restore --archive "$arch" d --at "$t" --output "$tmpdir/out.img"
[ ! -e "$tmpdir/out.img" ] || fail "a restore of damaged data wrote its output"
ls "$tmpdir" | grep -q 'out.img.tmp' && fail "a failed restore left its temporary file"

cp "$tmpdir/chunk.orig" "$chunk"
cdp verify --archive "$arch" d >/dev/null || fail "the repaired archive does not check clean"
cdp restore --archive "$arch" d --at "$t" --output "$tmpdir/out.img" ||
    fail "restore from the repaired archive"
same "$tmpdir/out.img" "$src" "restore from the repaired archive"
