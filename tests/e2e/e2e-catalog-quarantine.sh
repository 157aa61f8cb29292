#!/usr/bin/env bash
# Base point images the catalog does not name are moved aside to
# base/quarantine/, never deleted: with base/catalog.json removed, cdp
# serve keeps every image there (byte for byte) and says so; only
# a *.tmp image (an unfinished fold) is deleted.  A catalog that is
# truncated is not read as empty: the task is refused, its images stay.
source "$(dirname "$0")/functions.sh"
requires qemu-io sha256sum

rx=$tmpdir/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
base=$CDP_STORE/tasks/q/base
cdp task create q --size 8M --listen "unix:$rx"
start_cdp_serve
wait_for 20 "the receiver's socket" test -S "$rx"
for i in 1 2 3; do
    qemu-io -f raw -c "write -P $i $((i * 1024))k 512k" "$uri" >/dev/null ||
        fail "qemu-io into the receiver"
    cdp fold q >/dev/null || fail "cdp fold"
done
stop_cdp_serve
images=$(cd "$base" && ls d*-*.qcow2 | sort)
[ "$(echo "$images" | wc -l)" -ge 3 ] || fail "expected 3 base points, have: $images"
(cd "$base" && sha256sum $images) >"$tmpdir/sums"

# A truncated catalog: the task is refused, nothing moves.
cp "$base/catalog.json" "$tmpdir/catalog.good"
truncate -s 20 "$base/catalog.json"
serve_once "$tmpdir/refused.err"
grep -q "task q refused: cannot read $base/catalog.json: not valid JSON" \
    "$tmpdir/refused.err" || fail "serve did not name the catalog: $(cat "$tmpdir/refused.err")"
[ "$(cd "$base" && ls d*-*.qcow2 | sort)" = "$images" ] ||
    fail "images moved or deleted under a damaged catalog"
[ ! -e "$base/quarantine" ] || fail "quarantined under a damaged catalog"

# The catalog removed, and a leftover of an unfinished fold.
rm "$base/catalog.json"
cp "$base/$(echo "$images" | sed -n 1p)" "$base/d0-00000000000000ff.qcow2.tmp"
start_cdp_serve
grep -q "base point images\? not in the catalog moved to $base/quarantine/" \
    "$serve_log" || fail "serve does not say where the images went"
stop_cdp_serve
[ ! -e "$base/d0-00000000000000ff.qcow2.tmp" ] || fail "the unfinished image is still there"
for f in $images; do
    [ -f "$base/quarantine/$f" ] || fail "$f was not quarantined"
done
(cd "$base/quarantine" && sha256sum -c --quiet "$tmpdir/sums") ||
    fail "images changed in quarantine"
