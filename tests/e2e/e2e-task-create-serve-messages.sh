#!/usr/bin/env bash
# What task create says of cdp serve, on stderr, exit 0: with none
# running (never started, or killed: a serve.lock with a dead pid), that
# the task is served when cdp serve starts, which it then is; with a
# cdp serve of named tasks only, that this one is not among them.
source "$(dirname "$0")/functions.sh"
requires python3

says ()
{
    local name=$1 want=$2
    cdp task create "$name" --size 8M --listen "unix:$tmpdir/$name.sock" \
        >"$tmpdir/out" 2>"$tmpdir/err" || fail "task create $name: $(cat "$tmpdir/err")"
    grep -q "task $name created" "$tmpdir/out" || fail "$(cat "$tmpdir/out")"
    [ "$(cat "$tmpdir/err")" = "$want" ] ||
        fail "task create $name says: $(cat "$tmpdir/err"); expected: $want"
}
none_runs ()
{
    says "$1" "task $1: no cdp serve runs; it will be served when cdp serve starts (systemctl start cdp)"
}
served ()
{
    cdp status "$1" --json | python3 -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["tasks"][0]["served"] else 1)'
}

none_runs a

# A killed serve leaves its pid in serve.lock, and no lock held.
start_cdp_serve
kill_cdp_serve
grep -q . "$CDP_STORE/serve.lock" || fail "serve.lock holds no pid"
none_runs b

# A serve of named tasks: the new task is not one of them.
start_cdp_serve a
says c "task c: the running cdp serve (pid $serve_pid) serves only the tasks named on its command line: a cdp serve started without names will serve it"
served a || fail "a is not served"
served c && fail "a serve of a only serves c"
stop_cdp_serve

# Started without names: every task said to be served when it starts is.
start_cdp_serve
for t in a b c; do
    wait_for 30 "task $t to be served" served "$t"
done
stop_cdp_serve
none_runs d
