#!/usr/bin/env bash
# cdp get --json --progress streams JSON Lines (docs/JSON.md): progress
# lines of phase "copy" in bytes, from 0 to the bytes written, with the
# total known for one file and null for a tree, then the result document
# last.  --progress alone draws on stderr and leaves stdout to the data:
# an archive on standard output stays a clean archive.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/../files/functions.sh"

files_task g 128M
src=$tmpdir/src
mkdir -p "$src/tree/sub"
head -c $((40 << 20)) /dev/urandom >"$src/tree/big"
echo small >"$src/tree/sub/small"
ext4_image "$tmpdir/fs.img" "$src" 100M
at=$(put_disk g "$tmpdir/fs.img")

# stream FILE TOTAL BYTES: FILE is progress lines then the result.
stream ()
{
    python3 - "$@" <<'PY' || fail "the progress stream: $(head -c 2000 "$1")"
import json, sys
f, total, nbytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = [json.loads(l, object_pairs_hook=lambda p: p) for l in open(f).read().splitlines()]
assert len(lines) >= 3, lines
*progress, result = lines
done = -1
for l in progress:
    assert l[0] == ("version", 1), l
    d = dict(l)
    assert (d["event"], d["phase"], d["unit"]) == ("progress", "copy", "bytes"), d
    assert d["total"] == (None if total == "null" else int(total)), d
    assert d["done"] >= done, (d, done)
    done = d["done"]
assert dict(progress[0])["done"] == 0 and done == nbytes, (progress[0], done)
assert result[0] == ("version", 1) and "event" not in dict(result), result
assert dict(result)["bytes"] == nbytes, result
PY
}

cdp get g --at "$at" /tree --output "$tmpdir/t1" --json --progress >"$tmpdir/s1" ||
    fail "get --json --progress of a tree"
stream "$tmpdir/s1" null $(((40 << 20) + 6))
cdp get g --at "$at" /tree/big --output "$tmpdir/t2" --json --progress >"$tmpdir/s2" ||
    fail "get --json --progress of a file"
stream "$tmpdir/s2" $((40 << 20)) $((40 << 20))
cdp get g --at "$at" /tree --tar --output "$tmpdir/t3.tar" --json --progress >"$tmpdir/s3" ||
    fail "get --tar --json --progress"
stream "$tmpdir/s3" null $(((40 << 20) + 6))

# For people: lines on stderr, nothing on stdout but the data.
cdp get g --at "$at" /tree --output "$tmpdir/t4" --progress >"$tmpdir/out" 2>"$tmpdir/err" ||
    fail "get --progress: $(cat "$tmpdir/err")"
[ ! -s "$tmpdir/out" ] || fail "get --progress wrote on stdout: $(cat "$tmpdir/out")"
grep -q '^cdp get: copy ' "$tmpdir/err" || fail "no progress on stderr: $(cat "$tmpdir/err")"
cdp get g --at "$at" /tree --tar --output - --progress 2>"$tmpdir/err" >"$tmpdir/t5.tar" ||
    fail "get --tar --output - --progress: $(cat "$tmpdir/err")"
cmp "$tmpdir/t5.tar" "$tmpdir/t3.tar" || fail "progress got into the archive on stdout"
grep -q '^cdp get: copy ' "$tmpdir/err" || fail "no progress on stderr: $(cat "$tmpdir/err")"
stop_cdp_serve
