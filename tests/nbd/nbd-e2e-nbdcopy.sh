#!/usr/bin/env bash
# nbdcopy copies out of and into the export, over several connections
# (the export advertises multi-conn) with many requests in flight.
source "$(dirname "$0")/functions.sh"
requires nbdcopy cmp truncate

src=$tmpdir/src.img
random_file "$src" 48M
truncate -s 64M "$src"

nbd_server --file "$src" --read-only \
    --run "nbdcopy --connections=4 --requests=32 \"\$uri\" $tmpdir/out.img"
cmp "$src" "$tmpdir/out.img" || fail "copy out differs"

dst=$tmpdir/dst.img
truncate -s 64M "$dst"
dd if=/dev/urandom of="$dst" bs=1M count=64 conv=notrunc status=none
nbd_server --file "$dst" \
    --run "nbdcopy --connections=4 --requests=32 $src \"\$uri\""
cmp "$src" "$dst" || fail "copy in differs"
