#!/usr/bin/env bash
# rpo-nbd.sh: what each RPO costs a write straight over NBD, without
# QEMU's mirror: the receiver's share of bench/libvirt-guest-cost.sh.
#
#   cdp-rpo=R          a manual-mode task of 1 GiB under `cdp serve`, at
#                      `--rpo R` (each in the list: a task of its own);
#                      at 0 the reply waits for the durable journal
#                      record, at R > 0 only for the kernel to hold it
#   qemu-nbd-writeback  -f raw --cache=writeback on a 1 GiB raw file
#                      written in full beforehand: the reply once the
#                      page cache holds the data (what an unprotected
#                      writeback guest disk does)
#   qemu-nbd-directsync the same with --cache=directsync
#                      --aio=io_uring: the reply once the data is on the
#                      device (an unprotected directsync disk)
#
# Writes carry no FUA (QEMU's mirror strips it).  The client is
# bench/nbd-bench (libnbd, one connection, a request's latency from
# submission to its reply) over unix sockets, at queue depth 1, as the
# guest benchmark writes:
#   4k   4 KiB at random aligned offsets for SECONDS: IOPS, p50, p99
#   1m   1 MiB at random aligned offsets, COUNT of them: MiB/s, p50
# Each repetition runs every target back to back, in an order that
# rotates with the repetition; medians, and paired ratios of every cdp
# row against both qemu-nbd rows.  No timing assertion.
set -euo pipefail
name=rpo-nbd
. "$(dirname "$0")/functions.sh"

usage () {
  cat <<EOF
usage: $0 [-c CDP] [-n NBD_BENCH] [-p RPO[,RPO...]] [-t SECONDS] [-N COUNT] [-r REPS] [-k] [DIR]
  -c  the cdp binary (default: the newest build*/cdp/cdp)
  -n  the nbd-bench binary (default: the newest build*/bench/nbd-bench)
  -p  the tasks' --rpo (default 0,1s)
  -t  seconds per 4 KiB measurement (default 3)
  -N  1 MiB writes per measurement (default 256)
  -r  repetitions (default 5)
  -k  keep the scratch directory
  DIR where the scratch directory goes (default /var/tmp); needs 4 GiB
EOF
}

rpos=0,1s secs_each=3 count=256 reps=5 keep=0
bench_opt () {
  case $1 in
    p) rpos=$2 ;;
    t) secs_each=$2 ;;
    N) count=$2 ;;
    *) return 1 ;;
  esac
}
bench_getopts c:n:p:t:N:r:kh "$@"
shift "$bench_nopt"
IFS=, read -r -a rpo_list <<<"$rpos"
[ "${#rpo_list[@]}" -gt 0 ] || { usage >&2; exit 2; }
requires qemu-nbd "see README.md"
find_tools
make_work "${1:-/var/tmp}"
need_gib 4

targets=()
declare -A uri
for i in "${!rpo_list[@]}"; do
  t="cdp-rpo=${rpo_list[$i]}"
  "$cdp" task create "r$i" --size 1G --listen "unix:$work/r$i.sock" \
    --rpo "${rpo_list[$i]}" --bp-interval 7d >/dev/null
  targets+=("$t")
  uri[$t]="nbd+unix:///disk0?socket=$work/r$i.sock"
done
start_serve
for i in "${!rpo_list[@]}"; do wait_socket "$work/r$i.sock"; done
for c in writeback directsync; do
  dd if=/dev/zero of="$work/$c.raw" bs=1M count=1024 oflag=direct conv=fsync status=none
  aio=threads
  [ $c = directsync ] && aio=io_uring
  start_qemu_nbd "$work/$c.sock" -f raw --cache="$c" --aio="$aio" "$work/$c.raw"
  targets+=("qemu-nbd-$c")
  uri["qemu-nbd-$c"]="nbd+unix:///?socket=$work/$c.sock"
done

# kv OUT KEY: a key=value of nbd-bench's output
kv () { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# one TARGET REP
one () {
  local out
  out=$("$nbd_bench" write --bs 4k --qd 1 --seconds "$secs_each" --seed "$2" \
        "${uri[$1]}") || die "nbd-bench failed on $1"
  rec 4k "$1" "$2" iops "$(kv "$out" iops)"
  rec 4k "$1" "$2" p50_us "$(kv "$out" p50_us)"
  rec 4k "$1" "$2" p99_us "$(kv "$out" p99_us)"
  out=$("$nbd_bench" write --bs 1M --qd 1 --count "$count" --seed "$2" \
        "${uri[$1]}") || die "nbd-bench failed on $1"
  rec 1m "$1" "$2" mib_s "$(kv "$out" mib_s)"
  rec 1m "$1" "$2" p50_us "$(kv "$out" p50_us)"
}

echo "# rpo-nbd: QD1 writes without FUA over NBD, 4 KiB for ${secs_each}s and $count x 1 MiB, $reps repetitions"
machine
load "before: "
for rep in $(seq "$reps"); do
  echo "  rep $rep" >&2
  cmds=()
  for t in "${targets[@]}"; do cmds+=("one $t $rep"); done
  rotate "$rep" "${cmds[@]}"
done
load "after:  "

echo
echo "| target | 4 KiB IOPS (min-max) | p50 µs | p99 µs | 1 MiB MiB/s (min-max) | 1 MiB p50 µs |"
echo "|---|--:|--:|--:|--:|--:|"
for t in "${targets[@]}"; do
  printf '| %s | %.0f (%s) | %.1f | %.1f | %.0f (%s) | %.0f |\n' "$t" \
    "$(med 4k "$t" iops)" "$(range 4k "$t" iops)" \
    "$(med 4k "$t" p50_us)" "$(med 4k "$t" p99_us)" \
    "$(med 1m "$t" mib_s)" "$(range 1m "$t" mib_s)" "$(med 1m "$t" p50_us)"
done
echo
echo "| cdp / qemu-nbd (paired medians) | 4 KiB p50 | 4 KiB p99 | 1 MiB MiB/s |"
echo "|---|--:|--:|--:|"
for t in "${targets[@]}"; do
  case $t in cdp*) ;; *) continue ;; esac
  for c in writeback directsync; do
    printf '| %s / %s | %.2fx | %.2fx | %.2fx |\n' "$t" "$c" \
      "$(pratio 4k "$t" "qemu-nbd-$c" p50_us)" "$(pratio 4k "$t" "qemu-nbd-$c" p99_us)" \
      "$(pratio 1m "$t" "qemu-nbd-$c" mib_s)"
  done
done
