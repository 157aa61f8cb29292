#!/usr/bin/env bash
# A task's directory removed under a running cdp serve (rm -rf, not task
# delete) neither crashes nor confuses it: a served task is let go (its
# receiver closes) and nothing of it is made again; a refused task is
# forgotten (serve.json, the log); the other task is served on.
source "$(dirname "$0")/functions.sh"
requires nbdinfo qemu-io python3

rxa=$tmpdir/a.sock
rxg=$tmpdir/g.sock
cdp task create a --size 8M --listen "unix:$rxa" 2>/dev/null
cdp task create g --size 8M --listen "unix:$rxg" 2>/dev/null
start_cdp_serve
wait_for 20 "the receivers' sockets" test -S "$rxa" -a -S "$rxg"
qemu-io -f raw -c "write -P 1 0 64k" "nbd+unix:///disk0?socket=$rxg" >/dev/null ||
    fail "qemu-io into g"

# A refused task: a file where its receiver's socket would be made.
mkdir "$tmpdir/r.sock"
touch "$tmpdir/r.sock/x"
cdp task create r --size 8M --listen "unix:$tmpdir/r.sock" 2>"$tmpdir/create.err" &&
    fail "task create of r did not fail: $(cat "$tmpdir/create.err")"
grep -q "cannot serve it" "$tmpdir/create.err" || fail "$(cat "$tmpdir/create.err")"
in_serve_json ()
{
    python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
sys.exit(0 if sys.argv[2] in [t["name"] for t in s["tasks"]] else 1)' \
        "$CDP_STORE/serve.json" "$1"
}
in_serve_json r || fail "serve.json does not list r: $(cat "$CDP_STORE/serve.json")"

lines=$(wc -l <"$serve_log")
rm -rf "$CDP_STORE/tasks/g" "$CDP_STORE/tasks/r"
wait_for 30 "serve to let g go" grep -q "task g: no longer served" "$serve_log"
grep -q "task g: letting it go (its directory is gone)" "$serve_log" || fail "serve does not say why"
wait_for 30 "serve.json to forget r" eval '! in_serve_json r'
in_serve_json g && fail "serve.json still lists g"
nbdinfo --size "nbd+unix:///disk0?socket=$rxg" >/dev/null 2>&1 &&
    fail "g's receiver still answers"

# Later looks at the store make nothing of them again.
t0=$(date +%s%N)
wait_for 20 "two heartbeats of a" python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
sys.exit(0 if s["updated_ns"] > int(sys.argv[2]) + 1000000000 else 1)' \
    "$CDP_STORE/tasks/a/run/state.json" "$t0"
[ "$(ls "$CDP_STORE/tasks")" = a ] || fail "tasks/ holds: $(ls -a "$CDP_STORE/tasks")"
sed '1,/task g: no longer served/d' "$serve_log" | grep "task [gr]\b" &&
    fail "serve still logs about the removed tasks"
tail -n +"$((lines + 1))" "$serve_log" | grep "task r" &&
    fail "serve logs about the removed refused task"
kill -0 "$serve_pid" || fail "serve is gone"
qemu-io -f raw -c "write -P 2 0 64k" "nbd+unix:///disk0?socket=$rxa" >/dev/null ||
    fail "a's receiver"
cdp status a --json | python3 -c '
import json, sys
assert json.load(sys.stdin)["tasks"][0]["served"]' || fail "a is not served"
stop_cdp_serve
