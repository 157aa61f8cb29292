#!/usr/bin/env bash
# A hostile or corrupt file system gives an error, never a crash, and
# 'cdp get' never writes outside --output: a directory entry named '..'
# is skipped, a name that holds a '/' is refused, a name given twice (a symlink pointing out of DEST, then a
# directory of the same name whose files would go through it) are
# refused; symlinks pointing out are recreated as links, never followed;
# device nodes are not created and set-user-ID bits are dropped;
# a PATH with '..' stays inside the guest.  Corrupt images (random bytes
# over the metadata) give one-line errors, and the reader that parses
# them never dies.  The names are patched into the directory blocks of
# an ext4 made without metadata checksums.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/../files/functions.sh"

files_task h 64M
outside=$tmpdir/outside
mkdir "$outside"

src=$tmpdir/src
mkdir -p "$src/dots/zq" "$src/slash" "$src/dup/dupB" "$src/links"
echo "under dot-dot" >"$src/dots/zq/escaped"
echo "with a slash" >"$src/slash/zq_x"
echo "through the link" >"$src/dup/dupB/planted"
ln -s "$outside" "$src/dup/dupA"
ln -s "$outside" "$src/links/out-abs"
ln -s ../../../../../../.. "$src/links/out-rel"
echo inside >"$src/links/file"
mkdir "$src/special"
mknod "$src/special/null" c 1 3
mkfifo "$src/special/fifo"
printf '#!/bin/sh\n' >"$src/special/setuid"
chmod 4755 "$src/special/setuid"

# patch IMG FROM TO: replace the one directory entry name FROM (with its
# length and type bytes) by TO.
patch_name ()
{
    python3 - "$@" <<'PY'
import sys
img, old, new = sys.argv[1], bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
data = bytearray(open(img, "rb").read())
assert data.count(old) == 1, ("matches", data.count(old))
i = data.index(old)
data[i:i + len(new)] = new
open(img, "wb").write(data)
PY
}
fs=$tmpdir/fs.img
rm -f "$fs"
mkfs.ext4 -q -F -O ^metadata_csum,^dir_index -b 1024 -d "$src" "$fs" 48M
hex () { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
patch_name "$fs" "0202$(hex zq)" "0202$(hex ..)"           # dir 'zq' -> '..'
patch_name "$fs" "0401$(hex zq_x)" "0401$(hex zq/x)"       # 'zq_x' -> 'zq/x'
patch_name "$fs" "0402$(hex dupB)" "0402$(hex dupA)"       # dir 'dupB' -> 'dupA'
disk=$tmpdir/disk.img
table_disk "$disk" 64M gpt "1:48::$fs"
t1=$(put_disk h "$disk")

marker=$tmpdir/marker
touch "$marker"
# A second '..' entry is not a name at all: it is not listed, not written.
cdp get h --at "$t1" /p1/dots --output "$tmpdir/o1" 2>/dev/null
[ -z "$(ls -A "$tmpdir/o1")" ] || fail "a '..' entry was written: $(ls -A "$tmpdir/o1")"
cdp ls h --at "$t1" /p1/dots | grep -q . && fail "a '..' entry is listed"
expect_error 1 "refused to write a file named 'zq/x'" \
    cdp get h --at "$t1" /p1/slash --output "$tmpdir/o2"
expect_error 1 "refused to write .*dupA: it exists already" \
    cdp get h --at "$t1" /p1/dup --output "$tmpdir/o3"
[ -z "$(ls -A "$outside")" ] || fail "get wrote outside DEST: $(ls -A "$outside")"
new=$(find "$tmpdir" -mindepth 1 -path "$tmpdir/o[0-9]" -prune -o -newer "$marker" -print |
      grep -v -e "^$tmpdir/store" -e '\.log$' -e "^$tmpdir/expect\." || :)
[ -z "$new" ] || fail "files appeared outside DEST: $new"
[ -L "$tmpdir/o3/dupA" ] || fail "the symlink itself was not recreated"

# Symlinks pointing out are links in DEST, and nothing is written through them.
cdp get h --at "$t1" /p1/links --output "$tmpdir/o4" 2>/dev/null
[ "$(readlink "$tmpdir/o4/out-abs")" = "$outside" ] || fail "out-abs not recreated"
[ "$(readlink "$tmpdir/o4/out-rel")" = ../../../../../../.. ] || fail "out-rel not recreated"
[ -z "$(ls -A "$outside")" ] || fail "get wrote through a symlink"
# A guest's device node never appears on the host; set-user-ID is dropped.
cdp ls h --at "$t1" /p1/special | grep -q '^crw-.* null$' ||
    fail "ls does not show the device node"
cdp get h --at "$t1" /p1/special --output "$tmpdir/o6" 2>"$tmpdir/o6.err"
grep -q 'device nodes and sockets skipped' "$tmpdir/o6.err" || fail "get: $(cat "$tmpdir/o6.err")"
[ ! -e "$tmpdir/o6/null" ] || fail "get created a device node"
[ -p "$tmpdir/o6/fifo" ] || fail "get did not recreate the fifo"
[ "$(stat -c %a "$tmpdir/o6/setuid")" = 755 ] || fail "get kept the set-user-ID bit"
# '..' in PATH is resolved inside the guest, clamped at its root.
[ "$(cdp cat h --at "$t1" /p1/links/../../../p1/links/file)" = inside ] ||
    fail "'..' in PATH"
cdp get h --at "$t1" /p1/../p1/links/../links --output "$tmpdir/o5" 2>/dev/null
[ -f "$tmpdir/o5/file" ] || fail "get with '..' in PATH"
# A symlink in PATH that points out of the file system stays inside it.
[ "$(cdp cat h --at "$t1" /p1/links/out-rel/links/file)" = inside ] ||
    fail "a relative symlink climbing out of the root"
expect_error 1 'exists' cdp get h --at "$t1" /p1/links/file --output "$tmpdir/o4/file"

# Corrupt images: one clear line, exit 1, and the reader never dies.
mkfs.ext4 -q -F -d "$src/links" "$fs" 48M
for round in $(seq 12); do
    python3 - "$fs" "$tmpdir/bad.img" "$round" <<'PY'
import random, sys
data = bytearray(open(sys.argv[1], "rb").read())
rnd = random.Random(int(sys.argv[3]))
for _ in range(rnd.randint(1, 64)):
    data[rnd.randrange(1024, 1 << 20)] = rnd.randrange(256)
open(sys.argv[2], "wb").write(data)
PY
    table_disk "$disk" 64M gpt "1:48::$tmpdir/bad.img"
    at=$(put_disk h "$disk")
    for cmd in "ls h --at $at /p1" "cat h --at $at /p1/file" \
               "get h --at $at /p1 --output $tmpdir/c$round"; do
        rc=0
        "$CDP" $cmd >/dev/null 2>"$tmpdir/c.err" || rc=$?
        [ "$rc" -le 1 ] || fail "round $round: cdp $cmd exited $rc: $(cat "$tmpdir/c.err")"
        if [ "$rc" -eq 1 ]; then
            [ "$(wc -l <"$tmpdir/c.err")" -eq 1 ] ||
                fail "round $round: cdp $cmd said more than one line: $(cat "$tmpdir/c.err")"
        fi
        ! grep -q -e died -e malformed -e Sanitizer -e 'runtime error' "$tmpdir/c.err" ||
            fail "round $round: cdp $cmd: $(cat "$tmpdir/c.err")"
    done
done
stop_cdp_serve
