#!/usr/bin/env bash
# cdp get of / walks every partition; inode numbers are per file system,
# so two partitions may each hold a hard-linked file under the same
# inode number.  Each hard link must be made to the file of its own
# partition, in the tree and in the archive: never to the other
# partition's file of that number.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/../files/functions.sh"
requires tar debugfs

files_task h 128M

# The same layout on both file systems gives the same inode numbers.
for n in 1 2; do
    mkdir -p "$tmpdir/s$n/d"
    echo "partition $n" >"$tmpdir/s$n/d/a"
    ln "$tmpdir/s$n/d/a" "$tmpdir/s$n/d/b"
    ext4_image "$tmpdir/f$n.img" "$tmpdir/s$n" 24M
done
i1=$(debugfs -R 'stat /d/b' "$tmpdir/f1.img" 2>/dev/null | sed -n 's/^Inode: \([0-9]*\).*/\1/p')
i2=$(debugfs -R 'stat /d/b' "$tmpdir/f2.img" 2>/dev/null | sed -n 's/^Inode: \([0-9]*\).*/\1/p')
[ -n "$i1" ] && [ "$i1" = "$i2" ] || fail "the two file systems differ in inode numbers ($i1, $i2)"

disk=$tmpdir/disk.img
table_disk "$disk" 128M gpt "1:24::$tmpdir/f1.img" "30:24::$tmpdir/f2.img"
at=$(put_disk h "$disk")

check ()
{
    local root=$1 what=$2 n
    for n in 1 2; do
        [ "$(cat "$root/p$n/d/a")" = "partition $n" ] && [ "$(cat "$root/p$n/d/b")" = "partition $n" ] ||
            fail "$what: p$n/d/b is '$(cat "$root/p$n/d/b")', not 'partition $n'"
    done
}

cdp get h --at "$at" / --output "$tmpdir/tree" 2>"$tmpdir/get.err" ||
    fail "get: $(cat "$tmpdir/get.err")"
check "$tmpdir/tree/." "get"

cdp get h --at "$at" / --tar --output "$tmpdir/all.tar" 2>"$tmpdir/get.err" ||
    fail "get --tar: $(cat "$tmpdir/get.err")"
mkdir "$tmpdir/x"
tar -xf "$tmpdir/all.tar" -C "$tmpdir/x" || fail "tar -xf"
check "$tmpdir/x/." "get --tar"
echo "ok"
