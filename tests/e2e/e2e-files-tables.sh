#!/usr/bin/env bash
# Partition tables: a GPT disk with ext4, ext2 and ext3 partitions; an MBR
# disk with a primary partition and two logical ones in an extended
# partition (p1, p5, p6, as Linux numbers them); a disk that is one ext4
# file system without a table, holding a sparse file larger than 4 GiB.  Each written at its own time through one
# task; at each point / lists the partitions (or the file system's root)
# and files read back from the right one.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/../files/functions.sh"
requires mkfs.ext2 mkfs.ext3

files_task p 128M

for n in 1 2 3 4 5 6; do
    mkdir -p "$tmpdir/s$n/sub"
    echo "partition $n" >"$tmpdir/s$n/sub/id"
done
mkfs.ext4 -q -F -d "$tmpdir/s1" "$tmpdir/f1.img" 24M
mkfs.ext2 -q -F -d "$tmpdir/s2" "$tmpdir/f2.img" 16M
mkfs.ext3 -q -F -d "$tmpdir/s3" "$tmpdir/f3.img" 16M
mkfs.ext4 -q -F -d "$tmpdir/s5" "$tmpdir/f5.img" 16M
mkfs.ext2 -q -F -d "$tmpdir/s6" "$tmpdir/f6.img" 8M
# A file larger than 4 GiB (sparse, data at its end) on the bare disk.
truncate -s 5G "$tmpdir/s4/large"
echo "past 4 GiB" >>"$tmpdir/s4/large"
mkfs.ext4 -q -F -d "$tmpdir/s4" "$tmpdir/bare.img" 128M

disk=$tmpdir/disk.img
table_disk "$disk" 128M gpt "1:24::$tmpdir/f1.img" "30:16::$tmpdir/f2.img" \
    "50:16::$tmpdir/f3.img"
t_gpt=$(put_disk p "$disk")
# MBR: p1 primary, p2 extended holding p5 and p6 (each logical partition
# 1 MiB after its EBR).
table_disk "$disk" 128M dos "1:24:83:$tmpdir/f1.img" "30:60:5" \
    "31:16:83:$tmpdir/f5.img" "50:8:83:$tmpdir/f6.img"
t_mbr=$(put_disk p "$disk")
t_bare=$(put_disk p "$tmpdir/bare.img")

check_root ()
{
    local at=$1 want=$2 got
    got=$(cdp ls p --at "$at" / | awk '{print $1 ":" $2}' | tr '\n' ' ')
    [ "$got" = "$want" ] || fail "ls / at $at: '$got', expected '$want'"
}

check_root "$t_gpt" "p1:ext4 p2:ext2 p3:ext3 "
check_root "$t_mbr" "p1:ext4 p5:ext4 p6:ext2 "
for pair in "$t_gpt p1 1" "$t_gpt p2 2" "$t_gpt p3 3" "$t_mbr p1 1" "$t_mbr p5 5" \
            "$t_mbr p6 6"; do
    set -- $pair
    [ "$(cdp cat p --at "$1" "/$2/sub/id")" = "partition $3" ] ||
        fail "/$2/sub/id at $1 is not partition $3"
done
cdp ls p --at "$t_gpt" / --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
sizes = {e["name"]: (e["fs"], e["size"], e["type"]) for e in d["entries"]}
want = {"p1": ("ext4", 24 << 20, "dir"), "p2": ("ext2", 16 << 20, "dir"),
        "p3": ("ext3", 16 << 20, "dir")}
assert sizes == want, sizes' || fail "ls --json / of the GPT disk"

# No table: paths from the file system's root.
[ "$(cdp cat p --at "$t_bare" /sub/id)" = "partition 4" ] || fail "bare disk: /sub/id"
cdp ls p --at "$t_bare" / | grep -q ' sub$' || fail "bare disk: ls / shows no sub"
cdp ls p --at "$t_bare" /large | grep -q ' 5368709131 .* large$' ||
    fail "bare disk: the size of a file past 4 GiB"
[ "$(cdp cat p --at "$t_bare" /large | tail -c 11)" = "past 4 GiB" ] ||
    fail "bare disk: the end of a file past 4 GiB"
cdp get p --at "$t_bare" /large --output "$tmpdir/large" 2>/dev/null
[ "$(stat -c %s "$tmpdir/large")" = 5368709131 ] && [ "$(du -k "$tmpdir/large" | cut -f1)" -lt 1024 ] ||
    fail "get of a sparse file past 4 GiB: $(stat -c %s "$tmpdir/large"), $(du -k "$tmpdir/large")"
[ "$(tail -c 11 "$tmpdir/large")" = "past 4 GiB" ] || fail "get of a file past 4 GiB: its end"
expect_error 1 'no such file' cdp ls p --at "$t_bare" /p1
expect_error 1 'no partition p4' cdp ls p --at "$t_mbr" /p4/sub
expect_error 1 "paths start with a partition.*not with 'sub'" cdp ls p --at "$t_mbr" /sub
expect_error 1 'is a directory' cdp cat p --at "$t_mbr" /p5/sub
expect_error 1 '/ is a directory' cdp cat p --at "$t_mbr" /

# The contract's refusals.
expect_error 2 'absolute' cdp ls p --at "$t_gpt" p1/sub
expect_error 2 'usage' cdp cat p --at "$t_gpt"
expect_error 2 'usage' cdp get p --at "$t_gpt" /p1/sub
expect_error 2 'unknown option --json' cdp cat p --at "$t_gpt" /p1/sub/id --json
expect_error 1 "no task 'nosuch'" cdp ls nosuch --at now /
cdp ls --help | grep -q 'usage: cdp ls' || fail "ls --help"
stop_cdp_serve
