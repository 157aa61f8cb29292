#!/usr/bin/env bash
# cdp get --tar and cat --offset/--length where the file system is read
# through libguestfs (xfs, made with mkfs.xfs -p PROTO): GNU tar
# extracts the archive into the tree plain 'cdp get' writes (to the
# nanosecond) with the guest's bytes; get --json names the reader; a
# range of a file is its bytes, read in pieces without a temporary file.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/../files/functions.sh"
requires mkfs.xfs guestfish tar
# Where KVM does not work, guestfish (not cdp, which retries) needs TCG.
if ! guestfish -a /dev/null run >/dev/null 2>&1; then
    export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
fi

files_task x 320M
long=$(printf 'n%.0s' $(seq 150))
head -c $((3 << 20)) /dev/urandom >"$tmpdir/big"
echo "xfs hosts" >"$tmpdir/hosts"
: >"$tmpdir/empty"
cat >"$tmpdir/proto" <<PROTO
/dummy
0 0
d--755 0 0
etc d--750 0 0
hosts ---640 0 0 $tmpdir/hosts
$long d--755 0 0
$long ---644 1234 5678 $tmpdir/hosts
\$
\$
big ---644 0 0 $tmpdir/big
empty ---600 0 0 $tmpdir/empty
link l--777 0 0 etc/hosts
\$
PROTO
truncate -s 300M "$tmpdir/x.img"
mkfs.xfs -q -p "$tmpdir/proto" "$tmpdir/x.img"
table_disk "$tmpdir/disk.img" 320M gpt "1:300::$tmpdir/x.img"
at=$(put_disk x "$tmpdir/disk.img")

cdp get x --at "$at" /p1 --output "$tmpdir/plain" 2>/dev/null || fail "plain get through libguestfs"
cdp get x --at "$at" /p1 --tar --output "$tmpdir/p1.tar" --json >"$tmpdir/get.json" ||
    fail "get --tar through libguestfs"
python3 - "$tmpdir/get.json" <<'PY' || fail "get --json: $(cat "$tmpdir/get.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["reader"] == "libguestfs" and d["format"] == "tar", d
assert d["files"] == 4 and d["symlinks"] == 1 and d["bytes"] == (3 << 20) + 20, d
PY
tar -tvf "$tmpdir/p1.tar" >"$tmpdir/list" || fail "tar -tvf"
grep -q "^-rw-r--r-- 1234/5678 .* p1/etc/$long/$long$" "$tmpdir/list" ||
    fail "tar -tv: the long path: $(cat "$tmpdir/list")"
mkdir "$tmpdir/x"
tar -xf "$tmpdir/p1.tar" -C "$tmpdir/x" || fail "tar -xf"
tree_exact "$tmpdir/plain" "$tmpdir/x/p1" "tar -xf against plain get through libguestfs"
cmp "$tmpdir/x/p1/big" "$tmpdir/big" || fail "the 3 MiB file"
cmp "$tmpdir/x/p1/etc/hosts" "$tmpdir/hosts" || fail "etc/hosts"
[ "$(stat -c %a "$tmpdir/x/p1/etc")" = 750 ] || fail "the mode of etc"
[ "$(readlink "$tmpdir/x/p1/link")" = etc/hosts ] || fail "the symlink"

# A range across the 1 MiB pieces, and one cut at the end.
cdp cat x --at "$at" /p1/big --offset $(((1 << 20) - 5)) --length $(((1 << 20) + 10)) >"$tmpdir/r1" ||
    fail "cat --offset --length through libguestfs"
cmp "$tmpdir/r1" <(tail -c +$(((1 << 20) - 4)) "$tmpdir/big" | head -c $(((1 << 20) + 10))) ||
    fail "the range across pieces"
cdp cat x --at "$at" /p1/big --offset $(((3 << 20) - 3)) --length 100 >"$tmpdir/r2" ||
    fail "cat of the end through libguestfs"
cmp "$tmpdir/r2" <(tail -c 3 "$tmpdir/big") || fail "the range cut at the end"
stop_cdp_serve
