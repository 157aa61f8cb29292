#!/usr/bin/env bash
# cdp export --json prints one document once clients can connect: as
# soon as it is complete, nbdinfo connects to its "uri" (no retry) and
# sees the point's size, read-only unless --writable says so; the export
# goes on serving until SIGTERM, exits 0, and stdout holds that document
# and nothing else.  --json with --run is a usage error.
source "$(dirname "$0")/functions.sh"
requires python3 nbdinfo nbdcopy truncate dd

rx=$tmpdir/rx.sock
cdp task create x --size 32M --listen "unix:$rx"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
truncate -s 32M "$tmpdir/ref.img"
dd if=/dev/urandom of="$tmpdir/ref.img" bs=1M count=2 conv=notrunc status=none
nbdcopy -- "$tmpdir/ref.img" "nbd+unix:///disk0?socket=$rx"
t=$(now)

expect_error 2 "--json and --run" cdp export x --at "$t" --listen "unix:$tmpdir/e0.sock" \
    --json --run true

complete ()
{
    python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$1"
}

# export_json N [ARGS]: an export printing its document to $tmpdir/eN.out.
export_json ()
{
    local n=$1 rc=0 pid uri
    shift
    "$CDP" export x --at "$t" --listen "unix:$tmpdir/e$n.sock" --json "$@" \
        >"$tmpdir/e$n.out" 2>"$tmpdir/export-$n.err" &
    pid=$!
    pids+=("$pid")
    wait_for 30 "the export's document" complete "$tmpdir/e$n.out"
    python3 "$e2e_dir/json-doc.py" "$tmpdir/e$n.out" task disk at uri export size \
        writable tls pid >"$tmpdir/d" || fail "export --json: $(cat "$tmpdir/e$n.out")"
    uri=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["uri"])' "$tmpdir/d")
    nbdinfo --json "$uri" >"$tmpdir/info" 2>&1 ||
        fail "nbdinfo cannot connect once the document is printed: $(cat "$tmpdir/info")"
    python3 - "$tmpdir/d" "$tmpdir/info" "$pid" "$@" <<'PY' || fail "export $n: $(cat "$tmpdir/d")"
import json, sys
d = json.load(open(sys.argv[1]))
info = json.load(open(sys.argv[2]))["exports"][0]
writable = "--writable" in sys.argv[4:]
assert d["task"] == "x" and d["disk"] == "disk0" and d["export"] == "disk0", d
assert d["size"] == 32 << 20 == info["export-size"], (d, info)
assert d["writable"] is writable and info["is_read_only"] is (not writable), (d, info)
assert d["tls"] == "none" and d["pid"] == int(sys.argv[3]), d
assert d["uri"].startswith("nbd+unix:///disk0?socket="), d
PY
    nbdcopy -- "$uri" "$tmpdir/e$n.img"
    cmp "$tmpdir/ref.img" "$tmpdir/e$n.img" || fail "export $n does not serve the point"
    kill -TERM "$pid"
    reap "$pid" || rc=$?
    [ "$rc" -eq 0 ] || fail "export $n exited $rc on SIGTERM: $(cat "$tmpdir/export-$n.err")"
    python3 "$e2e_dir/json-doc.py" "$tmpdir/e$n.out" >/dev/null ||
        fail "export $n printed more than its document: $(cat "$tmpdir/e$n.out")"
}

export_json 1
export_json 2 --writable
# The document's time is the point's: given back to --at, the same point.
at=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["at"])' "$tmpdir/e1.out")
cdp restore x --at "$at" --output "$tmpdir/at.img"
cmp "$tmpdir/ref.img" "$tmpdir/at.img" || fail "the document's time names another point"
stop_cdp_serve
