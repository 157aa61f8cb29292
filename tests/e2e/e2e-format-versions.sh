#!/usr/bin/env bash
# Every on-disk format carries a version checked on open.  The JSON files
# of a task written before versions existed (no "version") are read as
# version 1 and get one when next written; a newer version of a JSON
# file, of the index (meta format_version) or of a journal segment
# header (its CRC intact) is refused with one line naming it, never read
# as damage or as empty, and refusing changes nothing.
source "$(dirname "$0")/functions.sh"
requires qemu-io python3 mdb_dump mdb_load

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
tdir=$CDP_STORE/tasks/v
cdp task create v --size 8M --listen "unix:$rx"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
qemu-io -f raw -c "write -P 3 0 256k" "$uri" >/dev/null || fail "qemu-io"
cdp fold v >/dev/null || fail "cdp fold"
cdp lock v --at now >/dev/null || fail "cdp lock"
stop_cdp_serve

# json_set FILE KEY VALUE|-: set (or with -, remove) a top-level key.
json_set ()
{
    python3 - "$@" <<'PY'
import json, sys
path, key, value = sys.argv[1:]
d = json.load(open(path))
if value == "-":
    d.pop(key, None)
else:
    d[key] = json.loads(value)
json.dump(d, open(path, "w"))
PY
}
version_of () { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("version"))' "$1"; }

files=("$tdir/task.json" "$tdir/locks.json" "$tdir/base/catalog.json")
for f in "${files[@]}"; do
    [ "$(version_of "$f")" = 1 ] || fail "$f has no version 1"
done

# Files from before versions: read as version 1.
for f in "${files[@]}"; do json_set "$f" version -; done
cdp task show v >/dev/null || fail "task show of an unversioned task.json"
cdp points v --json | python3 -c '
import json, sys
pts = json.load(sys.stdin)["points"]
assert any(p["locked"] for p in pts) and any(p["kind"] == "base" for p in pts), pts
' || fail "points of unversioned files"
start_cdp_serve
grep -q refused "$serve_log" && fail "an unversioned task was refused"
wait_for 20 "the receiver's socket" test -S "$rx"
qemu-io -f raw -c "write -P 4 0 64k" "$uri" >/dev/null || fail "qemu-io"
cdp lock v --at now >/dev/null || fail "cdp lock"
stop_cdp_serve
[ "$(version_of "$tdir/locks.json")" = 1 ] || fail "locks.json was rewritten without a version"

# Newer JSON files: refused, naming the file (task.json is at version 2
# when a disk was resized).
for f in "${files[@]}"; do
    cp "$f" "$tmpdir/saved.json"
    newer=2
    [ "$f" != "$tdir/task.json" ] || newer=3
    json_set "$f" version $newer
    serve_once "$tmpdir/serve2.log"
    grep -q "task v refused: .*${f#$tdir/}: written by a newer cdp" "$tmpdir/serve2.log" ||
        fail "serve does not name the newer $f: $(cat "$tmpdir/serve2.log")"
    [ "$(version_of "$f")" = $newer ] || fail "refusing rewrote $f"
    cp "$tmpdir/saved.json" "$f"
done
json_set "$tdir/task.json" version 3
expect_error 1 'task.json: written by a newer cdp' cdp task show v
cdp status --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["tasks"][0]
assert "newer cdp" in t["error"], t' || fail "status of a newer task.json"
json_set "$tdir/task.json" version 1

# The index: a newer format_version in its meta database.
mdb_dump -s meta "$tdir/index" >"$tmpdir/meta.dump"
grep -q "$(printf 'format_version' | od -An -tx1 | tr -d ' \n')" "$tmpdir/meta.dump" ||
    fail "the index has no format_version: $(cat "$tmpdir/meta.dump")"
sed -n '1,/HEADER=END/p' "$tmpdir/meta.dump" | grep -v '^db_pagesize=' >"$tmpdir/meta.load"
printf ' %s\n 0200000000000000\nDATA=END\n' \
    "$(printf 'format_version' | od -An -tx1 | tr -d ' \n')" >>"$tmpdir/meta.load"
mdb_load -s meta -f "$tmpdir/meta.load" "$tdir/index" || fail "mdb_load"
expect_error 1 'index format version 2 is newer than this cdp' \
    cdp export v --at now --listen "unix:$tmpdir/x.sock" --run true
serve_once "$tmpdir/serve3.log"
grep -q 'task v refused: .*index format version 2 is newer' "$tmpdir/serve3.log" ||
    fail "serve with a newer index: $(cat "$tmpdir/serve3.log")"
[ -f "$tdir/index/data.mdb" ] || fail "the newer index was removed"
rm "$tdir/index/data.mdb" "$tdir/index/lock.mdb"     # rebuilt from the journal

# A journal segment header of a newer version, its CRC recomputed.
seg=$tdir/journal/$(ls "$tdir/journal" | grep '^seg-' | sort | sed -n 1p)
python3 - "$seg" <<'PY'
import struct, sys
def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82f63b78 if crc & 1 else crc >> 1
    return crc ^ 0xffffffff
with open(sys.argv[1], "r+b") as f:
    h = bytearray(f.read(128))
    struct.pack_into("<I", h, 8, 2)
    struct.pack_into("<I", h, 12, 0)
    struct.pack_into("<I", h, 12, crc32c(bytes(h)))
    f.seek(0)
    f.write(h)
PY
expect_error 1 'format version 2 is newer than this cdp' cdp points v
