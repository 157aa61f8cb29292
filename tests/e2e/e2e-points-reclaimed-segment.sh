#!/usr/bin/env bash
# Retention reclaims whole segments: the oldest segment it keeps also
# holds records older than the base point that covers the reclaim, and
# the seconds of those records stand on an older base point the journal
# no longer reaches.  'cdp points' must not list them (export would
# refuse them); every point it lists is restored, holding what was
# written by then.  Base points are made only by 'cdp fold' here
# (--bp-interval 1h), so the layout is certain:
#   one write, fold (B0); 40 writes of 64 KiB (segments of 1 MiB fill
#   and roll over after B0: the last segment starts after B0); a new
#   second, one more write, fold (B1); retention (2 s) then keeps only
#   the last segment, whose first records lie between B0 and B1.
source "$(dirname "$0")/functions.sh"
requires qemu-io python3 cmp

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
jdir=$CDP_STORE/tasks/p/journal
cdp task create p --size 4M --listen "unix:$rx" --segment-size 1M \
    --bp-interval 1h --journal-retention 2s
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"

# write_ops REF_IN REF_OUT CMD...: the commands into the receiver, and
# the reference image after them.
write_ops ()
{
    local in=$1 out=$2 args=() c
    shift 2
    for c in "$@"; do args+=(-c "$c"); done
    qemu-io -f raw "$uri" "${args[@]}" >"$tmpdir/qio.log" 2>&1 ||
        fail "qemu-io: $(cat "$tmpdir/qio.log")"
    ! grep -q failed "$tmpdir/qio.log" || fail "qemu-io: $(cat "$tmpdir/qio.log")"
    ref_apply "$in" "$out" "$@"
}

segs ()
{
    ls "$jdir" | grep -c '^seg-'
}

truncate -s 4M "$tmpdir/ref0.img"
s1=$(now); write_ops "$tmpdir/ref0.img" "$tmpdir/ref1.img" "write -P 0x11 0 64k"; t1=$(now)
cdp fold p >/dev/null || fail "cdp fold"
ops=()
for i in $(seq 0 39); do ops+=("write -P $((i + 32)) $(( (i % 60) * 64 + 64 ))k 64k"); done
s3=$(now); write_ops "$tmpdir/ref1.img" "$tmpdir/ref3.img" "${ops[@]}"; t3=$(now)
[ "$(segs)" -ge 3 ] || fail "40 writes of 64 KiB filled fewer than 2 segments of 1 MiB"
sec=$(date +%s)
wait_for 10 "the next second" eval '[ "$(date +%s)" -gt "$sec" ]'
s4=$(now); write_ops "$tmpdir/ref3.img" "$tmpdir/ref4.img" "write -P 0x77 3M 512"; t4=$(now)
cdp fold p >/dev/null || fail "cdp fold"

# Retention keeps the last segment only, once B1 is 2 s old.
wait_for 60 "retention to keep only the newest journal segment" \
    eval '[ "$(segs)" -eq 1 ] && grep -q reclaimed "$serve_log"'

cdp points p --json >"$tmpdir/points.json" || fail "cdp points"
# Each listed point and the references it may equal: the state after
# the last step acknowledged by then, or (inside a step of one write)
# the state before it; inside the 40 writes, any ('-').
python3 - "$tmpdir/points.json" "$s1" "$t1" "$s3" "$t3" "$s4" "$t4" \
    >"$tmpdir/expect.txt" <<'PY' || fail "cannot read the points"
import json, sys
from datetime import datetime, timezone
def ns(s):
    if s.startswith("@"):
        a, _, b = s[1:].partition(".")
    else:
        base, _, b = s.rstrip("Z").partition(".")
        a = int(datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=timezone.utc).timestamp())
    return int(a) * 10**9 + int((b + "0" * 9)[:9])
s1, t1, s3, t3, s4, t4 = map(ns, sys.argv[2:])
for p in json.load(open(sys.argv[1]))["points"]:
    t = ns(p["time"])
    if t < s1: refs = "ref0"
    elif t < t1: refs = "ref0,ref1"
    elif t < s3: refs = "ref1"
    elif t < t3: refs = "-"
    elif t < s4: refs = "ref3"
    elif t < t4: refs = "ref3,ref4"
    else: refs = "ref4"
    print(p["time"], p["kind"], refs)
PY
cat "$tmpdir/expect.txt"
n=0
while read -r t kind refs; do
    out=$tmpdir/pt-$n.img
    n=$((n + 1))
    cdp restore p --at "$t" --output "$out" --format raw 2>"$tmpdir/err" ||
        fail "point $t ($kind) is listed, but refused: $(cat "$tmpdir/err")"
    [ "$refs" = - ] && continue
    ok=
    for r in ${refs//,/ }; do
        cmp -s "$out" "$tmpdir/$r.img" && ok=$r
    done
    [ -n "$ok" ] || fail "point $t ($kind) holds none of: $refs"
done <"$tmpdir/expect.txt"
grep -q ' second ' "$tmpdir/expect.txt" || fail "no second listed at all"
stop_cdp_serve
