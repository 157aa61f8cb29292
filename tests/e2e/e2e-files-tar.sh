#!/usr/bin/env bash
# cdp get --tar writes a directory of a point as one POSIX pax archive
# that GNU tar lists and extracts into the tree the guest wrote, and
# the tree plain 'cdp get' writes, to the nanosecond: paths over 100
# and over 255 bytes, a name that is not UTF-8 in a long path, link
# targets over 100 bytes, symlinks, a hard link, an empty file, a
# sparse 300 MiB file, a fifo, modes (sticky, set-user-ID dropped),
# owners, an mtime before 1970.  A device node is skipped and counted.
# The same archive comes on standard output, byte for byte.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/../files/functions.sh"
requires tar mknod mkfifo debugfs

files_task t 512M

src=$tmpdir/src/tree
long1=$(printf 'd%.0s' $(seq 60))
long2=$(printf 'e%.0s' $(seq 70))
long3=$(printf 'f%.0s' $(seq 200))
mkdir -p "$src/$long1/$long2" "$src/modes/sticky" "$src/"$'bin\xffary'
echo "deep file" >"$src/$long1/$long2/$long3"                  # path > 255
echo "split" >"$src/$long1/$long2/short"                       # prefix + name
echo "raw bytes" >"$src/"$'bin\xffary/'"$long3"                 # not UTF-8, long
: >"$src/empty"
truncate -s 300M "$src/sparse"
echo "start of sparse" | dd of="$src/sparse" conv=notrunc status=none
echo "end of sparse" >>"$src/sparse"
ln -s "$long1/$long2/$long3" "$src/long-link"                  # target > 255
ln -s /etc/passwd "$src/abs-link"
ln -s nowhere "$src/dangling"
echo "linked twice" >"$src/first"
ln "$src/first" "$src/$long1/hard-to-first"
mkfifo "$src/fifo"
mknod "$src/modes/null" c 1 3
printf '#!/bin/sh\n' >"$src/modes/setuid"
chmod 4755 "$src/modes/setuid"
echo secret >"$src/modes/private"
chmod 0600 "$src/modes/private"
chmod 1777 "$src/modes/sticky"
chmod 0751 "$src/modes"
chown 1234:5678 "$src/modes/private"
touch -h -d '1960-02-03 04:05:06' "$src/empty"
touch -d '2021-06-07 08:09:10.123456789' "$src/first"

fs=$tmpdir/fs.img
ext4_image "$fs" "$tmpdir/src" 480M
# mkfs.ext4 -d keeps whole seconds only: the nanoseconds by hand (the
# extra field holds them shifted left by 2).
debugfs -w -R "set_inode_field /tree/first mtime_extra $((123456789 << 2))" "$fs" 2>/dev/null
at=$(put_disk t "$fs")

# Plain get: the reference.
cdp get t --at "$at" /tree --output "$tmpdir/plain" 2>/dev/null || fail "plain get"

# The archive to a file: GNU tar lists it and extracts the same tree.
cdp get t --at "$at" /tree --tar --output "$tmpdir/tree.tar" 2>"$tmpdir/get.err" ||
    fail "get --tar: $(cat "$tmpdir/get.err")"
grep -q 'device nodes and sockets skipped' "$tmpdir/get.err" ||
    fail "get --tar does not say the device node was skipped: $(cat "$tmpdir/get.err")"
tar -tvf "$tmpdir/tree.tar" >"$tmpdir/list" || fail "tar -tvf: $(cat "$tmpdir/list")"
grep -q "^drwxr-x--x 0/0 .* tree/modes/$" "$tmpdir/list" || fail "tar -tv: the modes directory"
grep -q "^-rw------- 1234/5678 .* tree/modes/private$" "$tmpdir/list" || fail "tar -tv: owners"
grep -q "^-rwxr-xr-x .* tree/modes/setuid$" "$tmpdir/list" || fail "tar -tv: set-user-ID kept"
grep -q "^drwxrwxrwt .* tree/modes/sticky/$" "$tmpdir/list" || fail "tar -tv: sticky bit"
grep -q "^-rw-r--r-- .* 314572814 .* tree/sparse$" "$tmpdir/list" || fail "tar -tv: the sparse file"
grep -q "^-rw-r--r-- .* 0 1960-02-03 .* tree/empty$" "$tmpdir/list" || fail "tar -tv: the empty file"
grep -q "^lrwxrwxrwx .* tree/long-link -> $long1/$long2/$long3$" "$tmpdir/list" ||
    fail "tar -tv: the long symlink"
grep -Eq "^hrw-r--r-- .* (tree/$long1/hard-to-first link to tree/first|tree/first link to tree/$long1/hard-to-first)$" \
     "$tmpdir/list" || fail "tar -tv: the hard link"
grep -q "^prw-r--r-- .* tree/fifo$" "$tmpdir/list" || fail "tar -tv: the fifo"
grep -q "tree/$long1/$long2/$long3$" "$tmpdir/list" || fail "tar -tv: the path over 255 bytes"
! grep -q 'null' "$tmpdir/list" || fail "tar -tv: the device node is in the archive"

mkdir "$tmpdir/x"
tar -xf "$tmpdir/tree.tar" -C "$tmpdir/x" || fail "tar -xf"
tree_exact "$tmpdir/plain" "$tmpdir/x/tree" "tar -xf against plain get"
touch -r "$src/modes" "$tmpdir/modes-time"
rm -f "$src/modes/null"             # skipped by both, as documented
touch -r "$tmpdir/modes-time" "$src/modes"
tree_same "$src" "$tmpdir/x/tree" "tar -xf against the guest's tree"
[ "$(stat -c %y "$tmpdir/x/tree/first")" = "$(stat -c %y "$src/first")" ] ||
    fail "nanoseconds of an mtime: $(stat -c %y "$tmpdir/x/tree/first")"
[ "$(stat -c %Y "$tmpdir/x/tree/empty")" = "$(stat -c %Y "$src/empty")" ] ||
    fail "an mtime before 1970: $(stat -c %Y "$tmpdir/x/tree/empty")"
rm -rf "$tmpdir/x"

# To standard output: the same bytes, and tar reads it from a pipe.
cdp get t --at "$at" /tree --tar --output - 2>/dev/null | cmp - "$tmpdir/tree.tar" ||
    fail "the archive on standard output differs from the file"
mkdir "$tmpdir/y"
cdp get t --at "$at" /tree/modes --tar --output - 2>/dev/null | tar -xf - -C "$tmpdir/y" ||
    fail "tar -x from the pipe"
tree_exact "$tmpdir/plain/modes" "$tmpdir/y/modes" "a subdirectory from the pipe"
# One file: a one-member archive; the root: members under './'.
cdp get t --at "$at" /tree/first --tar --output - 2>/dev/null | tar -tf - >"$tmpdir/one"
[ "$(cat "$tmpdir/one")" = first ] || fail "archive of one file: $(cat "$tmpdir/one")"
cdp get t --at "$at" / --tar --output - 2>/dev/null | tar -tf - >"$tmpdir/root"
[ "$(head -n 1 "$tmpdir/root")" = ./ ] && grep -qx ./tree/first "$tmpdir/root" ||
    fail "archive of /: $(head -n 3 "$tmpdir/root")"

# Nothing is replaced; a failed archive leaves no file.
expect_error 1 'exists; cdp get replaces nothing' \
    cdp get t --at "$at" /tree --tar --output "$tmpdir/tree.tar"
expect_error 1 'no such file' cdp get t --at "$at" /tree/nosuch --tar --output "$tmpdir/no.tar"
[ ! -e "$tmpdir/no.tar" ] || fail "a failed get --tar left its file"
stop_cdp_serve
