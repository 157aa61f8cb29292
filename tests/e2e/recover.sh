# Helpers for the rapid recovery tests (cdp recover), sourced after
# functions.sh and libvirt.sh.
#
#   define_recover_guest      make-vm's guest (it says "cdp guest: counter
#                             at boot: N" and counts on from N), its disk
#                             grown by 32 MiB that its file system does
#                             not know of (see tail_* below); defined and
#                             started as $dom, protected by task g under
#                             a running cdp serve, counting
#   point_at LABEL SECS       writes past the file system, a bookmark
#                             LABEL, SECS of counting, other writes there
#   point_counter T           /counter's count in the point of g at T
#   boot_counter FILE [SECS]  waits for a line "counter at boot: N", N > 0,
#                             on the console FILE; prints N
#   domain_console DOM        the path of DOM's serial console file
#   recovery_field KEY        "recovery".KEY of g in cdp status --json;
#                             disk.KEY: of its first disk
#   start_recover ARGS...     cdp recover g ARGS in the background, its
#                             stdout and stderr in $tmpdir/rec.out and
#                             rec.err; $recover_pid
#   wait_recover              until it exits: it must exit 0 and the
#                             recovery be "done"
#   $extra_doms               more domains to destroy and undefine on exit
#   check_standalone DOM OVERLAY
#                             the recovery is over: the overlay has no
#                             backing file, the domain (live and
#                             inactive) no backing store, the export's
#                             socket is gone and no point is locked
#   check_recovered_disk DOM OVERLAY T
#                             DOM's disk against the point (below)
#
# What the recovered disk must hold.  The disk DOM runs on, once it stands
# alone, is the point at T plus what the guest wrote since it booted from
# it.  The guest writes its file system only (/counter, /counter.tmp, the
# ext4 journal, bitmaps, inode tables, the superblock at mount), so the
# disk is not compared as a whole with the point; instead:
#   - the 32 MiB past the file system, which only the host writes (with
#     qemu-io through the guest device before and after T: different
#     patterns, and a hole), and which the guest never reads, so that only
#     the block pull brings them in, must equal the point's byte for byte;
#   - the file system: both images get their ext4 journal replayed (as the
#     guest's kernel would on mount), then every file and directory is
#     dumped with debugfs and the trees must be identical but for /counter
#     and /counter.tmp: all the data the guest booted from (kernel
#     modules aside, its whole root: busybox, init) came through the
#     export or the pull unchanged;
#   - /counter of the recovered disk counts on from the point's.
# The guest is suspended and its device flushed before the image is read.

fs_size=$((64 << 20))          # make-vm's file system
tail_size=$((32 << 20))

extra_doms=()
recover_cleanup ()
{
    local status=$? d f logs
    set +e
    # cdp recover reports sanitizer errors on its stderr only.
    if [ "$status" -eq 0 ] &&
       grep -qsE 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
           "$tmpdir"/{rec,resume}.err; then
        echo "$0: FAIL: sanitizer report from cdp recover" >&2
        grep -hsE -A20 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
            "$tmpdir"/{rec,resume}.err >&2
        status=1
    fi
    for d in "${extra_doms[@]}"; do
        virsh destroy "$d" >/dev/null 2>&1
        virsh undefine "$d" >/dev/null 2>&1
    done
    if [ "$status" -ne 0 ]; then
        logs=("$tmpdir"/{rec,resume}.{out,err})
        for d in "${extra_doms[@]}"; do logs+=("$tmpdir/$d.console"); done
        for f in "${logs[@]}"; do
            [ -s "$f" ] && { echo "--- $(basename "$f") (last 10 lines)"; tail -n 10 "$f"; }
        done >&2
    fi
    (exit "$status")
    libvirt_cleanup
}
trap recover_cleanup EXIT

define_recover_guest ()
{
    "$root_dir/scripts/make-vm" "$tmpdir" "$dom" --guest >/dev/null
    qemu-img resize -q "$dom_disk" "$((fs_size + tail_size))"
    virsh define "$tmpdir/$dom.xml" >/dev/null
    virsh start "$dom" >/dev/null
    cdp task create g --domain "$dom"
    start_cdp_serve
    wait_protected g vda 90
    wait_for 120 "the guest to boot and count" \
        eval '[ "$(point_counter now)" -ge 2 ]'
}

# Before T a pattern over the first half of the tail; after T another,
# over part of it and some past it.  The rest stays a hole.
point_at ()
{
    vio "write -P 0x5a $fs_size 16M"
    sleep 1.5
    cdp mark g --label "$1"
    sleep "$2"
    vio "write -P 0xa5 $((fs_size + (8 << 20))) 12M"
}

point_counter ()
{
    cdp cat g --at "$1" /counter 2>/dev/null | awk '{ print $1 }'
}

boot_counter ()
{
    local f=$1 secs=${2-150} n
    wait_for "$secs" "the guest on $f to say its counter at boot" \
        eval "grep -aqE 'counter at boot: [1-9]' '$f'"
    n=$(grep -aoE 'counter at boot: [1-9][0-9]*' "$f" | tail -n 1)
    echo "${n##*: }"
}

domain_console ()
{
    virsh dumpxml "$1" | python3 -c '
import sys, xml.etree.ElementTree as ET
s = ET.fromstring(sys.stdin.read()).find("devices/serial/source")
print(s.get("path") if s is not None else "")'
}

recovery_field ()
{
    "$CDP" status g --json | python3 -c '
import json, sys
key = sys.argv[1]
r = json.load(sys.stdin)["tasks"][0].get("recovery") or {}
if key.startswith("disk."):
    r = (r.get("disks") or [{}])[0]
    key = key[5:]
v = r.get(key, "")
print(v if v is not None else "")' "$1"
}

start_recover ()
{
    "$CDP" recover g "$@" >"$tmpdir/rec.out" 2>"$tmpdir/rec.err" &
    recover_pid=$!
    pids+=("$recover_pid")
}

wait_recover ()
{
    local rc=0
    wait_for 240 "cdp recover to finish" eval '! kill -0 "$recover_pid"'
    reap "$recover_pid" || rc=$?
    [ "$rc" -eq 0 ] || fail "cdp recover exited $rc: $(tail -n 3 "$tmpdir/rec.err")"
    cat "$tmpdir/rec.out"
    [ "$(recovery_field state)" = "done" ] || fail "recovery state: $(recovery_field state)"
}

# The backing store of DOM's disk vda in its XML (ARGS: --inactive):
# prints the backing store's source, if any.
dom_backing ()
{
    virsh dumpxml "$@" | python3 -c '
import sys, xml.etree.ElementTree as ET
for d in ET.fromstring(sys.stdin.read()).findall("devices/disk"):
    t = d.find("target")
    if t is None or t.get("dev") != "vda":
        continue
    b = d.find("backingStore")
    if b is not None and b.find("source") is not None:
        print(ET.tostring(b, encoding="unicode").replace("\n", " "))'
}

locked_points ()
{
    cdp points g --json | python3 -c '
import json, sys
print(sum(1 for p in json.load(sys.stdin)["points"] if p["locked"]))'
}

check_standalone ()
{
    local d=$1 overlay=$2 sock b
    sock=$CDP_STORE/tasks/g/qemu/recover.sock
    qemu-img info -U "$overlay" >"$tmpdir/overlay.info"
    ! grep -q '^backing file' "$tmpdir/overlay.info" ||
        fail "$overlay still has a backing file: $(grep '^backing file' "$tmpdir/overlay.info")"
    qemu-img check -U -q "$overlay" || fail "qemu-img check of $overlay"
    b=$(dom_backing "$d")
    [ -z "$b" ] || fail "$d still has a backing store: $b"
    b=$(dom_backing --inactive "$d")
    [ -z "$b" ] || fail "$d (inactive) still has a backing store: $b"
    [ ! -S "$sock" ] || fail "the export's socket $sock is still there"
    [[ $(ss -xl) != *"$sock"* ]] || fail "something still listens on $sock"
    [ "$(locked_points)" = 0 ] || fail "a point is still locked: $(cdp points g)"
}

check_recovered_disk ()
{
    local d=$1 overlay=$2 at=$3 reply c_point c_final
    virsh suspend "$d" >/dev/null
    reply=$(virsh qemu-monitor-command "$d" --hmp \
                'qemu-io -d virtio-disk0/virtio-backend "flush"')
    [ -z "$(echo "$reply" | tr -d '[:space:]')" ] || fail "flush of $d: $reply"
    qemu-img convert -U -f qcow2 -O raw "$overlay" "$tmpdir/final.raw"
    cdp restore g --at "$at" --output "$tmpdir/point.raw" --format raw
    [ "$(stat -c %s "$tmpdir/final.raw")" = "$(stat -c %s "$tmpdir/point.raw")" ] ||
        fail "the recovered disk is $(stat -c %s "$tmpdir/final.raw") bytes, the point $(stat -c %s "$tmpdir/point.raw")"
    cmp -i "$fs_size" "$tmpdir/final.raw" "$tmpdir/point.raw" >/dev/null ||
        fail "past the file system, the recovered disk differs from the point: $(cmp -i "$fs_size" "$tmpdir/final.raw" "$tmpdir/point.raw" 2>&1 | sed -n 1p)"
    local img
    for img in final point; do
        e2fsck -E journal_only -y "$tmpdir/$img.raw" >/dev/null 2>&1 || :
        rm -rf "$tmpdir/$img.tree"
        mkdir "$tmpdir/$img.tree"
        debugfs -R "rdump / $tmpdir/$img.tree" "$tmpdir/$img.raw" >/dev/null 2>&1
        [ -x "$tmpdir/$img.tree/sbin/init" ] && [ -s "$tmpdir/$img.tree/bin/busybox" ] ||
            fail "no guest root in the $img disk"
    done
    diff -r --no-dereference -x counter -x counter.tmp \
        "$tmpdir/point.tree" "$tmpdir/final.tree" >"$tmpdir/tree.diff" ||
        fail "the recovered file system differs from the point's: $(head -n 5 "$tmpdir/tree.diff")"
    c_point=$(awk '{ print $1 }' "$tmpdir/point.tree/counter")
    c_final=$(awk '{ print $1 }' "$tmpdir/final.tree/counter")
    echo "counter in the point: $c_point, in the recovered disk: $c_final"
    [ "$c_final" -gt "$c_point" ] ||
        fail "the recovered guest did not count on from the point ($c_point, then $c_final)"
    rm -rf "$tmpdir/final.tree" "$tmpdir/point.tree" "$tmpdir/final.raw" "$tmpdir/point.raw"
}
