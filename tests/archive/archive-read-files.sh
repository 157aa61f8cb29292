#!/usr/bin/env bash
# cdp ls, cat and get --archive read the files of an archived point
# with no store: an ext4 file system (mkfs.ext4 -d) spread over several
# chunks, its tree listed, a file read whole and in part, and the tree
# got back the same as it was made.
source "$(dirname "$0")/../e2e/functions.sh"
source "$(dirname "$0")/../files/functions.sh"
source "$(dirname "$0")/reading.sh"

arch=$tmpdir/archive
tree=$tmpdir/tree
mkdir -p "$tree/etc" "$tree/data/deep"
echo "archived host" >"$tree/etc/hostname"
head -c $((9 << 20)) /dev/urandom >"$tree/data/nine-mib"
echo "leaf" >"$tree/data/deep/leaf"
ln -s ../etc/hostname "$tree/data/link"
touch -d '2024-03-04 05:06:07' "$tree/etc/hostname"

archive_task f 32M --bp-interval 7d
ext4_image "$tmpdir/fs.img" "$tree" 32M
put_image f "$tmpdir/fs.img" >/dev/null
t=$(push_point f "$arch")
stop_cdp_serve
fresh_store

cdp ls --archive "$arch" f --at "$t" /data >"$tmpdir/ls.txt" || fail "ls --archive"
for n in nine-mib deep link; do
    grep -q "$n" "$tmpdir/ls.txt" || fail "ls does not list $n: $(cat "$tmpdir/ls.txt")"
done
cdp ls --archive "$arch" f --at "$t" / --json >"$tmpdir/ls.json" || fail "ls --json"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
names = {e["name"] for e in d["entries"]}
assert {"etc", "data"} <= names, names
' "$tmpdir/ls.json" || fail "ls --json: $(cat "$tmpdir/ls.json")"
[ "$(cdp cat --archive "$arch" f --at "$t" /etc/hostname)" = "archived host" ] ||
    fail "cat of /etc/hostname"
cdp cat --archive "$arch" f --at "$t" /data/nine-mib --offset 5M --length 1M \
    >"$tmpdir/part" || fail "cat --offset --length"
dd if="$tree/data/nine-mib" bs=1M skip=5 count=1 status=none | cmp - "$tmpdir/part" ||
    fail "cat of a range differs"
cdp get --archive "$arch" f --at "$t" / --output "$tmpdir/got" || fail "get --archive"
rm -rf "$tmpdir/got/lost+found"
tree_same "$tree" "$tmpdir/got" "get of the archived point"
expect_error 1 "cannot read .*no/such" \
    cdp cat --archive "$arch" f --at "$t" /no/such
echo "read the files of $t from $arch"
