#!/usr/bin/env bash
# point-open.sh: how long from starting `cdp export --at now` to the first
# 512 bytes served, with millions of records in the journal, next to the
# same for qemu-nbd serving a raw file.
#
# A manual-mode task of 1 GiB gets its records as 512-byte write-zeroes
# at random 512-byte aligned offsets (bench/nbd-bench write --zero: 4
# connections, 64 in flight on each).  Such a record carries no payload
# (64 bytes in the journal) but is a full entry in the index: an extent,
# a time and a second.  After each step the script reads from the
# receiver, which waits until the index holds every record, then stops
# `cdp serve`, so that the export has the machine to itself and its
# index is complete.  Then, in alternating order:
#
#   cdp       nbd-bench first-byte URI -- cdp export NAME --at now
#             --listen unix:SOCK    (the point resolved, the index and
#             journal opened, the NBD server up, 512 bytes at offset 0)
#   qemu-nbd  nbd-bench first-byte URI -- qemu-nbd -r -f raw -k SOCK FILE
#
# nbd-bench starts the command and connects as soon as the socket
# accepts (retrying every 200 µs), so the time is command start to the
# end of the first read, for both.  The steps are cumulative: the task
# of the second count is the task of the first plus more records.
#
# Opening the journal reads the newest segment's records up to the
# index's last one (cdp/task/view.c view_catch_up -> index_catch_up ->
# journal_iter_new), so the cost depends on how full that segment is,
# not on the count.  Each `cdp serve` starts a new segment, so after
# each step the newest segment holds just that step's records.  A last
# step (-F to skip it) restarts serve and fills a new segment to about
# 90% with more of the same records (64 bytes each, plus the padding of
# their batches): the most such a scan costs at this segment size.
set -euo pipefail
name=point-open
. "$(dirname "$0")/functions.sh"

usage () {
  cat <<EOF
usage: $0 [-c CDP] [-n NBD_BENCH] [-N "COUNT..."] [-r REPS] [-F] [-k] [DIR]
  -c  the cdp binary (default: the newest build*/cdp/cdp)
  -n  the nbd-bench binary (default: the newest build*/bench/nbd-bench)
  -N  record counts to measure at, ascending (default "1M 10M"; M = 2^20
      is not used: 1M is 1,000,000)
  -r  repetitions at each count (default 9)
  -F  skip the last step (a newest segment full of records; 2 minutes)
  -k  keep the scratch directory
  DIR where the scratch directory goes (default /var/tmp); needs about
      1.5 GiB per million records
Takes about 8 minutes with the defaults (building 13.5M records is most).
EOF
}

counts="1M 10M"
reps=9
full=1
keep=0
bench_opt () {
  case $1 in
    N) counts=$2 ;;
    F) full=0 ;;
    *) return 1 ;;
  esac
}
bench_getopts c:n:N:r:Fkh "$@"
shift "$bench_nopt"
for t in qemu-nbd bc; do requires "$t" "see README.md"; done
find_tools
make_work "${1:-/var/tmp}"

number () {
  case $1 in
    *M) echo $(( ${1%M} * 1000000 )) ;;
    *k) echo $(( ${1%k} * 1000 )) ;;
    *) echo "$1" ;;
  esac
}
last=$(number "${counts##* }")
need_gib $(( last * 3 / 2000000 + 2 ))

rx=$work/rx.sock
ex=$work/ex.sock
qs=$work/q.sock
task=$CDP_STORE/tasks/o
"$cdp" task create o --size 1G --listen "unix:$rx" --bp-interval 7d >/dev/null
head -c 1G /dev/urandom >"$work/q.raw"

# first_byte TOOL CASE REP
first_byte () {
  local out
  if [ "$1" = cdp ]; then
    out=$("$nbd_bench" first-byte "nbd+unix:///disk0?socket=$ex" -- \
          "$cdp" export o --at now --listen "unix:$ex")
  else
    out=$("$nbd_bench" first-byte "nbd+unix:///?socket=$qs" -- \
          qemu-nbd -r -f raw -k "$qs" "$work/q.raw")
  fi || die "first-byte failed on $1"
  rec "$2" "$1" "$3" ms "$(echo "$out" | sed -n 's/^ms=\([0-9.]*\).*/\1/p')"
}

# The last segment's records: what opening the journal scans.
last_segment () {
  local f
  f=$(ls "$task/journal"/seg-*.cdpj | tail -n 1)
  echo "$(basename "$f") $(du -h --apparent-size "$f" | cut -f1) file, $(ls "$task/journal"/seg-*.cdpj | wc -l) segments"
}

echo "# point-open: cdp export --at now to the first 512 bytes, $reps repetitions per count"
machine
load "before: "
have=0
summary=()
rows=()
for c in $counts; do
  n=$(number "$c")
  if [ "$n" -gt "$have" ]; then
    echo "  writing $((n - have)) records" >&2
    start_serve "$rx"
    t0=$(now)
    "$nbd_bench" write --zero --bs 512 --qd 64 --conns 4 --count "$((n - have))" \
      --seed "$n" "nbd+unix:///disk0?socket=$rx" >/dev/null
    "$nbd_bench" first-byte "nbd+unix:///disk0?socket=$rx" >/dev/null
    t1=$(now)
    stop_serve
    # nbd-bench spreads --count over the connections, rounding up
    have=$(( have + ( (n - have + 3) / 4 ) * 4 ))
    summary+=("$c: $have records written and indexed in $(printf %.0f "$(echo "$t1 - $t0" | bc -l)") s;" \
      "journal $(du -sh "$task/journal" | cut -f1), index $(du -sh "$task/index" | cut -f1);" \
      "last segment $(last_segment)")
  fi
  for rep in $(seq "$reps"); do
    rotate "$rep" "first_byte cdp $c $rep" "first_byte qemu-nbd $c $rep"
  done
  rows+=("$c")
done
if [ "$full" = 1 ]; then
  c="${counts##* }+fullseg"
  start_serve "$rx"
  seg=$(stat -c %s "$task/journal"/seg-*.cdpj | sort -n | tail -n 1)  # a whole one
  n=$(( (seg - 4096) * 90 / 100 / 68 / 4 * 4 ))
  echo "  writing $n records into a new segment" >&2
  "$nbd_bench" write --zero --bs 512 --qd 64 --conns 4 --count "$n" --seed 3 \
    "nbd+unix:///disk0?socket=$rx" >/dev/null
  "$nbd_bench" first-byte "nbd+unix:///disk0?socket=$rx" >/dev/null
  stop_serve
  have=$((have + n))
  summary+=("$c: $n records more, about $((n * 68 >> 20)) MiB into a segment of $((seg >> 20)) MiB;" \
    "journal $(du -sh "$task/journal" | cut -f1), index $(du -sh "$task/index" | cut -f1);" \
    "last segment $(last_segment)")
  for rep in $(seq "$reps"); do
    rotate "$rep" "first_byte cdp $c $rep" "first_byte qemu-nbd $c $rep"
  done
  rows+=("$c")
fi
load "after:  "
printf "%s\n" "${summary[@]}" | paste -d' ' - - -

echo
echo "| records | cdp ms (min-max) | qemu-nbd ms (min-max) | cdp/qemu-nbd | cdp - qemu-nbd ms |"
echo "|--:|--:|--:|--:|--:|"
for c in "${rows[@]}"; do
  printf "| %s | %.1f (%s) | %.1f (%s) | %.2f | %.1f |\n" "$c" \
    "$(med "$c" cdp ms)" "$(range "$c" cdp ms)" \
    "$(med "$c" qemu-nbd ms)" "$(range "$c" qemu-nbd ms)" \
    "$(pratio "$c" cdp qemu-nbd ms)" \
    "$(echo "$(med "$c" cdp ms) - $(med "$c" qemu-nbd ms)" | bc -l)"
done
first=${counts%% *}
last=${counts##* }
echo
echo "goal: < 100 ms at $last: $(printf %.1f "$(med "$last" cdp ms)") ms;" \
     "growth $first -> $last < 1.5x: $(printf %.2f "$(echo "$(med "$last" cdp ms) / $(med "$first" cdp ms)" | bc -l)")x" \
     "(qemu-nbd grew $(printf %.2f "$(echo "$(med "$last" qemu-nbd ms) / $(med "$first" qemu-nbd ms)" | bc -l)")x)"
if [ "$full" = 1 ]; then
  echo "      with the newest segment full: $(printf %.1f "$(med "$last+fullseg" cdp ms)") ms"
fi
