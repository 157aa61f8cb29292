#!/usr/bin/env bash
# randwrite.sh: 4 KiB random writes with FUA through NBD at queue depth 1
# and 32, into cdp's receiver and into qemu-nbd, in one run.
#
#   cdp       a manual-mode task of 1 GiB under `cdp serve`: every write
#             becomes a journal record, acknowledged once durable (FUA
#             changes nothing: every write is durable when acknowledged)
#   qemu-nbd  -f raw --cache=none --aio=io_uring on a 1 GiB raw file
#             written in full beforehand (no unwritten extents); QEMU
#             honours FUA with a flush of the file after the write
#   qemu-nbd (fallocated)  the same on a newly fallocated file, made
#             anew for each measurement: like cdp's journal, which
#             writes into newly fallocated segment files, every write
#             also converts an unwritten extent
#
# cdp is measured twice:
#   cdp       a task in service: its journal has been through a reclaim
#             (1 GiB copied in, folded, reclaimed after a 1 s retention),
#             so it writes into reclaimed segments, as a receiver does
#             once its first base point covers a stretch of journal
#   cdp-new   a new task: every segment is newly fallocated
# The client is bench/nbd-bench (libnbd, one connection, QD requests in
# flight, a request's latency from submission to its reply).
# Each measurement runs cdp and qemu-nbd back to back, the order
# alternating between repetitions; medians and paired ratios.
set -euo pipefail
name=randwrite
. "$(dirname "$0")/functions.sh"

usage () {
  cat <<EOF
usage: $0 [-c CDP] [-n NBD_BENCH] [-t SECONDS] [-r REPS] [-k] [DIR]
  -c  the cdp binary (default: the newest build*/cdp/cdp)
  -n  the nbd-bench binary (default: the newest build*/bench/nbd-bench)
  -t  seconds per measurement (default 3)
  -r  repetitions (default 5)
  -k  keep the scratch directory
  DIR where the scratch directory goes (default /var/tmp); needs 5 GiB
Takes about 3 minutes with the defaults.
EOF
}

secs_each=3
reps=5
keep=0
bench_opt () {
  case $1 in
    t) secs_each=$2 ;;
    *) return 1 ;;
  esac
}
bench_getopts c:n:t:r:kh "$@"
shift "$bench_nopt"
for t in qemu-nbd nbdcopy bc; do requires "$t" "see README.md"; done
find_tools
make_work "${1:-/var/tmp}"
need_gib 5

qds="1 32"
rx=$work/rx.sock
rs=$work/rs.sock
qs=$work/q.sock
uri_new="nbd+unix:///disk0?socket=$rx"
uri_cdp="nbd+unix:///disk0?socket=$rs"
uri_qemu="nbd+unix:///?socket=$qs"

"$cdp" task create w --size 1G --listen "unix:$rx" --bp-interval 7d >/dev/null
"$cdp" task create s --size 1G --listen "unix:$rs" --bp-interval 7d \
    --journal-retention 1s --segment-size 64M >/dev/null
start_serve "$rx"
wait_socket "$rs"
# Task s into service: a copy, a base point over it, the journal
# reclaimed behind it (its segments kept for reuse).
head -c 1G /dev/urandom >"$work/src"
nbdcopy --flush -- "$work/src" "$uri_cdp"
rm -f "$work/src"
sleep 1.5
"$cdp" fold s >/dev/null
for _ in $(seq 60); do
  grep -q "task s: reclaimed" "$work/serve.log" && break
  sleep 1
done
grep -q "task s: reclaimed" "$work/serve.log" || die "task s was never reclaimed"
spare_s=$(du -sh --apparent-size -c "$CDP_STORE"/tasks/s/journal/free-*.cdpj 2>/dev/null | tail -1 | cut -f1)
dd if=/dev/zero of="$work/q.raw" bs=1M count=1024 oflag=direct conv=fsync status=none
start_qemu_nbd "$qs" -f raw --cache=none --aio=io_uring "$work/q.raw"

# one TOOL URI QD REP
one () {
  local out
  out=$("$nbd_bench" write --fua --bs 4k --qd "$3" --seconds "$secs_each" \
        --seed "$4" "$2") || die "nbd-bench failed on $1"
  for k in iops p50_us p99_us; do
    rec "qd$3" "$1" "$4" "$k" "$(echo "$out" | tr ' ' '\n' | sed -n "s/^$k=//p")"
  done
}

# fresh QD REP: qemu-nbd on a new fallocated file
fresh () {
  local s=$work/f.sock pid
  fallocate -l 1G "$work/f.raw"
  start_qemu_nbd "$s" -f raw --cache=none --aio=io_uring "$work/f.raw"
  pid=$qemu_pid
  one qemu-nbd-fresh "nbd+unix:///?socket=$s" "$1" "$2"
  stop_pid "$pid"
  rm -f "$work/f.raw"
}

echo "# randwrite: 4 KiB random writes with FUA, ${secs_each}s each, $reps repetitions"
machine
load "before: "
for rep in $(seq "$reps"); do
  for qd in $qds; do
    echo "  rep $rep qd $qd" >&2
    rotate "$rep" "one cdp $uri_cdp $qd $rep" "one qemu-nbd $uri_qemu $qd $rep" \
      "fresh $qd $rep" "one cdp-new $uri_new $qd $rep"
  done
done
load "after:  "
echo "journals after the run: cdp $(du -sh "$CDP_STORE/tasks/s/journal" | cut -f1)" \
     "(spare segments before it: $spare_s), cdp-new $(du -sh "$CDP_STORE/tasks/w/journal" | cut -f1)"

cell () {  # CASE TOOL
  printf "%.0f (%s) | %.2f | %.0f | %.0f | %.2f" \
    "$(med "$1" "$2" iops)" "$(range "$1" "$2" iops)" \
    "$(pratio "$1" cdp "$2" iops)" \
    "$(med "$1" "$2" p50_us)" "$(med "$1" "$2" p99_us)" \
    "$(pratio "$1" cdp "$2" p99_us)"
}
echo
echo "| QD | target | IOPS (min-max) | IOPS cdp/target | p50 µs | p99 µs | p99 cdp/target |"
echo "|--:|---|--:|--:|--:|--:|--:|"
for qd in $qds; do
  for tool in cdp cdp-new qemu-nbd qemu-nbd-fresh; do
    echo "| $qd | $tool | $(cell "qd$qd" "$tool") |"
  done
done
echo
echo "(cdp: a journal in service, writing into reclaimed segments; cdp-new: a new"
echo " journal; qemu-nbd: a laid-out raw file; qemu-nbd-fresh: a newly fallocated one)"
echo "goal: QD 32 IOPS >= 3x qemu-nbd: $(printf %.2f "$(pratio qd32 cdp qemu-nbd iops)")x" \
     "(against the fallocated file: $(printf %.2f "$(pratio qd32 cdp qemu-nbd-fresh iops)")x)"
