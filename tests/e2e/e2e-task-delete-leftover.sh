#!/usr/bin/env bash
# task delete makes the task disappear at once (renamed to
# tasks/.NAME.deleted, then removed): a delete cut short leaves no half
# task, the next delete of that name removes what it left, and a store
# path with a quote in it is no problem (nothing goes through a shell).
source "$(dirname "$0")/functions.sh"

export CDP_STORE="$tmpdir/it's a store"
cdp task create d --size 1M --listen "unix:$tmpdir/d.sock" >/dev/null
cdp task delete d | grep -q "task d deleted" || fail "task delete d"
[ ! -e "$CDP_STORE/tasks/d" ] || fail "tasks/d is still there"
[ ! -e "$CDP_STORE/tasks/.d.deleted" ] || fail "tasks/.d.deleted is still there"

# A delete cut short after the rename: what it left is no task...
cdp task create d --size 1M --listen "unix:$tmpdir/d.sock" >/dev/null
left=$CDP_STORE/tasks/.d.deleted
mkdir -p "$left/journal" && echo x >"$left/journal/seg-0000000000000001.cdpj"
[ "$(cdp task list --json | python3 -c '
import json, sys
print(" ".join(t["name"] for t in json.load(sys.stdin)["tasks"]))')" = d ] ||
    fail "a deleted directory is listed as a task"
# ...and the next delete of the name removes it with the task.
cdp task delete d >/dev/null || fail "task delete d with a leftover"
[ ! -e "$left" ] || fail "the leftover of a delete cut short is still there"
[ -z "$(ls -A "$CDP_STORE/tasks")" ] || fail "tasks/ is not empty: $(ls -A "$CDP_STORE/tasks")"
