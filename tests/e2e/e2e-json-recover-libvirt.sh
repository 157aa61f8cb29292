#!/usr/bin/env bash
# cdp recover --as NEW --json --progress of a libvirt task: stdout is
# JSON Lines only, phase "start" (2 steps: the point locked, the domain
# running), then "stream" in bytes up to the disk's size while the pull
# runs, then the recovery's document: state done, mode as, the new
# domain, the point's time (the bookmark's), the disk and its overlay,
# seconds to ready and to stream, protection not resuming (a clone).
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/libvirt.sh"
source "$(dirname "$0")/recover.sh"
requires mkfs.ext4 cpio modprobe e2fsck ss python3

new=$dom-rec
extra_doms+=("$new")

define_recover_guest
point_at rec-point 2
marked=$(cdp points g --json | python3 -c '
import json, sys
print([p["time"] for p in json.load(sys.stdin)["points"] if p.get("label") == "rec-point"][0])')

overlay=$tmpdir/rec.qcow2
# 16 MiB/s: the pull lasts a few seconds, progress lines among them.
start_recover --at rec-point --to "$overlay" --as "$new" --bandwidth 16 --json --progress
wait_recover
python3 "$e2e_dir/json-doc.py" --stream "$tmpdir/rec.out" task state mode domain at \
    disks[].name disks[].overlay disks[].size ready_s stream_s protection_resumes \
    error >"$tmpdir/d" || fail "recover --json --progress: $(cat "$tmpdir/rec.out")"
python3 - "$tmpdir/d" "$tmpdir/rec.out" "$overlay" "$new" "$marked" <<'PY' ||
import json, sys
d = json.load(open(sys.argv[1]))
lines = [json.loads(l) for l in open(sys.argv[2]).read().splitlines()[:-1]]
start = [p for p in lines if p["phase"] == "start"]
stream = [p for p in lines if p["phase"] == "stream"]
assert start and stream and lines == start + stream, lines
assert start[-1]["done"] == start[-1]["total"] == 2 and start[-1]["unit"] == "steps", start
size = d["disks"][0]["size"]
assert all(p["unit"] == "bytes" and p["total"] == size for p in stream), stream
assert stream[-1]["done"] == size, stream[-1]
assert d["state"] == "done" and d["mode"] == "as" and d["domain"] == sys.argv[4], d
assert d["task"] == "g" and d["at"] == sys.argv[5], d
assert d["disks"][0]["overlay"] == sys.argv[3] and d["error"] is None, d
assert d["ready_s"] > 0 and d["stream_s"] > 0 and d["protection_resumes"] is False, d
PY
    fail "the recovery's stream or document: $(cat "$tmpdir/rec.out")"
grep -q 'started\|done:' "$tmpdir/rec.out" && fail "lines for people on stdout"
check_standalone "$new" "$overlay"
stop_cdp_serve
