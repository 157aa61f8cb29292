#!/usr/bin/env bash
# Every command that produces something prints, with --json, one JSON
# document on stdout and nothing else, "version" first, with the members
# docs/JSON.md lists: task create, show, list, set and delete, status,
# mark, lock, unlock, fold and verify; fold and verify with --progress
# print progress lines before it.  The times they print are points:
# given back to --at, they are accepted.
source "$(dirname "$0")/functions.sh"
requires python3 nbdcopy dd truncate

doc ()
{
    python3 "$e2e_dir/json-doc.py" "$@"
}

# run OUT CMD...: CMD must succeed; its stdout goes to OUT.
run ()
{
    local out=$1
    shift
    "$@" >"$out" 2>"$tmpdir/err" || fail "'$*' failed: $(cat "$tmpdir/err")"
}

# member FILE KEY...: a member of the document printed by json-doc.py.
member ()
{
    python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if not isinstance(v, bool) else str(v).lower())' "$@"
}

rx=$tmpdir/rx.sock
task=(name mode disks[].name disks[].size bp_interval_s journal_retention_s
      bp_retention_s max_chain verify_interval_s rpo_s created)
run "$tmpdir/create" cdp task create j --size 16M --listen "unix:$rx" --json
doc "$tmpdir/create" "${task[@]}" >"$tmpdir/d" || fail "task create --json"
[ "$(member "$tmpdir/d" name)" = j ] || fail "task create --json names $(cat "$tmpdir/d")"
run "$tmpdir/show" cdp task show j --json
doc "$tmpdir/show" "${task[@]}" >/dev/null || fail "task show --json"
run "$tmpdir/list" cdp task list --json
doc "$tmpdir/list" tasks[].name tasks[].disks >/dev/null || fail "task list --json"

start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
truncate -s 16M "$tmpdir/ref.img"
dd if=/dev/urandom of="$tmpdir/ref.img" bs=1M count=4 conv=notrunc status=none
nbdcopy -- "$tmpdir/ref.img" "nbd+unix:///disk0?socket=$rx"

run "$tmpdir/set" cdp task set j --bp-interval 30m --max-chain 8 --json
doc "$tmpdir/set" task.name task.bp_interval_s changed applied_live >"$tmpdir/d" ||
    fail "task set --json"
python3 - "$tmpdir/d" <<'PY' || fail "task set --json: $(cat "$tmpdir/d")"
import json, sys
d = json.load(open(sys.argv[1]))
assert sorted(d["changed"]) == ["bp-interval", "max-chain"], d
assert d["applied_live"] is True and d["task"]["bp_interval_s"] == 1800, d
PY

run "$tmpdir/status" cdp status j --json
doc "$tmpdir/status" tasks[].name tasks[].served tasks[].disks >/dev/null ||
    fail "status --json"

run "$tmpdir/mark" cdp mark j --label before-upgrade --json
doc "$tmpdir/mark" task label time frozen >"$tmpdir/d" || fail "mark --json"
[ "$(member "$tmpdir/d" label)" = before-upgrade ] || fail "mark --json: $(cat "$tmpdir/d")"
[ "$(member "$tmpdir/d" frozen)" = false ] || fail "mark --json: $(cat "$tmpdir/d")"
marked=$(member "$tmpdir/d" time)

run "$tmpdir/lock" cdp lock j --at "$marked" --json
doc "$tmpdir/lock" task time locked >"$tmpdir/d" || fail "lock --json"
[ "$(member "$tmpdir/d" locked)" = true ] || fail "lock --json: $(cat "$tmpdir/d")"
[ "$(member "$tmpdir/d" time)" = "$marked" ] ||
    fail "lock at the bookmark's time locked $(member "$tmpdir/d" time), not $marked"
run "$tmpdir/unlock" cdp unlock j --at before-upgrade --json
doc "$tmpdir/unlock" task time locked >"$tmpdir/d" || fail "unlock --json"
[ "$(member "$tmpdir/d" locked)" = false ] || fail "unlock --json: $(cat "$tmpdir/d")"
[ "$(member "$tmpdir/d" time)" = "$marked" ] || fail "unlock --json: $(cat "$tmpdir/d")"

run "$tmpdir/fold" cdp fold j --json
doc "$tmpdir/fold" task disks[].name disks[].base_point disks[].new >"$tmpdir/d" ||
    fail "fold --json"
based=$(member "$tmpdir/d" disks 0 base_point)
run "$tmpdir/restore-out" cdp restore j --at "$based" --output "$tmpdir/b.img"
cmp "$tmpdir/ref.img" "$tmpdir/b.img" || fail "the base point's time names another point"
dd if=/dev/urandom of="$tmpdir/ref.img" bs=1M seek=8 count=1 conv=notrunc status=none
nbdcopy -- "$tmpdir/ref.img" "nbd+unix:///disk0?socket=$rx"
run "$tmpdir/fold2" cdp fold j --json --progress
doc --stream "$tmpdir/fold2" task disks[].base_point >"$tmpdir/d" ||
    fail "fold --json --progress"
grep -q '"phase":"fold","done":1,"total":1' "$tmpdir/fold2" ||
    fail "fold --progress: $(cat "$tmpdir/fold2")"
# Written after the last base point (the next is 30m away): a new one.
[ "$(member "$tmpdir/d" disks 0 new)" = true ] || fail "fold made no base point: $(cat "$tmpdir/d")"
based=$(member "$tmpdir/d" disks 0 base_point)
run "$tmpdir/restore-out" cdp restore j --at "$based" --output "$tmpdir/b2.img"
cmp "$tmpdir/ref.img" "$tmpdir/b2.img" || fail "the new base point's time names another point"

verify=(task at result seconds checked.journal_records checked.base_points
        damage notes)
run "$tmpdir/verify" cdp verify j --json
doc "$tmpdir/verify" "${verify[@]}" >/dev/null || fail "verify --json"
run "$tmpdir/verify2" cdp verify j --json --progress
doc --stream "$tmpdir/verify2" "${verify[@]}" >/dev/null || fail "verify --json --progress"
for phase in journal index base; do
    grep -q "\"phase\":\"$phase\"" "$tmpdir/verify2" ||
        fail "verify --progress has no phase $phase: $(cat "$tmpdir/verify2")"
done

run "$tmpdir/delete" cdp task delete j --force --json
doc "$tmpdir/delete" task deleted was_served >"$tmpdir/d" || fail "task delete --json"
[ "$(member "$tmpdir/d" was_served)" = true ] || fail "task delete --json: $(cat "$tmpdir/d")"
run "$tmpdir/version" cdp --version --json
doc "$tmpdir/version" cdp >/dev/null || fail "cdp --version --json"
stop_cdp_serve
