#!/usr/bin/env bash
# A power loss can keep an index's forgetting from being durable while
# the reclaim of journal segments it followed is: the index then holds
# history the journal no longer has.  Simulated here by putting back an
# index saved before retention reclaimed segments.  The next reader must
# not offer that history: 'cdp points' lists nothing older (but base
# points), the index it caught up ('cdp status') spans only the journal
# that is left, and every point listed is restored, holding what was
# written by then.
source "$(dirname "$0")/functions.sh"
requires python3 cmp
: "${QD1_WRITER:?QD1_WRITER must name the qd1-writer helper}"

rx=$tmpdir/rx.sock
task=$CDP_STORE/tasks/p
block=16384
cdp task create p --size 4M --listen "unix:$rx" --segment-size 1M \
    --bp-interval 1s --journal-retention 2s
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
"$QD1_WRITER" "nbd+unix:///disk0?socket=$rx" 3 $block >"$tmpdir/writes.log" ||
    fail "qd1-writer"
stop_cdp_serve
cp -a "$task/index" "$tmpdir/index.saved"
first_seg ()
{
    ls "$task/journal" | grep '^seg-' | sort | sed -n 1p
}
seg_before=$(first_seg)

# Retention reclaims the journal a base point covers (and the index
# forgets it, which the copy saved above knows nothing of).
start_cdp_serve
wait_for 60 "retention to reclaim journal segments" \
    eval '[ "$(first_seg)" != "$seg_before" ] && grep -q "reclaimed" "$serve_log"'
stop_cdp_serve
rm -rf "$task/index"
cp -a "$tmpdir/index.saved" "$task/index"

# The time of the oldest record the journal still holds: the first
# record of its oldest segment (offset 4096, time at byte 24).
oldest=$(python3 - "$task/journal/$(first_seg)" <<'PY'
import struct, sys
with open(sys.argv[1], 'rb') as f:
    f.seek(4096)
    h = f.read(64)
assert h[0:4] == b'CDPJ', "no record at the start of the oldest segment"
print(struct.unpack_from('<q', h, 24)[0])
PY
) || fail "cannot read the oldest journal record"

cdp points p --json >"$tmpdir/points.json" || fail "cdp points"
python3 - "$tmpdir/points.json" "$oldest" >"$tmpdir/points.txt" <<'PY' ||
import json, sys
from datetime import datetime, timezone
for p in json.load(open(sys.argv[1]))["points"]:
    base, _, frac = p["time"].rstrip("Z").partition(".")
    ns = int(datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=timezone.utc).timestamp()) * 10**9 + int((frac + "0" * 9)[:9])
    if p["kind"] == "second" and ns < int(sys.argv[2]):
        sys.exit(f"second {p['time']} is listed, older than the journal")
    print(p["kind"], p["time"])
PY
    fail "points offers reclaimed history"
# The index that reader caught up now spans only the journal left.
cdp status p --json >"$tmpdir/status.json" || fail "cdp status"
python3 - "$tmpdir/status.json" "$oldest" <<'PY' || fail "status offers reclaimed history"
import json, sys
from datetime import datetime, timezone
t = json.load(open(sys.argv[1]))["tasks"][0]
base, _, frac = t["journal_from"].rstrip("Z").partition(".")
ns = int(datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(
    tzinfo=timezone.utc).timestamp()) * 10**9 + int((frac + "0" * 9)[:9])
assert ns >= int(sys.argv[2]), f"journal_from {t['journal_from']} is older than the journal"
PY

checks=()
n=0
while read -r kind t; do
    out=$tmpdir/pt-$n.img
    cdp restore p --at "$t" --output "$out" --format raw 2>"$tmpdir/err" ||
        fail "point $t ($kind) is listed, but refused: $(cat "$tmpdir/err")"
    checks+=("$t" "$out")
    n=$((n + 1))
done <"$tmpdir/points.txt"
[ "$n" -gt 0 ] || fail "no point listed"
python3 "$e2e_dir/qd1-check.py" "$tmpdir/writes.log" $block "${checks[@]}" ||
    fail "a point does not hold what was written by its time"
echo "$n listed points restored, each holding what was written by then"
