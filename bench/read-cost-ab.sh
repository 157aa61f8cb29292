#!/usr/bin/env bash
# read-cost-ab.sh: the CPU seconds (user + system) two cdp binaries spend
# reading the same points, paired and alternating: the `cdp export`
# process while nbdcopy reads a whole point (the first read, then a
# re-read of it), and `cdp restore` of it to a raw file.  On a host that
# other work keeps busy, wall time says more about the others than about
# cdp; CPU time does not.
#
# STORE_DIR: a scratch directory kept by `bench/export-read.sh -k` (its
# tasks j, a point all in the journal, and b, a base point + journal).
#
#   bench/read-cost-ab.sh -a OLD/cdp -b NEW/cdp [-r REPS] STORE_DIR
set -euo pipefail
reps=3
while getopts a:b:r:h opt; do
  case $opt in
    a) before=$(readlink -f "$OPTARG") ;;
    b) after=$(readlink -f "$OPTARG") ;;
    r) reps=$OPTARG ;;
    *) echo "usage: $0 -a CDP_BEFORE -b CDP_AFTER [-r REPS] STORE_DIR" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] && [ -n "${before-}" ] && [ -n "${after-}" ] || {
  echo "usage: $0 -a CDP_BEFORE -b CDP_AFTER [-r REPS] STORE_DIR" >&2; exit 2; }
dir=$(readlink -f "$1")
export CDP_STORE=$dir/store
declare -A bin=([before]=$before [after]=$after)
out=$dir/read-cost.raw; : >"$out"
tck=$(getconf CLK_TCK)
cpu () { awk -v t="$tck" '{ print ($14 + $15) / t }' "/proc/$1/stat"; }
export_read () {  # BIN TASK MODE
  local sock=$dir/abc-$1-$2.sock opt= c0 c1 c2
  [ "$3" = no-extents ] && opt=--no-extents
  rm -f "$sock"
  "${bin[$1]}" export "$2" --at now --listen "unix:$sock" >/dev/null 2>>"$dir/read-cost.err" &
  local pid=$!
  for i in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
  c0=$(cpu $pid)
  nbdcopy $opt -- "nbd+unix:///disk0?socket=$sock" null:
  c1=$(cpu $pid)
  nbdcopy $opt -- "nbd+unix:///disk0?socket=$sock" null:
  c2=$(cpu $pid)
  echo "first $2 $3 $1 $(echo "$c1 - $c0" | bc -l)" >>"$out"
  echo "reread $2 $3 $1 $(echo "$c2 - $c1" | bc -l)" >>"$out"
  kill -TERM $pid; wait $pid || :
}
restore () {  # BIN TASK
  rm -f "$dir/out.raw"
  echo "restore $2 raw $1 $(python3 -c '
import os, sys, subprocess
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, st, ru = os.wait4(p.pid, 0)
assert st == 0
print(ru.ru_utime + ru.ru_stime)' "${bin[$1]}" restore "$2" --at now --output "$dir/out.raw")" >>"$out"
  rm -f "$dir/out.raw"
}
echo "# read cost: cdp CPU seconds, $reps paired repetitions; before: $before, after: $after"
for rep in $(seq "$reps"); do
  order=(before after); [ $((rep % 2)) -eq 0 ] && order=(after before)
  for task in j b; do
    for mode in default; do
      for b in "${order[@]}"; do export_read "$b" "$task" "$mode"; done
    done
    for b in "${order[@]}"; do restore "$b" "$task"; done
  done
done
echo "load: $(cat /proc/loadavg)"
python3 - "$out" <<'PY'
import sys, statistics, collections
d = collections.defaultdict(list)
for l in open(sys.argv[1]):
    kind, task, mode, b, s = l.split()
    d[(kind, task, mode, b)].append(float(s))
print("| what | task | cdp CPU s before (median) | after (median) | after/before (median of pairs) |")
print("|---|---|--:|--:|--:|")
for k in sorted({k[:3] for k in d}):
    b, a = d[k + ("before",)], d[k + ("after",)]
    r = [x / y for x, y in zip(a, b) if y > 0]
    print(f"| {k[0]} | {k[1]} | {statistics.median(b):.3f} | {statistics.median(a):.3f} | {statistics.median(r):.3f} |")
PY
