#!/usr/bin/env bash
# libvirt-guest-cost.sh [-c CDP] [-n WRITES] [-r REPS] [-m CACHE] [-p RPOS]
# [-q] [-f] [-k] [DIR]: what protection costs the guest, at each RPO.  A
# libvirt domain (TCG, paused CPU) writes through its virtio-blk device
# with HMP qemu-io, as a guest would (the I/O passes the mirror filter).
# Rows:
#   plain     the domain unprotected: no block job, the guest's write
#             completes once QEMU has written the disk image (in the
#             host's page cache with writeback, on the device with
#             directsync)
#   rpo=R     the domain protected by cdp (libvirt mode: a synchronous-
#             writes block copy, write-blocking: QEMU writes the image,
#             then sends the write to cdp's receiver, and the guest's
#             write completes once both are done), the task at `--rpo
#             R`: at 0 the receiver replies once the journal record is
#             durable, at R > 0 once the kernel holds it (page cache),
#             durable within R
#   mirror-qemu-nbd  (-q) the same block copy, libvirt's, into qemu-nbd
#             on a raw file with the disk's cache mode (writeback, else
#             directsync): what the mirror and its NBD round trip cost
#             with a receiver that does nothing but write the file
#   mirror-file  (-f) the same block copy into a local raw file (no
#             NBD): the mirror's cost without the round trip
# Measured for each row, in REPS alternating rounds (each round: plain,
# the mirror rows, then `cdp serve` started, READY and the first base point made, then
# each RPO in turn, set live with `cdp task set`, in an order that
# rotates with the round, each once serve has stopped writing in the
# background):
#   - QD1 4 KiB write latency: WRITES writes, one at a time, over a
#     64 MiB region written before (no qcow2 allocation in the timing);
#     qemu-io's own timing of each write, median (p50) and p99
#   - sequential throughput: 64 MiB in 1 MiB writes, one at a time
# CACHE is the disk's libvirt cache mode, for every row (default:
# libvirt's, writeback).  RPOS: comma-separated `--rpo` values (default
# 0,1s).  Prints medians over the rounds, the median of each round's
# ratio row/plain, and the goals: `--rpo 1s` against plain writeback
# (p50 <= 1.5x, seq >= 0.5x), `--rpo 0` against plain directsync (p50 <=
# 2.0x, p99 <= 2.5x, seq >= 0.35x); a goal is judged only in a run of
# its cache mode.  The timing is qemu-io's (in QEMU's log), so virsh's
# round trips are not counted.  No assertion: the exit status says only
# whether it ran.
set -euo pipefail
name=guest-cost
. "$(dirname "$0")/functions.sh"
root=$(cd "$bench_dir/.." && pwd)

usage () {
  cat <<EOF
usage: $0 [-c CDP] [-n WRITES] [-r REPS] [-m CACHE] [-p RPO[,RPO...]] [-q] [-f] [-k] [DIR]
  -c  the cdp binary (default: the newest build*/cdp/cdp)
  -n  QD1 writes per measurement (default 400)
  -r  rounds (default 3)
  -m  the disk's cache mode: writeback, directsync, ... (default: libvirt's)
  -p  the task's --rpo in the protected rows (default 0,1s)
  -q  also the row mirror-qemu-nbd: the block copy into qemu-nbd
  -f  also the row mirror-file: the block copy into a local raw file
  -k  keep the scratch directory
  DIR where the scratch directory goes (default /var/tmp)
EOF
}

writes=400 reps=3 cache='' rpos=0,1s mirror_row=0 mirror_file=0 keep=0
bench_opt () {
  case $1 in
    n) writes=$2 ;;
    m) cache=$2 ;;
    p) rpos=$2 ;;
    q) mirror_row=1 ;;
    f) mirror_file=1 ;;
    *) return 1 ;;
  esac
}
bench_getopts c:n:r:m:p:qfkh "$@"
shift "$bench_nopt"
IFS=, read -r -a rpo_list <<<"$rpos"
[ "${#rpo_list[@]}" -gt 0 ] || { usage >&2; exit 2; }
for t in virsh jq qemu-system-x86_64; do requires "$t" "see README.md"; done
[ -n "$cdp" ] || cdp=$(find_bin cdp/cdp)
[ -x "$cdp" ] || die "$cdp is not executable"

"$root/scripts/start-libvirtd"
export LIBVIRT_DEFAULT_URI=qemu:///system
make_work "${1:-/var/tmp}"
chmod 0711 "$work"                      # QEMU's user reaches the image
dom=cdp-bench-${work##*.}
log=/var/log/libvirt/qemu/$dom.log
on_exit "virsh destroy $dom >/dev/null 2>&1; virsh undefine $dom >/dev/null 2>&1"

"$root/scripts/make-vm" "$work" "$dom" --blank 256M >/dev/null
[ -z "$cache" ] ||
  sed -i "s|<driver name='qemu' type='qcow2'/>|<driver name='qemu' type='qcow2' cache='$cache'/>|" "$work/$dom.xml"
virsh define "$work/$dom.xml" >/dev/null
virsh start --paused "$dom" >/dev/null

# run_io CMD...: qemu-io commands through the guest device, in one virsh
# session; prints qemu-io's ops/sec of each, from QEMU's log.
run_io () {
  local before c
  before=$(wc -l <"$log")
  for c in "$@"; do
    printf 'qemu-monitor-command %s --hmp %q\n' "$dom" \
      "qemu-io -d virtio-disk0/virtio-backend \"$c\""
  done | virsh >/dev/null
  tail -n +"$((before + 1))" "$log" |
    sed -n 's/.*ops; [0-9:.]* sec ([^)]* and \([0-9.]*\) ops\/sec)/\1/p'
}

latency_us () {   # median and p99 of 1e6/ops_per_sec
  awk '{ print 1e6 / $1 }' | sort -g |
    awk '{ v[NR] = $1 } END { printf "%.1f %.1f\n", v[int((NR + 1) / 2)], v[int(NR * 0.99 + 0.5)] }'
}

qd1 () {
  local cmds=() i
  for i in $(seq 0 $((writes - 1))); do
    cmds+=("write -P $((i % 250 + 1)) $(( (i * 37 % 16384) * 4096 )) 4k")
  done
  run_io "${cmds[@]}" | latency_us
}

seqmb () {       # MiB/s: 64 MiB in 1 MiB writes
  local cmds=() i
  for i in $(seq 0 63); do cmds+=("write -P 7 $((i << 20)) 1M"); done
  run_io "${cmds[@]}" | awk '{ t += 1 / $1 } END { printf "%.1f\n", 64 / t }'
}

# measure ROW REP: QD1 latency and sequential throughput into $raw.
measure () {
  local p50 p99
  read -r p50 p99 < <(qd1)
  rec guest "$1" "$2" p50_us "$p50"
  rec guest "$1" "$2" p99_us "$p99"
  rec guest "$1" "$2" seq_mib_s "$(seqmb)"
  echo "  round $2 $1: p50 $p50 us, p99 $p99 us" >&2
}

# Protected, and the first base point (folded right after READY) made:
# measure the steady state, not the fold.
wait_protected () {
  local i
  for i in $(seq 600); do
    "$cdp" status bench --json 2>/dev/null |
      jq -e '.tasks[0].disks[0] | .state == "protected" and (.base_point != null)' \
        >/dev/null && return 0
    sleep 0.2
  done
  die "the task never got protected with a base point (see $work/serve.log)"
}

# wait_quiet: until serve has written under 1 MiB in half a second (at
# most a minute): at --rpo 0 its journal zeroes the next segment ahead
# after the initial copy (and after a change to 0), a background load
# that is not the steady state.
wait_quiet () {
  local a b i
  b=$(awk '/^wchar/ { print $2 }' "/proc/$serve_pid/io")
  for i in $(seq 120); do
    sleep 0.5
    a=$b
    b=$(awk '/^wchar/ { print $2 }' "/proc/$serve_pid/io")
    [ $((b - a)) -lt $((1 << 20)) ] && return 0
  done
  echo "  serve still writing after a minute: measuring anyway" >&2
}

# mirror ROW REP: the row mirror-qemu-nbd or mirror-file, a synchronous-
# writes block copy (as cdp starts it) into qemu-nbd or a local raw file,
# aborted after.
mirror () {
  local c=${cache:-writeback} aio=threads pid=
  [ "$c" = writeback ] || { c=directsync; aio=io_uring; }
  qemu-img create -q -f raw "$work/m.raw" 256M
  if [ "$1" = mirror-file ]; then
    chown libvirt-qemu "$work/m.raw"    # QEMU's user writes it
    echo "<disk type='file' device='disk'><driver type='raw'/><source file='$work/m.raw'/></disk>" \
      >"$work/m.xml"
  else
    start_qemu_nbd "$work/m.sock" -f raw --cache="$c" --aio="$aio" "$work/m.raw"
    pid=$qemu_pid
    chmod 0666 "$work/m.sock"           # QEMU's user connects
    echo "<disk type='network' device='disk'><driver type='raw'/><source protocol='nbd'><host transport='unix' socket='$work/m.sock'/></source></disk>" \
      >"$work/m.xml"
  fi
  virsh blockcopy "$dom" vda --xml "$work/m.xml" --transient-job \
    --synchronous-writes --reuse-external --wait >/dev/null
  measure "$1" "$2"
  virsh blockjob "$dom" vda --abort >/dev/null   # waits for the end
  [ -z "$pid" ] || stop_pid "$pid"
  rm -f "$work/m.raw"
}

run_io "write -P 1 0 64M" >/dev/null   # allocate the region once
"$cdp" task create bench --domain "$dom" --rpo "${rpo_list[0]}" >/dev/null
for r in "${rpo_list[@]}"; do           # a bad RPO fails here, not later
  "$cdp" task set bench --rpo "$r" >/dev/null
done

echo "# libvirt guest cost: cache ${cache:-libvirt default}, RPOs ${rpo_list[*]}, $reps rounds, $writes QD1 writes"
machine
echo "vm:      QEMU $(qemu-system-x86_64 --version | head -n 1 | awk '{ print $4 }') under libvirt $(virsh --version), TCG"
load "before: "
n=${#rpo_list[@]}
for rep in $(seq "$reps"); do
  measure plain "$rep"
  [ "$mirror_file" = 0 ] || mirror mirror-file "$rep"
  [ "$mirror_row" = 0 ] || mirror mirror-qemu-nbd "$rep"
  # The order of the RPOs rotates with the round; the first is set
  # before serve starts, the others live.
  "$cdp" task set bench --rpo "${rpo_list[$(( rep % n ))]}" >/dev/null
  start_serve
  wait_protected
  for ((i = 0; i < n; i++)); do
    r=${rpo_list[$(( (i + rep) % n ))]}
    [ "$i" -eq 0 ] || "$cdp" task set bench --rpo "$r" >/dev/null
    wait_quiet
    measure "rpo=$r" "$rep"
  done
  stop_serve
done
load "after:  "

echo
echo "| row | QD1 4 KiB p50 µs (min-max) | p99 µs (min-max) | seq 1 MiB MiB/s (min-max) | p50 / plain | p99 / plain | seq / plain |"
echo "|---|--:|--:|--:|--:|--:|--:|"
rows=(plain)
[ "$mirror_file" = 0 ] || rows+=(mirror-file)
[ "$mirror_row" = 0 ] || rows+=(mirror-qemu-nbd)
for r in "${rpo_list[@]}"; do rows+=("rpo=$r"); done
for row in "${rows[@]}"; do
  printf '| %s | %.1f (%s) | %.1f (%s) | %.1f (%s) | %.2fx | %.2fx | %.2fx |\n' "$row" \
    "$(med guest "$row" p50_us)" "$(range guest "$row" p50_us)" \
    "$(med guest "$row" p99_us)" "$(range guest "$row" p99_us)" \
    "$(med guest "$row" seq_mib_s)" "$(range guest "$row" seq_mib_s)" \
    "$(pratio guest "$row" plain p50_us)" "$(pratio guest "$row" plain p99_us)" \
    "$(pratio guest "$row" plain seq_mib_s)"
done
echo "(ratios: the median over the rounds of the round's row/plain, the disk's cache mode in both)"

# goal ROW METRIC OP LIMIT: "metric ratio OP LIMITx: RATIOx met|missed"
goal () {
  local x
  x=$(pratio guest "$1" plain "$2")
  printf '%s/plain %s %sx: %.2fx %s' "${2%%_*}" "$3" "$4" "$x" \
    "$(awk -v x="$x" -v l="$4" -v op="$3" \
         'BEGIN { print ((op == "<=" ? x <= l : x >= l) ? "met" : "missed") }')"
}

mode=${cache:-writeback}
for r in "${rpo_list[@]}"; do
  case $r in
    1s) want=writeback
        goals="$(goal rpo=1s p50_us '<=' 1.5); $(goal rpo=1s seq_mib_s '>=' 0.5)" ;;
    0)  want=directsync
        goals="$(goal rpo=0 p50_us '<=' 2.0); $(goal rpo=0 p99_us '<=' 2.5); $(goal rpo=0 seq_mib_s '>=' 0.35)" ;;
    *)  continue ;;
  esac
  if [ "$mode" = "$want" ]; then
    echo "goal --rpo $r against plain $want: $goals"
  else
    echo "goal --rpo $r: judged against plain $want (-m $want), this run is $mode"
  fi
done
