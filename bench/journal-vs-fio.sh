#!/usr/bin/env bash
# journal-vs-fio.sh: cdp's journal next to fio, same file system, one run.
#
# For 4 KiB, 64 KiB and 1 MiB at queue depth 1 and 32 it runs
# journal-bench (durable appends: a record counts when its callback says
# it is durable) and fio with the same durability:
#   QD 1:  ioengine=io_uring direct=1 fdatasync=1  (each write made durable)
#   QD 32: ioengine=io_uring direct=1 end_fsync=1  (streaming, one fsync)
# and prints medians, cdp/fio ratios and the goals (docs/BENCHMARKS.md).
#
# Two states of the storage, both compared like with like:
#   steady  the journal first fills 3 segments and reclaims behind itself,
#           so that it measures in recycled segments (allocated and written
#           before: the 4th segment is the first taken from the free pool)
#           and keeps reclaiming; fio overwrites a file it laid out first.
#   fresh   the journal starts empty and never reclaims: every segment is a
#           newly fallocated file; fio writes a newly fallocated file
#           larger than it can fill.  Both pay for unwritten extents.
# Steady runs are repeated (-r), cdp and fio back to back in alternating
# order, so that noise from a shared host falls on both; ratios are the
# medians of the paired ratios (journal-vs-fio.awk).  Fresh runs once.
# -B adds a second journal-bench (an older build) to every pair, so that
# a change is measured before and after under the same load.
#
# No timing assertion here: the exit status only says whether it ran.

set -euo pipefail

usage () {
  cat <<EOF
usage: $0 [-b JOURNAL_BENCH] [-B OLD_JOURNAL_BENCH] [-t SECONDS] [-r REPS] [-F] [-k] [DIR]
  -b  journal-bench binary (default: build*/bench/journal-bench)
  -B  also run this journal-bench (an older build) in every pair, as "old"
  -t  seconds per measurement (default 2)
  -r  repetitions in the steady state (default 5; medians are reported)
  -F  skip the fresh-state runs
  -k  keep the raw results file (DIR/journal-vs-fio.raw)
  DIR a directory on the file system to measure (default /var/tmp/cdp-bench);
      needs (SECONDS + 1) * 4 + 2 GiB free (14 GiB by default), 3 GiB with -F
Takes about 3.5 minutes with the defaults (5 with -B).
EOF
}

here=$(cd "$(dirname "$0")" && pwd)
bench=
old=
secs=2
reps=5
fresh=1
keep=0
while getopts b:B:t:r:Fkh opt; do
  case $opt in
    b) bench=$OPTARG ;;
    B) old=$(readlink -f "$OPTARG") ;;
    t) secs=$OPTARG ;;
    r) reps=$OPTARG ;;
    F) fresh=0 ;;
    k) keep=1 ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
dir=${1:-/var/tmp/cdp-bench}

sizes="4k 64k 1m"
qds="1 32"

die () { echo "journal-vs-fio: $*" >&2; exit 1; }

requires () {
  command -v "$1" >/dev/null || die "needs $1 ($2)"
}

find_bench () {
  local b
  [ -n "$bench" ] && return
  for b in "$here"/../build*/bench/journal-bench; do
    [ -x "$b" ] && bench=$(readlink -f "$b") && return
  done
  die "no journal-bench; build it (ninja -C BUILD bench/journal-bench) or pass -b"
}

check_dir () {
  local fstype need avail
  mkdir -p "$dir"
  fstype=$(stat -f -c %T "$dir")
  case $fstype in
    tmpfs|ramfs) die "$dir is on $fstype: O_DIRECT and durability mean nothing there" ;;
  esac
  need=$(( fresh ? (${secs%.*} + 1) * 4 + 2 : 3 ))
  avail=$(( $(stat -f -c '%a * %S' "$dir") >> 30 ))
  [ "$avail" -ge "$need" ] || die "$dir: ${avail} GiB free, needs ${need} GiB (-F needs less)"
}

# ---- machine ------------------------------------------------------------

machine () {
  local src dev q
  src=$(findmnt -n -o SOURCE -T "$dir")
  dev=$(basename "$(readlink -f "$src")")
  q=/sys/class/block/$dev/queue
  [ -d "$q" ] || q=/sys/class/block/$dev/../queue
  echo "date:    $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "cpu:     $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "kernel:  $(uname -r)"
  echo "fs:      $(findmnt -n -o FSTYPE,SOURCE,OPTIONS -T "$dir") at $dir"
  if [ -d "$q" ]; then
    echo "device:  $dev write_cache=$(cat "$q"/write_cache) fua=$(cat "$q"/fua 2>/dev/null || echo ?)" \
         "logical_block=$(cat "$q"/logical_block_size) physical_block=$(cat "$q"/physical_block_size)" \
         "rotational=$(cat "$q"/rotational)"
  fi
  echo "fio:     $(fio --version)"
  echo "runs:    ${secs}s each; steady x$reps interleaved (medians); fresh x$fresh"
}

# ---- one measurement -> one raw line ------------------------------------
# raw line: mode size qd tool rep mib_s iops p50_us p99_us overhead_pct

bytes () {
  case $1 in
    *k) echo $(( ${1%k} << 10 )) ;;
    *m) echo $(( ${1%m} << 20 )) ;;
    *) echo "$1" ;;
  esac
}

# run_cdp MODE SIZE QD REP [TOOL BINARY]: TOOL is cdp (default) or old.
run_cdp () {
  local mode=$1 size=$2 qd=$3 rep=$4 tool=${5:-cdp} bin=${6:-$bench} out extra=
  [ "$mode" = steady ] && extra="--warmup 3 --reclaim"
  rm -rf "$work/journal"
  # shellcheck disable=SC2086
  out=$("$bin" -d "$work/journal" -s "$size" -q "$qd" -t "$secs" $extra) ||
    die "journal-bench failed ($tool): $size qd $qd"
  rm -rf "$work/journal"
  echo "$out" | awk -v m="$mode" -v s="$size" -v q="$qd" -v r="$rep" \
                    -v t="$tool" '{
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      print m, s, q, t, r, v["mib_s"], v["iops"], v["p50_us"],
            v["p99_us"], v["overhead_pct"] }'
}

run_old () {
  [ -z "$old" ] || run_cdp "$@" old "$old"
}

fio_file () {
  if [ "$1" = steady ]; then
    echo "--filename=$work/fio.dat --size=1g --overwrite=1"
  else
    rm -f "$work/fio.dat"
    echo "--filename=$work/fio.dat --size=$(( (${secs%.*} + 1) * 4 ))g"
  fi
}

# fio's latency: submission to completion.  At QD 1 a write is durable
# only after its fdatasync, so p50/p99 there are write + fdatasync
# percentiles added (exact for the sum of medians only approximately).
run_fio () {
  local mode=$1 size=$2 qd=$3 rep=$4 sync
  if [ "$qd" = 1 ]; then sync=--fdatasync=1; else sync=--end_fsync=1; fi
  # shellcheck disable=SC2046
  fio --name=cdp-bench --ioengine=io_uring --direct=1 --rw=write \
      --bs="$size" --iodepth="$qd" $sync $(fio_file "$mode") \
      --time_based --runtime="$secs" --lat_percentiles=1 \
      --percentile_list=50:99 --output-format=json 2>/dev/null |
    jq -r --arg m "$mode" --arg s "$size" --arg q "$qd" --arg r "$rep" '
      .jobs[0] as $j
      | ($j.sync.lat_ns.percentile // {}) as $sy
      | [$m, $s, $q, "fio", $r,
         ($j.write.bw_bytes / 1048576 * 10 | round / 10),
         ($j.write.iops | round),
         ((($j.write.lat_ns.percentile["50.000000"] // 0)
           + ($sy["50.000000"] // 0)) / 100 | round / 10),
         ((($j.write.lat_ns.percentile["99.000000"] // 0)
           + ($sy["99.000000"] // 0)) / 100 | round / 10),
         "-"] | join(" ")' || die "fio failed: $size qd $qd"
}

lay_out_fio () {
  fio --name=layout --filename="$work/fio.dat" --size=1g --overwrite=1 \
      --create_only=1 --output-format=terse >/dev/null 2>&1 ||
    die "fio could not lay out $work/fio.dat"
}

# One pair (with -B, a triple); odd repetitions run cdp first, even
# ones fio first, the old journal in between.
pair () {
  local mode=$1 size=$2 qd=$3 rep=$4
  if [ $((rep % 2)) = 1 ]; then
    run_cdp "$mode" "$size" "$qd" "$rep"
    run_old "$mode" "$size" "$qd" "$rep"
    run_fio "$mode" "$size" "$qd" "$rep"
  else
    run_fio "$mode" "$size" "$qd" "$rep"
    run_old "$mode" "$size" "$qd" "$rep"
    run_cdp "$mode" "$size" "$qd" "$rep"
  fi
}

measure () {
  local mode=$1 n=$2 rep size qd
  [ "$mode" = steady ] && lay_out_fio
  for rep in $(seq 1 "$n"); do
    for size in $sizes; do
      for qd in $qds; do
        echo "  $mode rep $rep: $size qd $qd" >&2
        pair "$mode" "$size" "$qd" "$rep" >>"$raw"
      done
    done
  done
  rm -f "$work/fio.dat"
}

# Share of the last minute in which some task waited for cpu or io.
psi () {
  sed -n "s/^some avg10=[0-9.]* avg60=\([0-9.]*\).*/$1-pressure-60s=\1%/p" \
    "/proc/pressure/$1" 2>/dev/null || true
}

# Others' work on the machine skews both sides; say how much there was.
load () {
  echo "$1 load average $(cut -d' ' -f1-3 /proc/loadavg)" \
       "$(psi cpu)" "$(psi io)"
}

# ---- report --------------------------------------------------------------

report () {
  awk -v mode="$1" -v sizes="$sizes" -v qds="$qds" -f "$here/journal-vs-fio.awk" "$raw"
}

main () {
  requires fio "apt install fio"
  requires jq "apt install jq"
  find_bench
  check_dir
  work=$(mktemp -d "$dir/run.XXXXXX")
  raw=$dir/journal-vs-fio.raw
  trap 'rm -rf "$work"' EXIT
  : >"$raw"
  machine
  echo "bench:   $bench"
  [ -z "$old" ] || echo "old:     $old"
  load "before:  "
  measure steady "$reps"
  [ "$fresh" = 1 ] && measure fresh 1
  load "after:   "
  report steady
  [ "$fresh" = 1 ] && report fresh
  [ "$keep" = 1 ] || rm -f "$raw"
}

main
