#!/usr/bin/env bash
# Retention removes old base points and rebases their children onto the
# parents (qemu-img rebase copies clusters into them): the children's
# sums are recomputed with them, so cdp verify finds every base point
# whole afterwards, every cluster of every image summed and matching.
source "$(dirname "$0")/functions.sh"
requires qemu-io python3

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
base=$CDP_STORE/tasks/r/base
cdp task create r --size 16M --listen "unix:$rx" \
    --bp-interval 1s --journal-retention 2s --bp-retention 4s --segment-size 4M
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"

removed () { grep -c 'removed base point' "$serve_log" || :; }
i=0
end=$(( $(date +%s) + 90 ))
# Different clusters each time, so that children hold what parents do not.
until [ "$(removed)" -ge 3 ]; do
    [ "$(date +%s)" -lt "$end" ] || fail "retention removed no base points: $(tail -n 20 "$serve_log")"
    qemu-io -f raw -c "write -P $(( i % 250 + 1 )) $(( (i * 320) % 15872 ))k 512k" "$uri" >/dev/null
    i=$((i + 1))
    sleep 0.2
done
stop_cdp_serve

python3 -c '
import json, os, sys
d = sys.argv[1]
for b in json.load(open(os.path.join(d, "catalog.json")))["bases"]:
    s = os.path.join(d, b["file"][:-len(".qcow2")] + ".sums")
    assert os.path.getsize(s) > 64, s
' "$base" || fail "a base point has no sums: $(ls "$base")"
cdp verify r --json >"$tmpdir/v.json" || fail "verify after rebases: $(cat "$tmpdir/v.json")"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = d["checked"]
assert d["result"] == "clean" and c["base_unsummed"] == 0 and c["base_summed"] == c["base_points"] > 1, d
' "$tmpdir/v.json" || fail "verify: $(cat "$tmpdir/v.json")"
