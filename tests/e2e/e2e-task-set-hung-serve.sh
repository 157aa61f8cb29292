#!/usr/bin/env bash
# task set on a task whose cdp serve does not answer (SIGSTOP): it gives
# up within its bound, exits 1 with one line that says task.json is saved
# and when the change takes effect; task.json holds the new policy.
source "$(dirname "$0")/functions.sh"
requires python3

rx=$tmpdir/rx.sock
cdp task create m --size 1M --listen "unix:$rx"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
wait_for 20 "the control socket" test -S "$CDP_STORE/tasks/m/run/control.sock"
kill -STOP "$serve_pid"
expect_error 1 'task.json is saved, but cdp serve could not apply it live: .* takes effect' \
    timeout 120 "$CDP" task set m --rpo 1s
kill -CONT "$serve_pid"
cdp task show m --json | python3 -c '
import json, sys
assert json.load(sys.stdin)["rpo_s"] == 1.0' || fail "task.json does not hold the new RPO"
stop_cdp_serve
