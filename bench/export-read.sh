#!/usr/bin/env bash
# export-read.sh: nbdcopy of a whole point from `cdp export`, next to
# nbdcopy of the same contents from qemu-nbd serving a raw file, in one
# run.
#
# Two manual-mode tasks of SIZE (default 1 GiB) get SIZE of random data
# through the receiver (nbdcopy), then random writes of 4 KiB-256 KiB at
# 4 KiB aligned offsets until PERCENT (default 30) of the disk was
# rewritten (bench/nbd-bench rewrite, seeded).  They differ in where the
# first copy ends up:
#
#   journal   the point is the whole history in the journal: the task's
#             first base point (made by `cdp serve` at its first cycle,
#             whenever a task has none) is taken before the copy, of a
#             disk holding one 512-byte write-zeroes, so it holds nothing
#   base      the first copy is folded into a base point (`cdp fold`)
#             before the rewrite: the point is a qcow2 base point plus
#             the rewrite in the journal, as in service after a fold
#
# The peer: a raw file with the same contents (the same source, the same
# seeded rewrite through qemu-nbd), served by `qemu-nbd -r -f raw -e 8`
# (multi-conn, as cdp's exports are).  `qemu-img compare` checks that
# every export serves exactly that file.  Each read is `nbdcopy URI
# null:`, the default (which asks for block status first), and with
# --no-extents; everything is read once before measuring, so every side
# reads from the page cache.  Repetitions rotate the order of the sides.
set -euo pipefail
name=export-read
. "$(dirname "$0")/functions.sh"

usage () {
  cat <<EOF
usage: $0 [-c CDP] [-n NBD_BENCH] [-s SIZE_MIB] [-p PERCENT] [-r REPS] [-k] [DIR]
  -c  the cdp binary (default: the newest build*/cdp/cdp)
  -n  the nbd-bench binary (default: the newest build*/bench/nbd-bench)
  -s  disk size in MiB (default 1024)
  -p  percent of the disk rewritten after the first copy (default 30)
  -r  repetitions (default 5)
  -k  keep the scratch directory
  DIR where the scratch directory goes (default /var/tmp); needs 5 x SIZE
Takes about 3 minutes with the defaults.
EOF
}

size_mib=1024
pct=30
reps=5
keep=0
bench_getopts c:n:s:p:r:kh "$@"
shift "$bench_nopt"
for t in nbdcopy qemu-nbd qemu-img bc; do requires "$t" "see README.md"; done
find_tools
make_work "${1:-/var/tmp}"
need_gib $(( (size_mib * 5 >> 10) + 1 ))

src=$work/src.raw
ref=$work/ref.raw
head -c "$((size_mib << 20))" /dev/urandom >"$src"
cp "$src" "$ref"

# The reference: the same seeded rewrite, into the raw file through qemu-nbd.
start_qemu_nbd "$work/w.sock" -f raw "$ref"
"$nbd_bench" rewrite --percent "$pct" --seed 7 "nbd+unix:///?socket=$work/w.sock" >/dev/null
stop_pid "$qemu_pid"

for t in j b; do
  "$cdp" task create "$t" --size "${size_mib}M" --listen "unix:$work/rx-$t.sock" \
    --bp-interval 7d >/dev/null
done
start_serve "$work/rx-j.sock"
wait_socket "$work/rx-b.sock"
rx () { echo "nbd+unix:///disk0?socket=$work/rx-$1.sock"; }

# journal: serve's first base point before the copy, of a disk holding
# one write-zeroes: it holds no data.
"$nbd_bench" write --zero --bs 512 --count 1 "$(rx j)" >/dev/null
wait_base j
nbdcopy -- "$src" "$(rx j)"
# base: the copy, then a base point of it.
nbdcopy -- "$src" "$(rx b)"
"$cdp" fold b >/dev/null
for t in j b; do
  rw=$("$nbd_bench" rewrite --percent "$pct" --seed 7 "$(rx $t)")
  "$nbd_bench" first-byte "$(rx $t)" >/dev/null      # the index holds it all
done
stop_serve
rm -f "$src"
summary="rewrite: $rw; base points: journal $(base_chain j), base $(base_chain b);"
summary+=" journal: journal $(du -sh "$CDP_STORE/tasks/j/journal" | cut -f1),"
summary+=" base $(du -sh "$CDP_STORE/tasks/b/journal" | cut -f1)"

start_export "$work/ex-j.sock" j --at now
start_export "$work/ex-b.sock" b --at now
start_qemu_nbd "$work/q.sock" -r -f raw "$ref"
declare -A uri=(
  [journal]="nbd+unix:///disk0?socket=$work/ex-j.sock"
  [base]="nbd+unix:///disk0?socket=$work/ex-b.sock"
  [qemu-nbd]="nbd+unix:///?socket=$work/q.sock"
)
for t in journal base; do
  qemu-img compare -q -f raw -F raw "${uri[$t]}" "${uri[qemu-nbd]}" ||
    die "the export of the $t task differs from the reference"
done
for t in journal base qemu-nbd; do
  nbdcopy -- "${uri[$t]}" null:            # into the page cache
done

# read TOOL MODE REP
read_all () {
  local opt=
  [ "$2" = no-extents ] && opt=--no-extents
  rec "$2" "$1" "$3" secs "$(secs nbdcopy $opt -- "${uri[$1]}" null:)"
}

echo "# export-read: nbdcopy of a $size_mib MiB point ($pct% rewritten) to null:, $reps repetitions"
machine
load "before: "
for rep in $(seq "$reps"); do
  echo "  rep $rep" >&2
  for mode in default no-extents; do
    rotate "$rep" "read_all journal $mode $rep" "read_all base $mode $rep" \
      "read_all qemu-nbd $mode $rep"
  done
done
load "after:  "
echo "$summary"

mibs () { echo "$size_mib / $1" | bc -l; }
echo
echo "| nbdcopy | source | MiB/s | seconds (min-max) | speed / qemu-nbd |"
echo "|---|---|--:|--:|--:|"
for mode in default no-extents; do
  for t in journal base qemu-nbd; do
    s=$(med "$mode" "$t" secs)
    printf "| %s | %s | %.0f | %.2f (%s) | %.2f |\n" "$mode" "$t" "$(mibs "$s")" \
      "$s" "$(range "$mode" "$t" secs)" "$(pratio "$mode" qemu-nbd "$t" secs)"
  done
done
echo
echo "goal: export read >= 0.8x qemu-nbd (nbdcopy as is):" \
     "journal $(printf %.2f "$(pratio default qemu-nbd journal secs)")x," \
     "base point + journal $(printf %.2f "$(pratio default qemu-nbd base secs)")x"
