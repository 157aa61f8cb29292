#!/usr/bin/env bash
# chain-read.sh: nbdcopy of a point that is a chain of 16 base points,
# from `cdp export` and from qemu-nbd serving the same qcow2 chain, in
# one run.
#
# A manual-mode task of SIZE (default 1 GiB), --max-chain 16, gets SIZE
# of random data through the receiver (nbdcopy; `cdp serve` makes the
# task's first base point at its first maintenance cycle, part way
# through the copy), then `cdp fold`, then rounds of random writes of
# 4 KiB-256 KiB covering PERCENT (default 3) of the disk, each followed
# by `cdp fold`, until the newest base point's chain is 16 images deep.
# The point at the last fold is that base point, with nothing from the
# journal: its reads go through cdp's own qcow2 chain reader
# (recovery/history/qcow2.c).
#
#   cdp       cdp export NAME --at now  (serve stopped, nothing newer)
#   qemu-nbd  qemu-nbd -r -f qcow2 -e 8 TASK/base/NEWEST.qcow2: the same
#             files, the backing chain resolved by QEMU
#
# `qemu-img compare` checks that both serve the same disk.  Reads are
# `nbdcopy URI null:` as is and with --no-extents, after one untimed
# read of each (page cache warm for both).  Repetitions rotate the order.
set -euo pipefail
name=chain-read
. "$(dirname "$0")/functions.sh"

usage () {
  cat <<EOF
usage: $0 [-c CDP] [-n NBD_BENCH] [-s SIZE_MIB] [-p PERCENT] [-d DEPTH] [-r REPS] [-k] [DIR]
  -c  the cdp binary (default: the newest build*/cdp/cdp)
  -n  the nbd-bench binary (default: the newest build*/bench/nbd-bench)
  -s  disk size in MiB (default 1024)
  -p  percent of the disk rewritten between folds (default 3)
  -d  depth of the chain (default 16, the default --max-chain)
  -r  repetitions (default 5)
  -k  keep the scratch directory
  DIR where the scratch directory goes (default /var/tmp); needs 4 x SIZE
Takes about 3 minutes with the defaults.
EOF
}

size_mib=1024
pct=3
depth=16
reps=5
keep=0
bench_opt () {
  case $1 in
    d) depth=$2 ;;
    *) return 1 ;;
  esac
}
bench_getopts c:n:s:p:d:r:kh "$@"
shift "$bench_nopt"
for t in nbdcopy qemu-nbd qemu-img jq bc; do requires "$t" "see README.md"; done
find_tools
make_work "${1:-/var/tmp}"
need_gib $(( (size_mib * 4 >> 10) + 1 ))

rx=$work/rx.sock
uri_rx="nbd+unix:///disk0?socket=$rx"
catalog=$CDP_STORE/tasks/c/base/catalog.json
top_depth () { jq '.bases | max_by(.seq) | .depth' "$catalog"; }

"$cdp" task create c --size "${size_mib}M" --listen "unix:$rx" --bp-interval 7d \
  --max-chain "$depth" >/dev/null
start_serve "$rx"
head -c "$((size_mib << 20))" /dev/urandom | nbdcopy -- - "$uri_rx"
wait_base c
"$cdp" fold c >/dev/null
round=0
while [ "$(top_depth)" -lt "$depth" ]; do
  round=$((round + 1))
  [ "$round" -le $((depth * 2)) ] || die "the chain does not grow: $(top_depth)"
  "$nbd_bench" rewrite --percent "$pct" --seed "$round" "$uri_rx" >/dev/null
  "$cdp" fold c >/dev/null
done
stop_serve
top=$CDP_STORE/tasks/c/base/$(jq -r '.bases | max_by(.seq) | .file' "$catalog")
summary="base points: $(base_chain c), $(du -sh "$CDP_STORE/tasks/c/base" | cut -f1) of qcow2 files"

start_export "$work/ex.sock" c --at now
start_qemu_nbd "$work/q.sock" -r -f qcow2 "$top"
declare -A uri=(
  [cdp]="nbd+unix:///disk0?socket=$work/ex.sock"
  [qemu-nbd]="nbd+unix:///?socket=$work/q.sock"
)
qemu-img compare -q -f raw -F raw "${uri[cdp]}" "${uri[qemu-nbd]}" ||
  die "cdp's export of the chain differs from qemu-nbd's"
for t in cdp qemu-nbd; do
  nbdcopy -- "${uri[$t]}" null:            # into the page cache
done

# read_all TOOL MODE REP
read_all () {
  local opt=
  [ "$2" = no-extents ] && opt=--no-extents
  rec "$2" "$1" "$3" secs "$(secs nbdcopy $opt -- "${uri[$1]}" null:)"
}

echo "# chain-read: nbdcopy of a $size_mib MiB point on a chain of $depth base points to null:, $reps repetitions"
machine
load "before: "
for rep in $(seq "$reps"); do
  echo "  rep $rep" >&2
  for mode in default no-extents; do
    rotate "$rep" "read_all cdp $mode $rep" "read_all qemu-nbd $mode $rep"
  done
done
load "after:  "
echo "$summary"

mibs () { echo "$size_mib / $1" | bc -l; }
echo
echo "| nbdcopy | server | MiB/s | seconds (min-max) | speed / qemu-nbd |"
echo "|---|---|--:|--:|--:|"
for mode in default no-extents; do
  for t in cdp qemu-nbd; do
    s=$(med "$mode" "$t" secs)
    printf "| %s | %s | %.0f | %.2f (%s) | %.2f |\n" "$mode" "$t" "$(mibs "$s")" \
      "$s" "$(range "$mode" "$t" secs)" "$(pratio "$mode" qemu-nbd "$t" secs)"
  done
done
echo
echo "goal: read of a $depth-deep chain >= 1.0x qemu-nbd (nbdcopy as is):" \
     "$(printf %.2f "$(pratio default qemu-nbd cdp secs)")x"
