#!/usr/bin/env bash
# File systems cdp does not parse itself go through libguestfs over an
# NBD export of the point: xfs (made with mkfs.xfs -p PROTO) and vfat
# (mkfs.vfat + mcopy) on one GPT disk, two versions; ls, cat and get at
# both points; a file in an LVM logical volume (/p4/VG/LV/...), one on
# btrfs (mkfs.btrfs --rootdir) and one on ntfs (mkntfs + ntfscp).  A partition that holds no files (swap) fails with one
# line that names what it holds.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/../files/functions.sh"
requires mkfs.xfs mkfs.vfat mcopy mmd mkswap mkfs.btrfs mkntfs ntfscp guestfish
# Where KVM does not work, guestfish (not cdp, which retries) needs TCG.
if ! guestfish -a /dev/null run >/dev/null 2>&1; then
    export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
fi

files_task g 512M

xfs_image ()
{
    local img=$1 n=$2
    printf 'xfs file, version %s\n' "$n" >"$tmpdir/x$n.txt"
    cat >"$tmpdir/proto$n" <<PROTO
/dummy
0 0
d--755 0 0
etc d--750 0 0
hosts ---640 0 0 $tmpdir/x$n.txt
\$
link l--777 0 0 etc/hosts
\$
PROTO
    rm -f "$img"
    truncate -s 300M "$img"
    mkfs.xfs -q -p "$tmpdir/proto$n" "$img"
}

vfat_image ()
{
    local img=$1 n=$2
    printf 'vfat file, version %s\r\n' "$n" >"$tmpdir/v$n.txt"
    rm -f "$img"
    mkfs.vfat -C "$img" $((64 * 1024)) >/dev/null
    mmd -i "$img" ::/dir
    mcopy -i "$img" "$tmpdir/v$n.txt" ::/dir/hello.txt
}

# An LVM physical volume (made by guestfish itself) with ext4 in vg0/lv0.
lvm=$tmpdir/lvm.img
truncate -s 32M "$lvm"
guestfish -a "$lvm" run : pvcreate /dev/sda : vgcreate vg0 /dev/sda : \
    lvcreate lv0 vg0 16 : mkfs ext4 /dev/vg0/lv0 : mount /dev/vg0/lv0 / : \
    write /hello "lvm hello" || fail "guestfish could not make the LVM image"

disk=$tmpdir/disk.img
for n in 1 2; do
    xfs_image "$tmpdir/x.img" "$n"
    vfat_image "$tmpdir/v.img" "$n"
    mkdir -p "$tmpdir/b$n/etc"
    echo "btrfs file, version $n" >"$tmpdir/b$n/etc/hello"
    rm -f "$tmpdir/b.img"
    truncate -s 64M "$tmpdir/b.img"
    mkfs.btrfs -q --mixed --rootdir "$tmpdir/b$n" "$tmpdir/b.img" >/dev/null 2>&1 ||
        fail "mkfs.btrfs"
    echo "ntfs file, version $n" >"$tmpdir/n$n.txt"
    rm -f "$tmpdir/n.img"
    truncate -s 32M "$tmpdir/n.img"
    mkntfs -q -F -Q "$tmpdir/n.img" >/dev/null 2>&1 || fail "mkntfs"
    ntfscp -f "$tmpdir/n.img" "$tmpdir/n$n.txt" /hello.txt >/dev/null || fail "ntfscp"
    truncate -s 8M "$tmpdir/swap.img"
    mkswap -q "$tmpdir/swap.img"
    table_disk "$disk" 512M gpt "1:300::$tmpdir/x.img" "301:64::$tmpdir/v.img" \
        "366:8::$tmpdir/swap.img" "375:32::$lvm" "408:64::$tmpdir/b.img" \
        "473:32::$tmpdir/n.img"
    eval "t$n=\$(put_disk g \"\$disk\")"
done

got=$(cdp ls g --at "$t1" / | awk '{print $1 ":" $2}' | tr '\n' ' ')
[ "$got" = "p1:xfs p2:vfat p3:swap p4:lvm2 p5:btrfs p6:ntfs " ] || fail "ls /: $got"

# Each command starts the appliance (seconds under TCG): a few commands
# that cover ls, cat and get, on both file systems and both points.
[ "$(cdp cat g --at "$t1" /p1/etc/hosts)" = "xfs file, version 1" ] ||
    fail "point 1: cat of the xfs file"
cmp <(cdp cat g --at "$t1" /p2/dir/hello.txt) "$tmpdir/v1.txt" ||
    fail "point 1: cat of the vfat file"
cdp ls g --at "$t2" /p1 --json >"$tmpdir/ls.json"
python3 - "$tmpdir/ls.json" <<'PY' || fail "point 2: ls --json /p1: $(cat "$tmpdir/ls.json")"
import json, sys
e = {x["name"]: x for x in json.load(open(sys.argv[1]))["entries"]}
assert e["etc"]["type"] == "dir" and e["etc"]["mode"] == 0o750, e["etc"]
assert e["link"]["type"] == "symlink" and e["link"]["target"] == "etc/hosts", e["link"]
PY
cdp get g --at "$t2" /p1/etc --output "$tmpdir/etc2" 2>/dev/null || fail "point 2: get /p1/etc"
cmp "$tmpdir/etc2/hosts" "$tmpdir/x2.txt" || fail "point 2: get of the xfs tree"
[ "$(stat -c %a "$tmpdir/etc2/hosts")" = 640 ] || fail "point 2: mode not kept"
[ "$(stat -c %a "$tmpdir/etc2")" = 750 ] || fail "point 2: directory mode not kept"
[ "$(cdp cat g --at "$t1" /p5/etc/hello)" = "btrfs file, version 1" ] ||
    fail "point 1: cat of the btrfs file"
[ "$(cdp cat g --at "$t2" /p6/hello.txt)" = "ntfs file, version 2" ] ||
    fail "point 2: cat of the ntfs file"
[ "$(cdp cat g --at "$t2" /p4/vg0/lv0/hello)" = "lvm hello" ] ||
    fail "cat of a file in an LVM logical volume"
expect_error 1 'p3 holds swap space, not a file system' cdp ls g --at "$t2" /p3
stop_cdp_serve
