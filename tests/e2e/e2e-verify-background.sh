#!/usr/bin/env bash
# cdp serve checks stored history every --verify-interval (kept in
# task.json): status (JSON and text) shows the last result and when,
# clean at first; a byte flipped in a journal record while serve runs is
# found by the next check, logged, and status says damaged, naming it.
source "$(dirname "$0")/functions.sh"
requires nbdcopy qemu-io python3 dd

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
task=$CDP_STORE/tasks/m
cdp task create m --size 8M --listen "unix:$rx" --bp-interval 7d --verify-interval 2s
python3 -c '
import json, sys
assert json.load(open(sys.argv[1]))["policy"]["verify_interval_ns"] == 2 * 10**9
' "$task/task.json" || fail "task.json: $(cat "$task/task.json")"
cdp task show m | grep -q 'verified every 2s' || fail "task show: $(cdp task show m)"
expect_error 2 'not a duration' cdp task create x --size 8M --listen "unix:$tmpdir/x.sock" \
    --verify-interval soon

start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
dd if=/dev/urandom of="$tmpdir/src.img" bs=1M count=8 status=none
nbdcopy -- "$tmpdir/src.img" "$uri"
cdp fold m
qemu-io -f raw -c 'write -P 0x33 1M 256k' "$uri" >/dev/null

# integrity FIELD...: a field of the task's integrity in status --json.
integrity () {
    cdp status m --json | python3 -c '
import json, sys
v = json.load(sys.stdin)["tasks"][0]["integrity"]
for k in sys.argv[1:]:
    v = v.get(k, {}) if isinstance(v, dict) else {}
print(v if v != {} else "")' "$@"
}
last_result_is () {
    [ "$(integrity last_verify by)" = "cdp serve" ] &&
        [ "$(integrity last_verify result)" = "$1" ]
}
wait_for 60 "a clean background check" last_result_is clean
[ "$(integrity state)" = clean ] || fail "integrity state: $(integrity state)"
cdp status m | grep -Eq 'integrity +clean \(last verified [0-9-]+T[0-9:.]+Z by cdp serve: clean\)' ||
    fail "status text: $(cdp status m)"

# Damage under a running serve: the next check finds it.
read -r file seg roff seq doff len plen < <(python3 "$e2e_dir/journal-records.py" \
    "$task/journal" | awk '$7 >= 65536' | tail -n 1)
python3 - "$file" $((roff + 64 + 100)) <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1)
    f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x02]))
PY
wait_for 60 "the background check to find the damage" last_result_is damaged
[ "$(integrity state)" = damaged ] || fail "integrity state: $(integrity state)"
cdp status m | grep -q "segment $seg offset $roff" || fail "status text: $(cdp status m)"
grep -q "stored history verified: 1 problem; the first: damaged journal record at segment $seg offset $roff" \
    "$serve_log" || fail "serve did not log the damage: $(tail -n 5 "$serve_log")"
stop_cdp_serve
