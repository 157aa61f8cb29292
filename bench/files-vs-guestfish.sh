#!/usr/bin/env bash
# files-vs-guestfish.sh: `cdp ls` of a directory and `cdp cat` of a
# 10 MiB file at a point, each a new process, next to `guestfish --ro`
# doing the same on an NBD export of that point (`cdp export`), in one
# run.
#
# A manual-mode task of 1 GiB gets a GPT disk through its receiver
# (nbdcopy): p1 is ext4 (mkfs.ext4 -d) with a directory of FILES small
# files (default 1000), a 10 MiB random file and a 1 GiB sparse file;
# then a second version that changes the directory, so the point read
# lies in the journal over the first.  `cdp serve` is stopped before
# measuring.  Each timing is a new process; "cold" runs drop the page
# cache first (echo 3 > /proc/sys/vm/drop_caches, as root: it drops the
# caches of everything else running too), "warm" runs do not.  `cdp
# --help` is timed the same way: what starting the process (loading its
# shared libraries) costs before any work.  guestfish runs the same two operations, ls and cat, once per
# repetition, each in its own guestfish process (it boots its appliance
# each time, as a user who wants one answer would); its appliance is
# cached by libguestfs after the first run, which is not counted.  The
# outputs of both sides are compared.  The table shows medians of REPS
# (default 5; guestfish: GREPS, default 3).
#
# No timing assertion here: the exit status only says whether it ran.
set -euo pipefail

usage ()
{
    cat <<EOF
usage: $0 [-c CDP] [-f FILES] [-r REPS] [-g GREPS] [-k] [DIR]
  -c  the cdp binary (default: the newest build*/cdp/cdp)
  -f  small files in the listed directory (default 1000)
  -r  repetitions of each cdp timing (default 5)
  -g  repetitions of each guestfish timing (default 3; 0: no guestfish)
  -k  keep DIR (default /var/tmp/cdp-bench-files) afterwards
EOF
    exit 2
}

here=$(cd "$(dirname "$0")/.." && pwd)
cdp_bin=$(ls -t "$here"/build*/cdp/cdp 2>/dev/null | head -n 1 || :)
files=1000 reps=5 greps=3 keep=
while getopts c:f:r:g:kh o; do
    case $o in
    c) cdp_bin=$OPTARG ;;
    f) files=$OPTARG ;;
    r) reps=$OPTARG ;;
    g) greps=$OPTARG ;;
    k) keep=1 ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
dir=${1:-/var/tmp/cdp-bench-files}
[ -x "$cdp_bin" ] || { echo "$0: no cdp binary; build first or pass -c" >&2; exit 1; }
for t in nbdcopy mkfs.ext4 sfdisk python3; do
    command -v "$t" >/dev/null || { echo "$0: $t is not installed" >&2; exit 1; }
done
if [ "$greps" -gt 0 ] && ! command -v guestfish >/dev/null; then
    echo "$0: guestfish is not installed; comparing nothing (use -g 0)" >&2
    exit 1
fi

rm -rf "$dir"
mkdir -p "$dir"
serve_pid= export_pid=
cleanup ()
{
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
    [ -n "$export_pid" ] && kill "$export_pid" 2>/dev/null && wait "$export_pid" 2>/dev/null
    [ -n "$keep" ] || rm -rf "$dir"
}
trap cleanup EXIT
export CDP_STORE=$dir/store
cdp () { "$cdp_bin" "$@"; }

# ---- the disk, in two versions -------------------------------------------
make_fs ()
{
    local v=$1 src=$dir/src
    rm -rf "$src" "$dir/fs.img"
    mkdir -p "$src/dir"
    python3 - "$src/dir" "$files" "$v" <<'PY'
import os, sys
d, n, v = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(n):
    with open(os.path.join(d, "file-%05d.txt" % i), "w") as f:
        f.write("file %d of version %s\n" % (i, v))
PY
    [ -f "$dir/big" ] || head -c $((10 << 20)) /dev/urandom >"$dir/big"
    cp "$dir/big" "$src/big"
    truncate -s 1G "$src/sparse"
    mkfs.ext4 -q -F -d "$src" "$dir/fs.img" 900M
    truncate -s 1G "$dir/disk.img"
    sfdisk -q "$dir/disk.img" <<<$'label: gpt\nstart=2048, size=1843200' >/dev/null
    dd if="$dir/fs.img" of="$dir/disk.img" bs=1M seek=1 conv=notrunc status=none
}

rx=$dir/rx.sock
cdp task create b --size 1G --listen "unix:$rx" >/dev/null
"$cdp_bin" serve >"$dir/serve.log" 2>&1 &     # not the function: $! is cdp
serve_pid=$!
for _ in $(seq 100); do [ -S "$rx" ] && break; sleep 0.1; done
make_fs 1
nbdcopy -- "$dir/disk.img" "nbd+unix:///disk0?socket=$rx"
make_fs 2
nbdcopy -- "$dir/disk.img" "nbd+unix:///disk0?socket=$rx"
at="@$(date +%s.%N)"
sleep 1
kill "$serve_pid"
wait "$serve_pid" || :
serve_pid=

# ---- timing -----------------------------------------------------------------
# ms CMD...: run CMD (output to $dir/out), print its wall time in ms.
ms ()
{
    local t0 t1
    t0=$(date +%s%N)
    "$@" >"$dir/out" 2>"$dir/err" || { echo "$0: '$*' failed: $(cat "$dir/err")" >&2; exit 1; }
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000000 ))
}

median ()
{
    sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

drop () { sync; echo 3 >/proc/sys/vm/drop_caches; }

# time_cdp cold|warm WHAT CMD...: the median over REPS.
time_cdp ()
{
    local mode=$1 i
    shift
    for i in $(seq "$reps"); do
        [ "$mode" = cold ] && drop
        ms "$@"
    done | median
}

start_warm=$(time_cdp warm cdp --help)
start_cold=$(time_cdp cold cdp --help)
ls_warm=$(time_cdp warm cdp ls b --at "$at" /p1/dir)
[ "$(wc -l <"$dir/out")" -eq "$files" ] || { echo "$0: cdp ls listed $(wc -l <"$dir/out")" >&2; exit 1; }
sort "$dir/out" | awk '{print $NF}' >"$dir/cdp-ls.txt"
cat_warm=$(time_cdp warm cdp cat b --at "$at" /p1/big)
cmp "$dir/out" "$dir/big" || { echo "$0: cdp cat differs" >&2; exit 1; }
ls_cold=$(time_cdp cold cdp ls b --at "$at" /p1/dir)
cat_cold=$(time_cdp cold cdp cat b --at "$at" /p1/big)

g_ls=- g_cat=-
if [ "$greps" -gt 0 ]; then
    "$cdp_bin" export b --at "$at" --listen "unix:$dir/exp.sock" >"$dir/export.out" 2>&1 &
    export_pid=$!
    for _ in $(seq 100); do [ -s "$dir/export.out" ] && break; sleep 0.1; done
    # guestfish spells a unix socket nbd:///EXPORT?socket=PATH.
    uri=$(head -n 1 "$dir/export.out" | sed 's|^nbd+unix:|nbd:|')
    gf () { guestfish --ro --format=raw -a "$uri" run : mount /dev/sda1 / : "$@"; }
    # The first run builds and caches the appliance: not counted.  Where
    # KVM does not work, libguestfs needs to be told to use TCG.
    if ! gf ls /dir >/dev/null 2>&1 && [ -z "${LIBGUESTFS_BACKEND_SETTINGS:-}" ]; then
        export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
    fi
    ms gf ls /dir >/dev/null
    g_ls=$(for i in $(seq "$greps"); do ms gf ls /dir; done | median)
    sort "$dir/out" | cmp - "$dir/cdp-ls.txt" || { echo "$0: guestfish ls differs" >&2; exit 1; }
    g_cat=$(for i in $(seq "$greps"); do ms gf download /big /dev/stdout; done | median)
    cmp "$dir/out" "$dir/big" || { echo "$0: guestfish download differs" >&2; exit 1; }
    kill "$export_pid"
    wait "$export_pid" || :
    export_pid=
fi

ratio () { [ "$2" = - ] && echo - || awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0fx", b / (a > 0 ? a : 1)}'; }
printf '%-34s %10s %10s %12s %10s\n' "operation (median ms)" "cdp warm" "cdp cold" "guestfish" "speed-up"
printf '%-34s %10s %10s %12s %10s\n' "cdp --help (process start only)" "$start_warm" "$start_cold" - -
printf '%-34s %10s %10s %12s %10s\n' "ls of a directory, $files files" "$ls_warm" "$ls_cold" "$g_ls" "$(ratio "$ls_cold" "$g_ls")"
printf '%-34s %10s %10s %12s %10s\n' "cat of a 10 MiB file" "$cat_warm" "$cat_cold" "$g_cat" "$(ratio "$cat_cold" "$g_cat")"
echo "(speed-up: guestfish over cdp cold; guestfish under ${LIBGUESTFS_BACKEND_SETTINGS:-its default backend})"
