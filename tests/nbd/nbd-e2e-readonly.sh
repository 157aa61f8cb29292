#!/usr/bin/env bash
# A read-only export serves reads and refuses writes, and the file is
# left untouched.
source "$(dirname "$0")/functions.sh"
requires qemu-io cmp

disk=$tmpdir/disk.img
random_file "$disk" 4M
cp "$disk" "$tmpdir/orig.img"
if nbd_server --file "$disk" --read-only \
       --run 'qemu-io -f raw -r "$uri" -c "read 0 1M" &&
              qemu-io -f raw "$uri" -c "write -P 0 0 4096"' \
       > "$tmpdir/log" 2>&1; then
    cat "$tmpdir/log"
    fail "write to a read-only export succeeded"
fi
cat "$tmpdir/log"
grep -q "read 1048576/1048576" "$tmpdir/log" || fail "read failed"
cmp "$disk" "$tmpdir/orig.img" || fail "read-only file changed"
