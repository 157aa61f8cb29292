# functions.sh: what the benchmarks that run cdp next to qemu-nbd and
# nbdkit share.  Sourced by bench/*.sh after they set `name` (used in
# messages and in the scratch directory's name).
#
#   bench_getopts SPEC "$@"   the options every script takes: -c CDP,
#                   -n NBD_BENCH, -s SIZE_MIB (size_mib), -p PERCENT (pct),
#                   -r REPS, -k (keep), -h (usage); a letter the script's
#                   own bench_opt LETTER ARG takes (returns 0) is its own;
#                   then `shift "$bench_nopt"`
#   find_tools      cdp and nbd-bench from -c/-n or the build trees
#   make_work DIR   a scratch directory DIR/cdp-bench-$name.XXXXXX;
#                   removed, with every process started here, on exit
#   on_exit CMD     run CMD (eval) at exit, once those processes are
#                   stopped and before the scratch directory goes
#   start_serve     `cdp serve` on $CDP_STORE; stop_serve
#   start_qemu_nbd SOCK ARGS...   qemu-nbd in the background (--fork)
#   start_nbdkit SOCK ARGS...     nbdkit in the background
#   start_export SOCK ARGS...     `cdp export ... --listen unix:SOCK`
#   stop_pid PID    SIGTERM and wait for it (and forget it)
#   wait_base TASK  until serve has made the task's first base point
#   base_chain TASK how many base points, and the newest one's depth
#   secs CMD...     wall time of CMD in seconds (its stdout discarded)
#   timed VAR CMD...  the same into VAR, CMD run in this shell
#   rec CASE TOOL REP METRIC VALUE   one measurement into $raw
#   med CASE TOOL METRIC             median over the repetitions
#   pratio CASE A B METRIC [METRIC_B]  median of the paired ratios A/B
#   machine, load   what the results were measured on, and under what load
#
# Paired repetitions: a script runs each measurement of cdp and of its
# peers back to back, in an order that rotates with the repetition, and
# reports medians; a ratio is the median of the ratios of the same
# repetition, so that drift on a shared host falls on both sides.
# No timing assertion anywhere: the exit status only says whether it ran.

set -euo pipefail

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cdp=${cdp:-}
nbd_bench=${nbd_bench:-}
pids=()
exit_cmds=()
work=
raw=

# shellcheck disable=SC2154  # name: set by the script that sources this
die () { echo "$name: $*" >&2; exit 1; }

requires () {
  command -v "$1" >/dev/null || die "needs $1 ($2)"
}

bench_getopts () {
  local spec=$1 opt
  shift
  while getopts "$spec" opt; do
    if declare -F bench_opt >/dev/null && bench_opt "$opt" "${OPTARG-}"; then
      continue
    fi
    case $opt in
      c) cdp=$(readlink -f "$OPTARG") ;;
      n) nbd_bench=$(readlink -f "$OPTARG") ;;
      s) size_mib=$OPTARG ;;
      p) pct=$OPTARG ;;
      r) reps=$OPTARG ;;
      k) keep=1 ;;
      h) usage; exit 0 ;;
      *) usage >&2; exit 2 ;;
    esac
  done
  bench_nopt=$((OPTIND - 1))
}

# The newest build tree's binary, if none was given.
find_bin () {
  local f best=
  for f in "$bench_dir"/../build*/"$1"; do
    [ -x "$f" ] || continue
    [ -z "$best" ] || [ "$f" -nt "$best" ] && best=$f
  done
  [ -n "$best" ] || die "no $1: build it (meson setup build && ninja -C build) or pass its path"
  readlink -f "$best"
}

find_tools () {
  [ -n "$cdp" ] || cdp=$(find_bin cdp/cdp)
  [ -n "$nbd_bench" ] || nbd_bench=$(find_bin bench/nbd-bench)
  [ -x "$cdp" ] || die "$cdp is not executable"
  [ -x "$nbd_bench" ] || die "$nbd_bench is not executable"
}

cleanup () {
  local p
  for p in "${pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || :
  done
  for p in "${pids[@]}"; do
    # qemu-nbd --fork and nbdkit are not our children: wait by polling.
    wait "$p" 2>/dev/null || while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
  done
  pids=()
  for p in "${exit_cmds[@]}"; do
    eval "$p" || :
  done
  exit_cmds=()
  [ -n "$work" ] && [ "${keep:-0}" != 1 ] && rm -rf "$work"
  return 0
}

make_work () {
  local fstype
  mkdir -p "$1"
  fstype=$(stat -f -c %T "$1")
  case $fstype in
    tmpfs|ramfs) die "$1 is on $fstype: durability means nothing there" ;;
  esac
  work=$(mktemp -d "$1/cdp-bench-$name.XXXXXX")
  raw=$work/results.raw
  : >"$raw"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  export CDP_STORE=$work/store
}

on_exit () {
  exit_cmds+=("$*")
}

need_gib () {
  local avail
  avail=$(( $(stat -f -c '%a * %S' "$work") >> 30 ))
  [ "$avail" -ge "$1" ] || die "$work: ${avail} GiB free, needs $1 GiB"
}

forget_pid () {
  local p keep_pids=()
  for p in "${pids[@]}"; do
    [ "$p" = "$1" ] || keep_pids+=("$p")
  done
  pids=("${keep_pids[@]}")
}

stop_pid () {
  kill -TERM "$1" 2>/dev/null || :
  wait "$1" 2>/dev/null || while kill -0 "$1" 2>/dev/null; do sleep 0.05; done
  forget_pid "$1"
}

wait_socket () {
  local i
  for i in $(seq 600); do
    [ -S "$1" ] && return 0
    sleep 0.05
  done
  die "nothing listens on $1"
}

serve_pid=
start_serve () {
  "$cdp" serve >>"$work/serve.log" 2>&1 &
  serve_pid=$!
  pids+=("$serve_pid")
  [ $# -eq 0 ] || wait_socket "$1"
}

stop_serve () {
  [ -n "$serve_pid" ] && stop_pid "$serve_pid"
  serve_pid=
}

# start_qemu_nbd SOCK ARGS... : sets qemu_pid
qemu_pid=
start_qemu_nbd () {
  local sock=$1
  shift
  rm -f "$sock" "$sock.pid"
  qemu-nbd -k "$sock" -t -e 8 --fork --pid-file="$sock.pid" "$@"
  qemu_pid=$(cat "$sock.pid")
  pids+=("$qemu_pid")
}

# start_nbdkit SOCK ARGS... : sets nbdkit_pid
nbdkit_pid=
start_nbdkit () {
  local sock=$1
  shift
  rm -f "$sock" "$sock.pid"
  nbdkit -U "$sock" -P "$sock.pid" "$@"
  nbdkit_pid=$(cat "$sock.pid")
  pids+=("$nbdkit_pid")
}

# start_export SOCK ARGS... : `cdp export ARGS --listen unix:SOCK`, sets
# export_pid once it serves.
export_pid=
start_export () {
  local sock=$1
  shift
  rm -f "$sock"
  "$cdp" export "$@" --listen "unix:$sock" >"$sock.uri" 2>>"$work/export.log" &
  export_pid=$!
  pids+=("$export_pid")
  wait_socket "$sock"
}

# wait_base TASK: until the task has a base point (serve makes the first
# one at its first maintenance cycle after the first write).
wait_base () {
  local i
  for i in $(seq 600); do
    grep -q '"file"' "$CDP_STORE/tasks/$1/base/catalog.json" 2>/dev/null && return 0
    sleep 0.05
  done
  die "task $1 got no base point"
}

# base_chain TASK: "N (depth D)": base points, and the newest one's chain.
base_chain () {
  jq -r '"\(.bases | length) (depth \(.bases | max_by(.seq) | .depth))"' \
    "$CDP_STORE/tasks/$1/base/catalog.json"
}

now () { date +%s.%N; }

secs () {
  local t0 t1
  t0=$(now)
  "$@" >/dev/null
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}

# timed VAR CMD...: like secs, into VAR, running CMD in this shell (so
# that the processes a function starts are known to cleanup).
timed () {
  local t0 t1
  t0=$(now)
  "${@:2}" >/dev/null
  t1=$(now)
  printf -v "$1" %s "$(echo "$t1 - $t0" | bc -l)"
}

rec () {
  echo "$*" >>"$raw"
}

# med CASE TOOL METRIC
med () {
  awk -v c="$1" -v t="$2" -v m="$3" -f "$bench_dir/median.awk" \
      -v mode=median "$raw"
}

# pratio CASE A B METRIC [METRIC_B]: median over repetitions of A/B
# (B's value of METRIC_B if given).
pratio () {
  awk -v c="$1" -v a="$2" -v b="$3" -v m="$4" -v mb="${5:-}" \
      -f "$bench_dir/median.awk" -v mode=ratio "$raw"
}

# range CASE TOOL METRIC: "min-max" over the repetitions
range () {
  awk -v c="$1" -v t="$2" -v m="$3" -f "$bench_dir/median.awk" \
      -v mode=range "$raw"
}

psi () {
  sed -n "s/^some avg10=[0-9.]* avg60=\([0-9.]*\).*/$1-pressure-60s=\1%/p" \
    "/proc/pressure/$1" 2>/dev/null || true
}

load () {
  echo "$1 load average $(cut -d' ' -f1-3 /proc/loadavg) $(psi cpu) $(psi io)"
}

# The commit the binary was built from, "-dirty" if the tree (bench/
# aside) differs from it.
source_rev () {
  local rev
  rev=$(git -C "$1" rev-parse --short HEAD 2>/dev/null) || { echo "?"; return; }
  git -C "$1" diff --quiet HEAD -- . ':(exclude)bench' 2>/dev/null || rev=$rev-dirty
  echo "$rev"
}

machine () {
  local src dev q
  src=$(findmnt -n -o SOURCE -T "$work")
  dev=$(basename "$(readlink -f "$src")")
  q=/sys/class/block/$dev/queue
  echo "date:    $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "cpu:     $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)," \
       "$(awk '/MemTotal/ {printf "%d GiB RAM", $2 / 1048576 + 0.5}' /proc/meminfo)"
  echo "kernel:  $(uname -r)"
  echo "fs:      $(findmnt -n -o FSTYPE,SOURCE,OPTIONS -T "$work") at $work"
  if [ -d "$q" ]; then
    echo "device:  $dev write_cache=$(cat "$q"/write_cache) fua=$(cat "$q"/fua 2>/dev/null || echo ?)"
  fi
  echo "tools:   $(qemu-nbd --version | head -n 1 | cut -d' ' -f1,2), $(nbdkit --version), $(nbdcopy --version | head -n 1)"
  echo "cdp:     $cdp ($(source_rev "$(dirname "$cdp")"))"
}

# Runs of a list of commands in an order that rotates with rep.
rotate () {
  local rep=$1 n i
  shift
  n=$#
  local cmds=("$@")
  for ((i = 0; i < n; i++)); do
    eval "${cmds[$(( (i + rep) % n ))]}"
  done
}
