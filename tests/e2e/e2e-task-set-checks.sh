#!/usr/bin/env bash
# task set refuses what it cannot do with the contract's exit codes and
# one line: bad values (2), flags fixed at creation (2), no policy named
# (2), an unknown task (1); a refused set leaves task.json as it was.  On
# a task no cdp serve holds it changes the policies in task.json and
# nothing else (members it does not know of stay as they are), and says
# it takes effect when serve starts the task.
source "$(dirname "$0")/functions.sh"
requires python3 cmp

cdp task create t --size 1M --listen "unix:$tmpdir/t.sock"
json=$CDP_STORE/tasks/t/task.json
# Members another cdp may have written.
python3 - "$json" <<'PY'
import json, os, sys
p = sys.argv[1]
o = json.load(open(p))
o["archive"] = {"location": "/srv/archive", "keep_days": 30}
o["policy"]["archive_interval_ns"] = 3600 * 10**9
with open(p + ".new", "w") as f:
    json.dump(o, f)
os.replace(p + ".new", p)
PY
cp "$json" "$tmpdir/before.json"

for bad in 5ms 2h nonsense ''; do
    expect_error 2 'rpo' cdp task set t --rpo "$bad"
done
expect_error 2 'not a duration' cdp task set t --bp-interval 0
expect_error 2 'not a duration' cdp task set t --journal-retention soon
expect_error 2 'not a duration' cdp task set t --bp-retention -1d
expect_error 2 'not a duration' cdp task set t --verify-interval 0s
expect_error 2 'max-chain' cdp task set t --max-chain 0
expect_error 2 'max-chain' cdp task set t --max-chain 1001
for flag in "--size 2M" "--listen unix:$tmpdir/u.sock" "--qmp $tmpdir/q" \
            "--node n" "--domain d" "--disk vda" "--connect qemu:///system" \
            "--segment-size 16M" "--tls-creds $tmpdir" "--tls-psk $tmpdir/k" \
            "--no-tls" "--max-connections 4"; do
    # shellcheck disable=SC2086
    expect_error 2 "^cdp: ${flag%% *} is fixed when the task is created" \
        cdp task set t $flag
done
expect_error 2 'name a policy' cdp task set t
expect_error 2 'unknown option' cdp task set t --rpo 1s --bogus
expect_error 2 'usage' cdp task set --rpo 1s
expect_error 1 "no task 'nosuch'" cdp task set nosuch --rpo 1s
cmp "$json" "$tmpdir/before.json" || fail "a refused task set changed task.json"

out=$(cdp task set t --rpo 2s --bp-interval 5m --max-chain 8 --journal-retention 2h \
      --bp-retention 3d --verify-interval 12h)
echo "$out"
grep -q -- '--rpo 0 -> 2s' <<<"$out" || fail "task set does not say what changed: $out"
grep -q 'not served' <<<"$out" || fail "task set does not say the task is not served: $out"
python3 - "$tmpdir/before.json" "$json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
b = json.load(open(sys.argv[2]))
want = {"bp_interval_ns": 300 * 10**9, "journal_retention_ns": 7200 * 10**9,
        "bp_retention_ns": 3 * 86400 * 10**9, "max_chain": 8,
        "verify_interval_ns": 43200 * 10**9, "rpo_ns": 2 * 10**9}
for k, v in want.items():
    assert b["policy"][k] == v, (k, b["policy"])
pa, pb = a.pop("policy"), b.pop("policy")
assert a == b, "task set changed more than the policy"
assert set(pa) == set(pb), (pa, pb)
assert pb["archive_interval_ns"] == 3600 * 10**9, pb
PY
[ ! -e "$CDP_STORE/tasks/t/run/state.json" ] || fail "task set made a heartbeat"
cdp task show t --json | python3 -c '
import json, sys
t = json.load(sys.stdin)
assert t["rpo_s"] == 2.0 and t["bp_interval_s"] == 300 and t["max_chain"] == 8, t'
cdp task set t --rpo 2s | grep -q 'no change' || fail "setting the same value again"
