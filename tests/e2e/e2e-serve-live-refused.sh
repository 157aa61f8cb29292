#!/usr/bin/env bash
# cdp serve started on an empty store runs on and waits for tasks.  A
# task it cannot serve (its TCP port is taken by another program) makes
# task create exit 1 saying why, the task staying created; serve says
# why once however often it tries again, cdp status does not show it
# served and says who refuses it and why, and once the port is free
# serve takes it up by itself.
source "$(dirname "$0")/functions.sh"
requires nbdcopy python3 dd

start_cdp_serve
grep -q "cdp: serving 0 tasks" "$serve_log" || fail "$(cat "$serve_log")"

# A program holding a TCP port until told to let it go.
python3 -c '
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.1)' "$tmpdir/free" >"$tmpdir/port" &
holder=$!
pids+=("$holder")
wait_for 20 "the port holder" test -s "$tmpdir/port"
port=$(cat "$tmpdir/port")

expect_error 1 "^cdp: task t is created, but the running cdp serve \\(pid $serve_pid\\) cannot serve it: cannot listen on tcp:127.0.0.1:$port: Address already in use; .*cdp task delete t\\)$" \
    cdp task create t --size 8M --listen "tcp:127.0.0.1:$port" --no-tls
cdp task list | grep -q '^t ' || fail "the refused task is not there"
kill -0 "$serve_pid" || fail "serve is gone"
served ()
{
    cdp status t --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["tasks"][0]
sys.exit(0 if t["served"] else 1)'
}
served && fail "status shows the refused task served"
# status says who refuses it and why, in the document and for people.
cdp status t --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["tasks"][0]
r = t["refused"]
assert r["serve_pid"] == int(sys.argv[1]), r
assert "Address already in use" in r["reason"], r
assert r["next_try"].endswith("Z"), r
assert any("cannot serve the task" in w for w in t["warnings"]), t
assert t["disks"][0]["reason"] == "cdp serve (pid %s) refuses the task" % sys.argv[1], t
' "$serve_pid" || fail "status of the refused task: $(cdp status t --json)"
cdp status t | grep -q "not served: cdp serve (pid $serve_pid) refuses it" ||
    fail "status for people: $(cdp status t)"

# Two more tries, said nowhere.
next_try ()
{
    python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print([t["next_try_ns"] for t in s["tasks"] if t["name"] == "t"][0])' \
        "$CDP_STORE/serve.json"
}
t1=$(next_try)
wait_for 60 "a second try" eval "[ \"\$(next_try)\" != $t1 ]"
t2=$(next_try)
wait_for 60 "a third try" eval "[ \"\$(next_try)\" != $t2 ]"
[ "$(grep -c "task t refused: cannot listen on tcp:127.0.0.1:$port: Address already in use" "$serve_log")" = 1 ] ||
    fail "the refusal is not said exactly once: $(grep 'task t' "$serve_log")"
served && fail "status shows the refused task served"

# The cause goes away: taken up, served, written to.
touch "$tmpdir/free"
reap "$holder" || fail "the port holder"
wait_for 120 "serve to take t up" served
grep -q "task t: taken up" "$serve_log" || fail "serve does not say it took t up"
dd if=/dev/urandom of="$tmpdir/src.img" bs=1M count=8 status=none
nbdcopy -- "$tmpdir/src.img" "nbd://127.0.0.1:$port/disk0" || fail "nbdcopy into t"
export_to t now "$tmpdir/t.img"
same "$tmpdir/t.img" "$tmpdir/src.img" "t's point"
python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert [t["served"] for t in s["tasks"] if t["name"] == "t"] == [True], s' \
    "$CDP_STORE/serve.json" || fail "serve.json: $(cat "$CDP_STORE/serve.json")"
stop_cdp_serve
