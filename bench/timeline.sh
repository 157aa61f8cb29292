#!/usr/bin/env bash
# timeline.sh: `cdp points --bucket DUR --json` (the timeline a page
# redraws while zooming) over a day of history, next to `cdp points
# --json` (the list) over the same day.
#
# A manual-mode task gets a synthetic history of HOURS (default 24) up
# to now from bench/timeline-history, in cdp's own journal, index,
# catalog and locks formats: WRITES 512-byte writes (default 2) in every
# second, base points every 20 minutes, 6 bookmarks, 3 locks, a gap of
# 5 minutes.  Then, each run a fresh `cdp` process, as a page's
# cockpit.spawn runs it:
#
#   span-1s   --from -HOURSh --bucket 1s   (86400 buckets for a day)
#   hour-1s   --from -1h --bucket 1s
#   span-1m   --from -HOURSh --bucket 1m
#   span-list --from -HOURSh, no --bucket: every point as a JSON object
#   start     cdp --version --json: what starting the process costs
#
# Wall time of each command (bash's EPOCHREALTIME, no extra process)
# and its CPU time,
# repetitions in rotating order, medians and min-max; the ratio is the
# median of the list's time over the timeline's in the same repetition.
# No timing assertion: the exit status only says whether it ran.
set -euo pipefail
name=timeline
. "$(dirname "$0")/functions.sh"

usage () {
  cat <<EOF2
usage: $0 [-c CDP] [-t TIMELINE_HISTORY] [-H HOURS] [-w WRITES] [-r REPS] [-k] [DIR]
  -c  the cdp binary (default: the newest build*/cdp/cdp)
  -t  the timeline-history binary (default: the newest build*/bench/timeline-history)
  -H  hours of history (default 24)
  -w  writes a second (default 2)
  -r  repetitions (default 10)
  -k  keep the scratch directory
  DIR where the scratch directory goes (default /var/tmp); needs about
      HOURS x WRITES x 2.5 MiB
EOF2
}

hours=24
writes=2
reps=10
keep=0
tool=
bench_opt () {
  case $1 in
    t) tool=$(readlink -f "$2") ;;
    H) hours=$2 ;;
    w) writes=$2 ;;
    *) return 1 ;;
  esac
}
bench_getopts c:t:H:w:r:kh "$@"
shift "$bench_nopt"
for t in jq bc; do requires "$t" "see README.md"; done
[ -n "$cdp" ] || cdp=$(find_bin cdp/cdp)
[ -n "$tool" ] || tool=$(find_bin bench/timeline-history)
make_work "${1:-/var/tmp}"

"$cdp" task create tl --size 1G --listen "unix:$work/rx.sock" >/dev/null
t0=$EPOCHREALTIME
made=$("$tool" "$CDP_STORE" tl "$hours" "$writes")
t1=$EPOCHREALTIME
task=$CDP_STORE/tasks/tl

# ms CASE REP ARGS...: one run of cdp ARGS, its output kept: its wall
# time and its CPU time (user + system, from the rusage bash's `times`
# reports for the children of a subshell), which a loaded host inflates
# less.
ms () {
  local c=$1 rep=$2 out wall cpu
  shift 2
  out=$(t0=$EPOCHREALTIME
        "$cdp" "$@" >"$work/$c.json"
        t1=$EPOCHREALTIME
        echo "$t0 $t1"
        times)
  wall=$(echo "$out" | sed -n 1p | awk '{ printf "%.3f", ($2 - $1) * 1000 }')
  cpu=$(echo "$out" | sed -n 3p | awk '{
    split($1, u, /[ms]/); split($2, s, /[ms]/)
    printf "%.3f", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1000 }')
  rec "$c" cdp "$rep" ms "$wall"
  rec "$c" cdp "$rep" cpu "$cpu"
}

from="-${hours}h"
for rep in $(seq "$reps"); do
  rotate "$rep" \
    "ms span-1s $rep points tl --from $from --bucket 1s --json" \
    "ms hour-1s $rep points tl --from -1h --bucket 1s --json" \
    "ms span-1m $rep points tl --from $from --bucket 1m --json" \
    "ms span-list $rep points tl --from $from --json" \
    "ms start $rep --version --json"
done

echo "# timeline: cdp points over $hours h of history, $reps repetitions"
machine
echo "history: $made, made in $(printf %.1f "$(echo "$t1 - $t0" | bc -l)") s;" \
     "journal $(du -sh "$task/journal" | cut -f1), index $(du -sh "$task/index" | cut -f1)"
load "after:  "
echo
echo "| case | command | buckets | points | output bytes | ms (min-max) | CPU ms | list ms / this ms |"
echo "|---|---|--:|--:|--:|--:|--:|--:|"
# cratio A B: the median over repetitions of case A's time / case B's.
cratio () {
  awk -v a="$1" -v b="$2" '
    $1 == a && $4 == "ms" { x[$3] = $5 }
    $1 == b && $4 == "ms" { y[$3] = $5 }
    END {
      n = 0
      for (r in x) if (r in y && y[r] > 0) v[++n] = x[r] / y[r]
      for (i = 2; i <= n; i++)
        for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
      if (n) printf "%.1f", n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }' "$raw"
}
row () {
  local c=$1 cmd=$2 buckets=- points=-
  case $c in
    span-list) points=$(jq '.points | length' "$work/$c.json") ;;
    start) ;;
    *) buckets=$(jq .buckets "$work/$c.json")
       points=$(jq '.counts | add' "$work/$c.json") ;;
  esac
  printf "| %s | \`%s\` | %s | %s | %s | %.1f (%s) | %.1f | %s |\n" "$c" "$cmd" \
    "$buckets" "$points" "$(stat -c %s "$work/$c.json")" \
    "$(med "$c" cdp ms)" "$(range "$c" cdp ms)" "$(med "$c" cdp cpu)" \
    "$(cratio span-list "$c")"
}
row span-1s "cdp points tl --from $from --bucket 1s --json"
row hour-1s "cdp points tl --from -1h --bucket 1s --json"
row span-1m "cdp points tl --from $from --bucket 1m --json"
row span-list "cdp points tl --from $from --json"
row start "cdp --version --json"
echo
echo "goal: a day at 1 s buckets under 100 ms; $hours h at 1 s: $(printf %.1f "$(med span-1s cdp ms)") ms" \
     "($(printf %.1f "$(med span-1s cdp cpu)") ms of CPU; the process alone:" \
     "$(printf %.1f "$(med start cdp ms)") ms)"
