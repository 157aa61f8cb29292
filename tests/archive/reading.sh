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
#   archive_push NAME ARGS...  cdp archive push NAME ARGS; prints the time
#                              of the point it archived
#   wait_archived_only NAME T  write 4 MiB images into the task until
#                              retention took T from the store: 'cdp
#                              points' lists it as kind "archive", not local
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

push_point ()
{
    local name=$1 loc=$2 at=${3-}
    if [ -z "$at" ]; then
        cdp fold "$name" >/dev/null || fail "cdp fold $name"
    fi
    archive_push "$name" ${at:+--at "$at"} --archive "$loc"
}

# The time from the push's own document: serve's archiver may push
# points of the same task meanwhile.
archive_push ()
{
    cdp archive push "$@" --json >"$tmpdir/push.out" 2>"$tmpdir/push.err" ||
        fail "cdp archive push $*: $(cat "$tmpdir/push.err")"
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["time"])' \
        "$tmpdir/push.out"
}

# archive_state NAME T: "KIND LOCAL" of the point at T in 'cdp points'.
archive_state ()
{
    cdp points "$1" --json | python3 -c '
import json, sys
for p in json.load(sys.stdin)["points"]:
    if p["time"] == sys.argv[1]:
        print(p["kind"], p.get("local"))' "$2"
}

wait_archived_only ()
{
    local n=0
    until [ "$(archive_state "$1" "$2")" = "archive False" ]; do
        n=$((n + 1))
        [ "$n" -le 120 ] ||
            fail "retention never reclaimed $2: $(cdp points "$1" | tail -n 3)"
        head -c 4M /dev/urandom >"$tmpdir/filler.img"
        put_image "$1" "$tmpdir/filler.img" >/dev/null
        sleep 0.5
    done
    echo "$2 is archived only, after $n more writes of 4 MiB"
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
