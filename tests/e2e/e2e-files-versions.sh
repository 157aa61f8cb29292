#!/usr/bin/env bash
# cdp ls/cat/get read the files of an ext4 partition (MBR) as they were at
# each point: three versions of a tree written through a manual task's
# receiver, each read back at its own time and compared file for file
# (types, modes, sizes, mtimes, symlink targets, contents, hard links)
# with the tree it was made from.  The trees hold a large sparse file, a
# 10 MiB file, a deep directory chain, symlinks, hard links and names
# with spaces, UTF-8 and bytes that are not UTF-8.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/../files/functions.sh"

files_task v 256M

# make_tree DIR N: version N of the tree.
make_tree ()
{
    local d=$1 n=$2 deep i
    mkdir -p "$d/etc" "$d/dir with spaces" "$d/café" "$d/"$'bad\xff\xfename'
    echo "version $n" >"$d/etc/version"
    printf 'UUID=%s / ext4 defaults 0 1\n' "$n" >"$d/etc/fstab"
    echo "naïve $n" >"$d/café/résumé.txt"
    echo "spaced $n" >"$d/dir with spaces/a file"
    echo "raw $n" >"$d/"$'bad\xff\xfename/'$'\x01ctl'
    head -c $((10 << 20)) /dev/urandom >"$d/ten-mib"
    truncate -s 1G "$d/sparse"
    echo "end of sparse $n" >>"$d/sparse"
    ln -s etc/fstab "$d/fstab-link"
    ln -s /etc/passwd "$d/absolute-link"
    ln -s nowhere "$d/dangling"
    ln "$d/etc/version" "$d/version-hardlink"
    deep=$d
    for i in $(seq 40); do deep=$deep/d$i; done
    mkdir -p "$deep"
    echo "bottom $n" >"$deep/leaf"
    chmod 0600 "$d/etc/fstab"
    chmod 0751 "$d/etc"
    touch -d "2020-0$n-0$n 12:34:56" "$d/etc/version"
    if [ "$n" -ge 2 ]; then
        rm "$d/dangling"
        mkdir "$d/new-in-$n"
        echo "added in $n" >"$d/new-in-$n/file"
    fi
    if [ "$n" -ge 3 ]; then
        rm -r "$d/dir with spaces"
        mv "$d/café" "$d/cafe-renamed"
    fi
}

disk=$tmpdir/disk.img
for n in 1 2 3; do
    make_tree "$tmpdir/src$n" "$n"
    ext4_image "$tmpdir/fs$n.img" "$tmpdir/src$n" 200M
    table_disk "$disk" 256M dos "1:200:83:$tmpdir/fs$n.img"
    eval "t$n=\$(put_disk v \"\$disk\")"
    sleep 0.1
done

for n in 1 2 3; do
    eval "at=\$t$n"
    cdp ls v --at "$at" / >"$tmpdir/root.txt"
    grep -q '^p1 *ext4' "$tmpdir/root.txt" || fail "point $n: / is $(cat "$tmpdir/root.txt")"
    [ "$(wc -l <"$tmpdir/root.txt")" -eq 1 ] || fail "point $n: more than p1 at /"

    [ "$(cdp cat v --at "$at" /p1/etc/version)" = "version $n" ] ||
        fail "point $n: /p1/etc/version is not version $n"
    [ "$(cdp cat v --at "$at" /p1/fstab-link)" = "UUID=$n / ext4 defaults 0 1" ] ||
        fail "point $n: cat through a symlink"
    cdp cat v --at "$at" /p1/ten-mib | cmp - "$tmpdir/src$n/ten-mib" ||
        fail "point $n: cat of the 10 MiB file"

    cdp ls v --at "$at" /p1 --json >"$tmpdir/ls$n.json"
    ls_same "$tmpdir/src$n" "$tmpdir/ls$n.json" "point $n: ls /p1"
    cdp ls v --at "$at" "/p1/etc" --json >"$tmpdir/etc$n.json"
    ls_same "$tmpdir/src$n/etc" "$tmpdir/etc$n.json" "point $n: ls /p1/etc"
    cdp ls v --at "$at" /p1 | grep -q 'fstab-link -> etc/fstab' ||
        fail "point $n: ls -l shows no symlink target"

    cdp get v --at "$at" /p1 --output "$tmpdir/got$n" 2>"$tmpdir/get.err" ||
        fail "point $n: get: $(cat "$tmpdir/get.err")"
    rm -rf "$tmpdir/got$n/lost+found"
    tree_same "$tmpdir/src$n" "$tmpdir/got$n" "point $n: get /p1"
    [ "$(du -k "$tmpdir/got$n/sparse" | cut -f1)" -lt 1024 ] ||
        fail "point $n: the sparse file was written dense"
    rm -rf "$tmpdir/got$n"
done

# A single file, into an existing directory (DEST/NAME).
mkdir "$tmpdir/into"
cdp get v --at "$t2" /p1/new-in-2/file --output "$tmpdir/into" 2>/dev/null
[ "$(cat "$tmpdir/into/file")" = "added in 2" ] || fail "get of one file into a directory"
# A point before version 2 has no new-in-2; after version 3, no café.
expect_error 1 'no such file' cdp ls v --at "$t1" /p1/new-in-2
expect_error 1 'no such file' cdp cat v --at "$t3" "/p1/café/résumé.txt"
[ "$(cdp cat v --at "$t3" "/p1/cafe-renamed/résumé.txt")" = "naïve 3" ] ||
    fail "renamed directory at point 3"
stop_cdp_serve
