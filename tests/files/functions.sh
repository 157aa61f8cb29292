# Helpers for the file-level e2e tests (tests/e2e/e2e-files-*.sh), after
# tests/e2e/functions.sh.
#
#   files_task NAME SIZE       manual-mode task fed by nbdcopy; starts serve;
#                              $rx is its receiver socket
#   put_disk NAME IMG          nbdcopy IMG into the task's receiver, then
#                              prints the time just after it ('now')
#   ext4_image IMG SRC SIZE    mkfs.ext4 -d SRC (4 KiB blocks, 256-byte inodes,
#                              small files and directories as inline data)
#   table_disk IMG SIZE LABEL PART...  sfdisk LABEL (dos|gpt) IMG; each PART
#                              is START_MIB:SIZE_MIB[:TYPE][:FSIMG]; FSIMG
#                              is copied into the partition
#   tree_same SRC GOT WHAT     fail unless GOT is SRC, file for file
#   tree_exact A B WHAT        fail unless A and B are the same trees to
#                              the nanosecond, owners and all
#   ls_same SRC JSON WHAT      fail unless 'cdp ls --json' JSON lists SRC

files_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
requires nbdcopy mkfs.ext4 sfdisk python3 truncate

files_task ()
{
    rx=$tmpdir/rx.sock
    cdp task create "$1" --size "$2" --listen "unix:$rx" >/dev/null
    start_cdp_serve
    wait_for 20 "the receiver's socket" test -S "$rx"
}

put_disk ()
{
    nbdcopy -- "$2" "nbd+unix:///disk0?socket=$rx"
    now
}

ext4_image ()
{
    rm -f "$1"
    mkfs.ext4 -q -F -b 4096 -I 256 -O inline_data -d "$2" "$1" "$3"
}

table_disk ()
{
    local img=$1 size=$2 label=$3 spec="" p start len type fsimg
    shift 3
    rm -f "$img"
    truncate -s "$size" "$img"
    spec="label: $label"$'\n'
    for p in "$@"; do
        IFS=: read -r start len type fsimg <<<"$p"
        spec+="start=$((start * 2048)), size=$((len * 2048))${type:+, type=$type}"$'\n'
    done
    sfdisk -q "$img" <<<"$spec" >/dev/null || fail "sfdisk $label: $spec"
    for p in "$@"; do
        IFS=: read -r start len type fsimg <<<"$p"
        [ -n "$fsimg" ] &&
            dd if="$fsimg" of="$img" bs=1M seek="$start" conv=notrunc status=none
    done
    return 0
}

tree_same ()
{
    python3 "$files_dir/tree.py" same "$1" "$2" || fail "$3: the trees differ"
}

tree_exact ()
{
    python3 "$files_dir/tree.py" exact "$1" "$2" || fail "$3: the trees differ"
}

ls_same ()
{
    python3 "$files_dir/tree.py" ls "$1" "$2" || fail "$3: the listing differs"
}
