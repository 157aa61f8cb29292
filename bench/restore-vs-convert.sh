#!/usr/bin/env bash
# restore-vs-convert.sh: `cdp restore` of a point next to `qemu-img
# convert` of the same data, to raw and to qcow2, in one run.
#
# A manual-mode task of SIZE (default 1 GiB) gets SIZE of random data
# through its receiver (nbdcopy); `cdp serve` makes the task's first
# base point part way through that copy (its first maintenance cycle),
# and `cdp fold` a second one after it.  Then rounds of random writes
# (4 KiB-256 KiB at 4 KiB aligned offsets, bench/nbd-bench rewrite,
# seeded) covering STEP percent (default 10) of the disk, each followed
# by `cdp fold`, until there are BASES base points (default 4) in one
# chain; then a last rewrite of REWRITE percent (default 30) that stays
# in the journal.  The point after that is restored, and compared with
# qemu-img convert of the same disk from
#
#   raw    a raw file with the same contents (the same source and the
#          same seeded rewrites, written through qemu-nbd)
#   chain  the equivalent qcow2 chain: the task's base point files
#          themselves, under a qcow2 overlay that holds the last rewrite
#          (written through qemu-nbd), so BASES + 1 images deep
#
# Every output is checked against the raw file.  cdp restore ends with
# its image fsynced, so qemu-img convert is timed followed by `sync
# FILE`.  Caches are not dropped: each side reads its input (journal
# and base points, the raw file, the chain) as warm as it is.  `cdp
# serve` is stopped before measuring.  Each repetition runs the three in
# an order that rotates; the table shows medians and the medians of the
# paired ratios.
#
# No timing assertion here: the exit status only says whether it ran.
set -euo pipefail
name=restore
. "$(dirname "$0")/functions.sh"

usage () {
  cat <<EOF
usage: $0 [-c CDP] [-n NBD_BENCH] [-s SIZE_MIB] [-b BASES] [-t STEP] [-p REWRITE] [-r REPS] [-k] [DIR]
  -c  the cdp binary (default: the newest build*/cdp/cdp)
  -n  the nbd-bench binary (default: the newest build*/bench/nbd-bench)
  -s  disk size in MiB (default 1024)
  -b  base points under the point, in one chain (default 4; at least 2)
  -t  percent of the disk rewritten between folds (default 10)
  -p  percent of the disk rewritten after the last fold (default 30)
  -r  repetitions (default 3)
  -k  keep the scratch directory
  DIR where the scratch directory goes (default /var/tmp); needs about
      7 x SIZE free
Takes about 3 minutes with the defaults.
EOF
}

size_mib=1024
bases=4
step=10
pct=30
reps=3
keep=0
bench_opt () {
  case $1 in
    b) bases=$2 ;;
    t) step=$2 ;;
    *) return 1 ;;
  esac
}
bench_getopts c:n:s:b:t:p:r:kh "$@"
shift "$bench_nopt"
[ "$bases" -ge 2 ] || { usage >&2; exit 2; }
for t in nbdcopy qemu-nbd qemu-img jq bc; do requires "$t" "see README.md"; done
find_tools
make_work "${1:-/var/tmp}"
need_gib $(( (size_mib * 7 >> 10) + 1 ))

rx=$work/rx.sock
uri="nbd+unix:///disk0?socket=$rx"
ref=$work/ref.raw
catalog=$CDP_STORE/tasks/b/base/catalog.json
count_bases () { jq '.bases | length' "$catalog"; }
newest_base () { jq -r '.bases | max_by(.seq) | .file' "$catalog"; }

# rewrite PERCENT SEED FILE_FORMAT FILE: the same seeded writes into a
# local image, through qemu-nbd.
rewrite_file () {
  start_qemu_nbd "$work/w.sock" -f "$3" "$4"
  "$nbd_bench" rewrite --percent "$1" --seed "$2" "nbd+unix:///?socket=$work/w.sock" >/dev/null
  stop_pid "$qemu_pid"
}

"$cdp" task create b --size "${size_mib}M" --listen "unix:$rx" \
  --bp-interval 7d >/dev/null
start_serve "$rx"
head -c "$((size_mib << 20))" /dev/urandom >"$ref"
nbdcopy -- "$ref" "$uri"
wait_base b
"$cdp" fold b >/dev/null
round=0
while [ "$(count_bases)" -lt "$bases" ]; do
  round=$((round + 1))
  "$nbd_bench" rewrite --percent "$step" --seed "$round" "$uri" >/dev/null
  rewrite_file "$step" "$round" raw "$ref"
  "$cdp" fold b >/dev/null
done
[ "$(count_bases)" -eq "$bases" ] ||
  die "got $(count_bases) base points, wanted $bases (serve made its first one late?)"

# The last rewrite stays in the journal; the chain gets it as an overlay.
chain=$work/chain.qcow2
qemu-img create -q -f qcow2 -b "$CDP_STORE/tasks/b/base/$(newest_base)" -F qcow2 \
  "$chain" "${size_mib}M"
"$nbd_bench" rewrite --percent "$pct" --seed 1000 "$uri" >/dev/null
rewrite_file "$pct" 1000 raw "$ref"
rewrite_file "$pct" 1000 qcow2 "$chain"
"$nbd_bench" first-byte "$uri" >/dev/null        # the index holds it all
at=@$(date +%s.%N)
stop_serve
sync

restore () {
  rm -f "$work/out.$1"
  "$cdp" restore b --at "$at" --output "$work/out.$1" --format "$1" 2>>"$work/restore.log"
}

convert () {
  rm -f "$work/out.$1"
  qemu-img convert -f "$2" -O "$1" "$3" "$work/out.$1"
  sync "$work/out.$1"
}

# one SIDE FORMAT REP
one () {
  local t
  sync
  case $1 in
    cdp) timed t restore "$2" ;;
    raw) timed t convert "$2" raw "$ref" ;;
    chain) timed t convert "$2" qcow2 "$chain" ;;
  esac
  qemu-img compare -q -f raw -F "$2" "$ref" "$work/out.$2" ||
    die "$1 -> $2 differs from the reference"
  rm -f "$work/out.$2"
  rec "$2" "$1" "$3" secs "$t"
}

echo "# restore: a $size_mib MiB point on $bases base points + $pct% rewritten in the journal, $reps repetitions"
machine
echo "store:   $(base_chain b) base points, $(du -sh "$CDP_STORE/tasks/b/base" | cut -f1) of qcow2;" \
     "journal $(du -sh "$CDP_STORE/tasks/b/journal" | cut -f1);" \
     "chain for qemu-img: $(qemu-img info --backing-chain "$chain" | grep -c '^image:') images"
load "before: "
for rep in $(seq "$reps"); do
  echo "  rep $rep" >&2
  for fmt in raw qcow2; do
    rotate "$rep" "one cdp $fmt $rep" "one raw $fmt $rep" "one chain $fmt $rep"
  done
done
load "after:  "

mibs () { echo "$size_mib / $1" | bc -l; }
echo
echo "| output | side | seconds (min-max) | MiB/s | cdp speed / its speed |"
echo "|---|---|--:|--:|--:|"
for fmt in raw qcow2; do
  for side in cdp raw chain; do
    s=$(med "$fmt" "$side" secs)
    case $side in
      cdp) what="cdp restore"; r=1 ;;
      raw) what="qemu-img convert of the raw file + sync"; r=$(pratio "$fmt" raw cdp secs) ;;
      chain) what="qemu-img convert of the chain + sync"; r=$(pratio "$fmt" chain cdp secs) ;;
    esac
    printf "| %s | %s | %.2f (%s) | %.0f | %.2f |\n" "$fmt" "$what" "$s" \
      "$(range "$fmt" "$side" secs)" "$(mibs "$s")" "$r"
  done
done
echo
echo "goal: restore >= 1.0x qemu-img convert of the equivalent chain:" \
     "raw $(printf %.2f "$(pratio raw chain cdp secs)")x," \
     "qcow2 $(printf %.2f "$(pratio qcow2 chain cdp secs)")x"
