#!/usr/bin/env bash
# A task cdp serve refuses (its locks.json truncated) is taken up while
# serve runs once the file is repaired: at the next look after the file
# was replaced (mv over it changes the task directory), not only when
# its next try is due; serve said the refusal once, the other task was
# served throughout, and the locked point is there.
source "$(dirname "$0")/functions.sh"
requires qemu-io python3

rx=$tmpdir/r.sock
tdir=$CDP_STORE/tasks/r
cdp task create r --size 8M --listen "unix:$rx" 2>/dev/null
cdp task create o --size 8M --listen "unix:$tmpdir/o.sock" 2>/dev/null
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
qemu-io -f raw -c "write -P 1 0 64k" "nbd+unix:///disk0?socket=$rx" >/dev/null || fail "qemu-io"
locked=$(cdp lock r --at now) || fail "cdp lock"
stop_cdp_serve

cp "$tdir/locks.json" "$tmpdir/locks.good"
truncate -s 10 "$tdir/locks.json"
start_cdp_serve
grep -q "task r refused: cannot read $tdir/locks.json" "$serve_log" ||
    fail "serve did not refuse r"
served ()
{
    cdp status "$1" --json | python3 -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["tasks"][0]["served"] else 1)'
}
served o || fail "o is not served"
served r && fail "r is shown served"

# Tries go on, further and further apart: wait until the next one is
# more than 10 s away.
next_try ()
{
    python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print([t["next_try_ns"] for t in s["tasks"] if t["name"] == "r"][0])' \
        "$CDP_STORE/serve.json"
}
wait_for 90 "tries 10 s apart" eval \
    '[ $(( $(next_try) - $(date +%s%N) )) -gt 10000000000 ]'
due=$(next_try)

cp "$tmpdir/locks.good" "$tdir/locks.json.new"
mv "$tdir/locks.json.new" "$tdir/locks.json"
wait_for 60 "serve to take r up" served r
python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
since = [t["since_ns"] for t in s["tasks"] if t["name"] == "r" and t["served"]][0]
assert since < int(sys.argv[2]), (since, sys.argv[2])' "$CDP_STORE/serve.json" "$due" ||
    fail "r was taken up only at its next try, not when its files changed"
[ "$(grep -c "task r refused" "$serve_log")" = 1 ] ||
    fail "the refusal is not said once: $(grep "task r refused" "$serve_log")"
grep -q "task r: taken up" "$serve_log" || fail "serve does not say it took r up"
cdp points r --json | python3 -c '
import json, sys
assert any(p["locked"] for p in json.load(sys.stdin)["points"])' ||
    fail "the locked point is gone"
qemu-io -f raw -c "write -P 2 0 64k" "nbd+unix:///disk0?socket=$rx" >/dev/null ||
    fail "qemu-io after the repair"
served o || fail "o is not served"
stop_cdp_serve
