#!/usr/bin/env bash
# A task create cut short by a power loss leaves tasks/.NAME.new (the
# task is made there and renamed to NAME only once task.json is durable):
# it is no task, and the next create of NAME removes it and succeeds.
source "$(dirname "$0")/functions.sh"

cdp task create a --size 1M --listen "unix:$tmpdir/a.sock"
stage=$CDP_STORE/tasks/.q.new
mkdir "$stage"
echo '{"name": "q", "mo' >"$stage/task.json.tmp"
[ "$(cdp task list --json | python3 -c '
import json, sys
print(" ".join(t["name"] for t in json.load(sys.stdin)["tasks"]))')" = a ] ||
    fail "a staging directory is listed as a task"
cdp task create q --size 1M --listen "unix:$tmpdir/q.sock"
[ ! -e "$stage" ] || fail "the staging directory of a create cut short is still there"
cdp task show q >/dev/null
[ -f "$CDP_STORE/tasks/q/task.json" ] || fail "task q has no task.json"
[ ! -e "$CDP_STORE/tasks/q/task.json.tmp" ] || fail "task q kept a task.json.tmp"
expect_error 1 "exists already" cdp task create q --size 1M --listen "unix:$tmpdir/q.sock"
[ ! -e "$stage" ] || fail "a refused create left its staging directory"
