#!/usr/bin/env bash
# 'cdp status' shows a task's RPO setting (rpo_s) and per disk the
# durability lag (durability_lag_s) only a live serve knows: a number
# while served, null with the reason when not (never 0); a serve that
# runs by another RPO than task.json says (task.json edited by hand) is a
# warning, in --json and in text.
source "$(dirname "$0")/functions.sh"
requires nbdcopy python3 truncate

rx=$tmpdir/rx.sock
cdp task create m --size 1M --listen "unix:$rx" --rpo 500ms

# check TASK PYTHON-ASSERTIONS on t (the task) and d (its disk)
check ()
{
    cdp status "$1" --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["tasks"][0]
d = t["disks"][0]
'"$2"
}

check m '
assert not t["served"] and t["rpo_s"] == 0.5, t
assert d["durability_lag_s"] is None and "not served" in d["durability_lag_reason"], d
assert "warnings" not in t, t'
cdp status m | grep -q 'RPO 500ms' || fail "text status: $(cdp status m)"
cdp status m | grep -q 'durability lag -' || fail "text status: $(cdp status m)"

start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
truncate -s 1M "$tmpdir/src.img"
echo data >"$tmpdir/data" && dd if="$tmpdir/data" of="$tmpdir/src.img" conv=notrunc status=none
nbdcopy -- "$tmpdir/src.img" "nbd+unix:///disk0?socket=$rx"
wait_for 20 "status to show the task served with its lag" check m '
assert t["served"] and t["rpo_s"] == 0.5, t
assert isinstance(d["durability_lag_s"], (int, float)) and d["durability_lag_s"] >= 0, d
assert "durability_lag_reason" not in d, d
assert "warnings" not in t, t'
cdp status m | grep -Eq 'durability lag [0-9.]+s' || fail "text status: $(cdp status m)"

# task.json edited by hand: serve runs by what it read.
python3 - "$CDP_STORE/tasks/m/task.json" <<'PY'
import json, os, sys
p = sys.argv[1]
o = json.load(open(p))
o["policy"]["rpo_ns"] = 2 * 10**9
with open(p + ".new", "w") as f:
    json.dump(o, f)
os.replace(p + ".new", p)
PY
check m '
assert t["served"] and t["rpo_s"] == 0.5, t
assert any("task.json sets RPO 2s, but cdp serve runs the task with RPO 500ms" in w
           for w in t["warnings"]), t'
cdp status m | grep -q 'warning: task.json sets RPO 2s' || fail "text status: $(cdp status m)"

stop_cdp_serve
check m '
assert not t["served"] and t["rpo_s"] == 2.0, t
assert d["durability_lag_s"] is None and d["durability_lag_reason"], d
assert "warnings" not in t, t'
