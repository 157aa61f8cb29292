#!/usr/bin/env bash
# cdp restore --json --progress writes JSON Lines on stdout and nothing
# else: progress lines of phase "copy" in bytes, "version" first, done
# never going back, the first at 0 and the last at the point's size,
# then the result document (no "event") with the members docs/JSON.md
# lists; --json alone prints that document only.  The image is the
# point.
source "$(dirname "$0")/functions.sh"
requires python3 nbdcopy qemu-img dd truncate

rx=$tmpdir/rx.sock
cdp task create r --size 64M --listen "unix:$rx"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
ref=$tmpdir/ref.img
truncate -s 64M "$ref"
dd if=/dev/urandom of="$ref" bs=1M seek=3 count=40 conv=notrunc status=none
nbdcopy -- "$ref" "nbd+unix:///disk0?socket=$rx"
t=$(now)
stop_cdp_serve

cdp restore r --at "$t" --output "$tmpdir/p.qcow2" --json --progress \
    >"$tmpdir/out" 2>"$tmpdir/err" ||
    fail "restore --json --progress: $(cat "$tmpdir/err")"
[ ! -s "$tmpdir/err" ] || fail "restore --json wrote on stderr: $(cat "$tmpdir/err")"
python3 - "$tmpdir/out" "$tmpdir/p.qcow2" <<'PY' || fail "the stream: $(cat "$tmpdir/out")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) >= 3, lines
docs = [json.loads(l) for l in lines]
for d in docs:
    assert list(d)[0] == "version" and d["version"] == 1, d
*progress, result = docs
done = -1
for p in progress:
    assert list(p) == ["version", "event", "phase", "done", "total", "unit"], p
    assert p["event"] == "progress" and p["phase"] == "copy", p
    assert p["unit"] == "bytes" and p["total"] == 64 << 20, p
    assert p["done"] >= done, ("went back", p)
    done = p["done"]
assert progress[0]["done"] == 0, progress[0]
assert progress[-1]["done"] == 64 << 20, progress[-1]
assert "event" not in result, result
want = {"version", "task", "disk", "at", "output", "format", "device", "size",
        "bytes_written", "seconds"}
assert want <= set(result), result
assert result["task"] == "r" and result["disk"] == "disk0", result
assert result["output"] == sys.argv[2] and result["format"] == "qcow2", result
assert result["device"] is False and result["size"] == 64 << 20, result
assert 40 << 20 <= result["bytes_written"] <= 64 << 20, result
assert result["at"].endswith("Z") and "T" in result["at"], result
PY
qemu-img compare -q -f raw -F qcow2 "$ref" "$tmpdir/p.qcow2" ||
    fail "the image is not the point"

# The document's time names the point: given back to --at, the same image.
at=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["at"])' "$tmpdir/out")
cdp restore r --at "$at" --output "$tmpdir/q.img" --json >"$tmpdir/out2" 2>"$tmpdir/err" ||
    fail "restore --json: $(cat "$tmpdir/err")"
python3 - "$tmpdir/out2" <<'PY' || fail "--json alone: $(cat "$tmpdir/out2")"
import json, sys
text = open(sys.argv[1]).read()
d = json.loads(text)                # one document, nothing else
assert list(d)[0] == "version" and "event" not in d, d
assert d["format"] == "raw" and d["size"] == 64 << 20, d
PY
cmp "$ref" "$tmpdir/q.img" || fail "the raw image at the document's time differs"

# --progress without --json: lines for people on stderr, stdout empty.
cdp restore r --at "$t" --output "$tmpdir/h.img" --progress >"$tmpdir/out3" 2>"$tmpdir/err" ||
    fail "restore --progress: $(cat "$tmpdir/err")"
[ ! -s "$tmpdir/out3" ] || fail "restore --progress wrote on stdout: $(cat "$tmpdir/out3")"
grep -q '^cdp restore: copy 100%' "$tmpdir/err" ||
    fail "no progress for people on stderr: $(cat "$tmpdir/err")"
