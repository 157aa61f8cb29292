#!/usr/bin/env bash
# The timeline shows the fidelity gaps of a disk protected over QMP: the
# initial copy's, and the one while cdp serve was stopped and the guest
# wrote on, from when fidelity was lost to when the mirror was READY
# again, with the reason cdp journaled, and the one still open since the
# last stop.  No point the list shows lies in a gap, the counts are the
# list's, and a range between the gaps shows none of them.
source "$(dirname "$0")/functions.sh"
requires python3 jq

disk=$tmpdir/disk.qcow2
check=$e2e_dir/points-timeline-check.py
make_disk "$disk" 8M
start_qemu "$disk"
cdp task create g --qmp "$cdp_qmp_sock" --node disk0
start_cdp_serve
wait_protected g

# write_seconds N: a guest write in each of N seconds.
write_seconds ()
{
    local i
    for i in $(seq "$1"); do
        guest_io "write -P $((0x40 + i)) $((i * 4096)) 4096"
        sleep 1
    done
}

write_seconds 3
stop_cdp_serve
guest_io "write -P 0x70 0 4096"
while_down=$(now)
start_cdp_serve
wait_protected g
after_gap=$(now)
write_seconds 3
before_stop=$(now)
stop_cdp_serve
# Nothing is written any more, but the second still running is no
# point yet: the list leaves it out, a timeline made once it is over
# counts it.  Both are made after it.
stopped_s=$(date +%s)
wait_for 5 "the second of the last write to end" eval '[ "$(date +%s)" -gt "$stopped_s" ]'

cdp points g --json >"$tmpdir/list.json" || fail "cdp points --json"
cdp points g --bucket 1s --json >"$tmpdir/tl.json" || fail "cdp points --bucket 1s"
python3 "$check" "$tmpdir/tl.json" "$tmpdir/list.json" ||
    fail "the timeline is not the list's"
down_ns=$(python3 -c 'import sys; print(round(float(sys.argv[1][1:]) * 1e9))' "$while_down")
python3 - "$tmpdir/tl.json" "$down_ns" <<'PY' || fail "gaps: $(jq -c .gaps "$tmpdir/tl.json")"
import json, sys
from datetime import datetime, timezone
tl = json.load(open(sys.argv[1]))
down = int(sys.argv[2])
def ns(s):
    t = datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return int(t.timestamp()) * 10**9 + int(s[20:29])
gaps = tl["gaps"]
assert len(gaps) == 3, gaps
assert gaps[0]["reason"] == "protection starting: initial copy", gaps
assert gaps[1]["reason"] == gaps[2]["reason"] == "cdp serve stopped", gaps
assert gaps[0]["to"] is not None and gaps[1]["to"] is not None, gaps
assert gaps[2]["to"] is None, gaps      # not served since
assert ns(gaps[1]["from"]) <= down < ns(gaps[1]["to"]), gaps
assert ns(gaps[0]["to"]) <= ns(gaps[1]["from"]), gaps
PY
jq -e '[.points[] | select(.kind == "second")] | length >= 4' "$tmpdir/list.json" \
    >/dev/null || fail "too few second points: $(cat "$tmpdir/list.json")"
cdp points g --from "$after_gap" --to "$before_stop" --bucket 1s --json >"$tmpdir/after.json" ||
    fail "cdp points --from --bucket"
python3 "$check" "$tmpdir/after.json" "$tmpdir/list.json" ||
    fail "the timeline after the gap is not the list's"
jq -e '.gaps == [] and (.counts | add) >= 2' "$tmpdir/after.json" >/dev/null ||
    fail "after the gaps: $(jq -c . "$tmpdir/after.json")"
