#!/usr/bin/env bash
# A second 'cdp serve' on a store that one already serves (STORE/
# serve.lock held) refuses to start in one line naming the first one,
# with or without task names, takes no task and touches none of the
# first one's files: run/ (state.json, the control socket), the
# receiver's socket, locks.json and the store's serve.lock are as they
# were, and the first serve goes on serving (writes, marks, status).
source "$(dirname "$0")/functions.sh"
requires nbdinfo qemu-io python3 stat

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
tdir=$CDP_STORE/tasks/s
cdp task create s --size 8M --listen "unix:$rx"
start_cdp_serve
first_pid=$serve_pid
wait_for 20 "the receiver's socket" test -S "$rx"
qemu-io -f raw -c "write -P 1 0 64k" "$uri" >/dev/null || fail "qemu-io"
cdp lock s --at now >/dev/null || fail "cdp lock"
wait_for 20 "state.json" test -f "$tdir/run/state.json"

snapshot ()
{
    # state.json is rewritten (a new inode) every second: its name only.
    (cd "$tdir" && find run -printf '%p %y\n' | sort
     stat -c '%n %i' run/control.sock "$rx"; sha256sum locks.json
     cat ../../serve.lock)
}
snapshot >"$tmpdir/before"

rc=0
"$CDP" serve >"$tmpdir/second.log" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "the second serve exited $rc: $(cat "$tmpdir/second.log")"
[ "$(wc -l <"$tmpdir/second.log")" -eq 1 ] &&
grep -q "^cdp: store $CDP_STORE is served already by cdp serve (pid $first_pid): one cdp serve per store$" \
    "$tmpdir/second.log" ||
    fail "the second serve does not say why in one line: $(cat "$tmpdir/second.log")"
expect_error 1 "is served already by cdp serve \\(pid $first_pid\\)" "$CDP" serve s

snapshot >"$tmpdir/after"
diff "$tmpdir/before" "$tmpdir/after" >&2 || fail "the second serve changed the first one's files"
kill -0 "$first_pid" || fail "the first serve is gone"
cdp status s --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["tasks"][0]
assert t["served"], t' || fail "the task is no longer shown served"
nbdinfo --size "$uri" >/dev/null || fail "the receiver no longer answers"
qemu-io -f raw -c "write -P 2 64k 64k" "$uri" >/dev/null || fail "qemu-io after"
cdp mark s --label after-second >/dev/null || fail "cdp mark through the first serve"
grep -q "did not stop cleanly\|gap" "$serve_log" && fail "a gap was journaled"
stop_cdp_serve
