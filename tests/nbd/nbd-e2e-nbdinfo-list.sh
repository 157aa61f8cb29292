#!/usr/bin/env bash
# nbdinfo --list sees every export with its description (NBD_OPT_LIST,
# NBD_OPT_INFO with NBD_INFO_DESCRIPTION); an unknown export is refused.
source "$(dirname "$0")/functions.sh"
requires nbdinfo

out=$(nbd_server --size 1M --export "point-1=first point" \
        --export "point-2=second point" --export base \
        --run 'nbdinfo --list "$uri"')
echo "$out"
for e in point-1 point-2 base; do
    grep -q "export=\"$e\"" <<<"$out" || fail "export $e not listed"
done
grep -q "description: first point" <<<"$out" || fail "no description"

if nbd_server --size 1M --export a --run \
       'nbdinfo "nbd+unix:///nope?socket=$sock"' 2>"$tmpdir/err"; then
    fail "unknown export accepted"
fi
cat "$tmpdir/err"
