#!/usr/bin/env bash
# qemu-img convert copies out of a read-only export and into a writable
# one; qemu-img compare agrees byte for byte.
source "$(dirname "$0")/functions.sh"
requires qemu-img cmp truncate

src=$tmpdir/src.img
random_file "$src" 8M
truncate -s 24M "$src"              # a sparse tail
dd if=/dev/urandom of="$src" bs=1M count=2 seek=20 conv=notrunc status=none

# Out of a read-only export.
nbd_server --file "$src" --read-only \
    --run "qemu-img convert -f raw -O raw \"\$uri\" $tmpdir/out.img"
cmp "$src" "$tmpdir/out.img" || fail "copy out differs"

# Into a writable export.
dst=$tmpdir/dst.img
truncate -s 24M "$dst"
nbd_server --file "$dst" \
    --run "qemu-img convert -n -f raw -O raw $src \"\$uri\" &&
           qemu-img compare -f raw -F raw $src \"\$uri\""
cmp "$src" "$dst" || fail "copy in differs"
