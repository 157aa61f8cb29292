# Helpers for the e2e tests of reading archived points (archive-read-*.sh),
# after tests/e2e/functions.sh.
#
#   archive_task NAME SIZE [ARGS...]  manual-mode task fed by nbdcopy
#                              (ARGS go to task create); starts serve;
#                              $rx is its receiver socket
#   put_image NAME IMG         nbdcopy IMG into the task's receiver; prints
#                              the time just after it
#   push_point NAME LOCATION [T]  fold, then archive the point at T (default:
#                              the newest base point) into LOCATION; prints
#                              the archived point's time
#   chunk_of IMG OFFSET LOCATION  the file of the chunk holding IMG's
#                              4 MiB chunk at OFFSET in a directory archive
#   fresh_store                a store directory that never had a task

requires nbdcopy python3 sha256sum dd

archive_task ()
{
    local name=$1 size=$2
    shift 2
    rx=$tmpdir/rx.sock
    cdp task create "$name" --size "$size" --listen "unix:$rx" "$@" >/dev/null
    start_cdp_serve
    wait_for 20 "the receiver's socket" test -S "$rx"
}

put_image ()
{
    nbdcopy -- "$2" "nbd+unix:///disk0?socket=$rx"
    now
}

# The time of the archived point is the one 'cdp archive list --json'
# shows for the task, the newest.
push_point ()
{
    local name=$1 loc=$2 at=${3-}
    if [ -z "$at" ]; then
        cdp fold "$name" >/dev/null || fail "cdp fold $name"
    fi
    cdp archive push "$name" ${at:+--at "$at"} --archive "$loc" \
        >"$tmpdir/push.out" 2>&1 || fail "cdp archive push: $(cat "$tmpdir/push.out")"
    cdp archive list "$loc" "$name" --json | python3 -c '
import json, sys
pts = []
def walk(o):
    if isinstance(o, dict):
        if "time" in o and "kind" in o:
            pts.append(o["time"])
        for v in o.values():
            walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)
walk(json.load(sys.stdin))
print(max(pts))'
}

chunk_of ()
{
    local sum
    sum=$(dd if="$1" bs=4M skip=$(($2 / 4194304)) count=1 status=none |
          sha256sum | cut -c1-64)
    echo "$3/chunks/${sum:0:4}/$sum"
}

fresh_store ()
{
    export CDP_STORE=$tmpdir/fresh-store
    mkdir -p "$CDP_STORE"
}
