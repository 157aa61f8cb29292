#!/usr/bin/env bash
# A point serve cannot archive (a lock on a point whose journal record
# is damaged) does not stop the others: the newest base point, due after
# it, is archived all the same, and status says the archive failed,
# naming the damage, with the lock's point still due.
source "$(dirname "$0")/../e2e/functions.sh"
requires nbdcopy qemu-io python3 dd

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
arch=$tmpdir/arch
cdp task create m --size 8M --listen "unix:$rx" --bp-interval 7d --segment-size 4M
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
# serve's first base point, of a disk holding one write-zeroes: the data
# after it stays in the journal.
qemu-io -f raw -c 'write -z 0 512' "$uri" >/dev/null
wait_for 30 "the first base point" \
    grep -q '"file"' "$CDP_STORE/tasks/m/base/catalog.json"
dd if=/dev/urandom of="$tmpdir/src.img" bs=1M count=8 status=none
nbdcopy -- "$tmpdir/src.img" "$uri"
tl=$(now)
cdp lock m --at "$tl" >/dev/null
qemu-io -f raw -c 'write -P 0x5a 7M 4k' "$uri" >/dev/null
# The newest base point, past the lock: read from its file alone.
cdp fold m >/dev/null || fail "cdp fold"
stop_cdp_serve

# Flip one byte in the middle of the payload of a large record (before
# the lock).
python3 "$e2e_dir/journal-records.py" "$CDP_STORE/tasks/m/journal" \
    >"$tmpdir/records"
read -r file seg roff seq doff len plen < <(awk '$7 >= 65536' "$tmpdir/records" | sed -n 1p)
[ -n "${plen-}" ] || fail "no large write record in the journal: $(cat "$tmpdir/records")"
python3 - "$file" "$((roff + 64 + plen / 2))" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1)
    f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x20]))
PY

cdp task set m --archive "$arch" >/dev/null
start_cdp_serve
wait_for 120 "serve to archive the base point despite the lock's damage" \
    grep -q 'task m: archived the base point' "$serve_log"
kinds=$(cdp archive list "$arch" m --json | python3 -c '
import json, sys
print(" ".join(p["kind"] for t in json.load(sys.stdin)["tasks"] for p in t["points"]))')
[ "$kinds" = base ] || fail "archived: '$kinds', not the base point alone"
failed ()
{
    cdp status m --json | python3 -c '
import json, sys
a = json.load(sys.stdin)["tasks"][0]["archive"]
sys.exit(not (a["state"] == "failed" and "CRC" in (a["error"] or "") and
              a["lag_s"] is not None and a["lag_s"] > 0))'
}
wait_for 60 "status to say the lock's point failed" failed
stop_cdp_serve
