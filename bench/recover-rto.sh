#!/usr/bin/env bash
# recover-rto.sh: the recovery time objective of `cdp recover --as`,
# next to booting the same point from a local copy, in one run.
#
# A make-vm guest (a Debian kernel and a busybox root, TCG) is protected
# by `cdp serve` (libvirt mode) and counts into /counter; its disk gets
# EXTRA MiB (default 1024) of random data past its 64 MiB file system,
# written through the guest device (so through the mirror), so that the
# pull has something to move.  A bookmark is the point; the protected
# domain is then destroyed (the disaster), and in each repetition, in an
# order that alternates:
#
#   recover  `cdp recover g --at POINT --to OVERLAY --as NEW`: the clone
#            boots on a qcow2 overlay backed by cdp's export of the
#            point while virDomainBlockPull moves the disk in, unlimited
#   local    `cdp restore g --at POINT --format qcow2` (a full restore),
#            then virsh define + start of a domain on that image
#
# Measured, from the command's start (recover) or from virsh start
# (local), by polling the serial console file every 20 ms or so:
#   first    the guest's first line on its serial console
#   counter  its "cdp guest: counter at boot: N" line (init has run and
#            read /counter from the point; N is checked)
# and also: restore, the seconds `cdp restore` took (a full restore's
# RTO is restore + boot); cdp, cdp's own part of the RTO, from the
# command's start to the domain's start (recover.json's ready_ns -
# started_ns: the point resolved, the export up, the overlay made, the
# domain defined and started); started, the same seen from outside (the
# command's "started" line on stdout, time-stamped as it arrives); done,
# until the pull is over and the command exits; and the pull's
# throughput while the guest runs, disk size / done.
#
# With -b MIB the pull is limited to MIB/s (cdp recover --bandwidth)
# until the guest's counter line, and unlimited after it (virsh blockjob
# --bandwidth 0): the guest then boots reading through cdp's export
# rather than from data the pull brought in first; done and the
# throughput are not reported then.
#
# Prints a table, medians and the median of the paired ratios
# recover/local.  Goals: RTO ratio <= 1.2x, cdp's own time < 1 s.
# No timing assertion: the exit status only says whether it ran.
set -euo pipefail
name=rto
. "$(dirname "$0")/functions.sh"
root=$(cd "$bench_dir/.." && pwd)

usage () {
  cat <<EOF
usage: $0 [-c CDP] [-s EXTRA_MIB] [-b MIB_PER_S] [-r REPS] [-k] [DIR]
  -c  the cdp binary (default: the newest build*/cdp/cdp)
  -b  the pull's bandwidth until the guest has booted (default: unlimited)
  -s  MiB of random data past the guest's file system (default 1024)
  -r  repetitions (default 3)
  -k  keep the scratch directory
  DIR where the scratch directory goes (default /var/tmp)
Takes about 1 minute a repetition under TCG, plus the setup.
EOF
}

extra_mib=1024
reps=3
bw=
keep=0
bench_opt () {
  case $1 in
    s) extra_mib=$2 ;;
    b) bw=$2 ;;
    *) return 1 ;;
  esac
}
bench_getopts c:s:b:r:kh "$@"
shift "$bench_nopt"
for t in virsh qemu-img bc python3 mkfs.ext4 cpio; do requires "$t" "see README.md"; done
[ -n "$cdp" ] || cdp=$(find_bin cdp/cdp)
"$root/scripts/start-libvirtd"
export LIBVIRT_DEFAULT_URI=qemu:///system
make_work "${1:-/var/tmp}"
chmod 0711 "$work"                 # QEMU (libvirt-qemu) reaches its disks
need_gib $(( ((extra_mib + 64) * (2 * reps + 2) >> 10) + 1 ))
dom=cdp-rto-${work##*.}
doms=("$dom")

bench_cleanup () {
  local d
  for d in "${doms[@]}"; do
    virsh destroy "$d" >/dev/null 2>&1 || :
    virsh undefine "$d" >/dev/null 2>&1 || :
  done
  cleanup
}
trap bench_cleanup EXIT

vio () {
  local reply
  reply=$(virsh qemu-monitor-command "$dom" --hmp \
              "qemu-io -d virtio-disk0/virtio-backend \"$1\"")
  [ -z "$(echo "$reply" | tr -d '[:space:]')" ] || die "qemu-io '$1': $reply"
}

counter_at () {
  "$cdp" cat g --at "$1" /counter 2>/dev/null | awk '{ print $1 }'
}

elapsed () { echo "$(now) - $1" | bc -l; }

# boot_times CONSOLE T0: "FIRST COUNTER N", the seconds from T0 to the
# console's first line and to its counter line, and the counter.
boot_times () {
  local f=$1 t0=$2 first='' t line _
  for _ in $(seq 30000); do
    t=$(now)
    if [ -z "$first" ] && [ -s "$f" ] && [ "$(wc -l <"$f")" -gt 0 ]; then
      first=$(echo "$t - $t0" | bc -l)
    fi
    if [ -n "$first" ] && line=$(grep -a 'counter at boot: ' "$f"); then
      line=${line%$'\r'}
      echo "$first $(echo "$t - $t0" | bc -l) ${line##*: }"
      return
    fi
    sleep 0.02
  done
  die "no counter line on $f after 10 minutes"
}

# ---- the protected guest and its point ----------------------------------
"$root/scripts/make-vm" "$work" "$dom" --guest >/dev/null
qemu-img resize -q "$work/$dom.qcow2" "$(( (64 + extra_mib) << 20 ))"
virsh define "$work/$dom.xml" >/dev/null
virsh start "$dom" >/dev/null
"$cdp" task create g --domain "$dom" >/dev/null
start_serve
for _ in $(seq 600); do
  [ "$(counter_at now)" -ge 2 ] 2>/dev/null && break
  sleep 0.5
done
[ "$(counter_at now)" -ge 2 ] || die "the guest did not boot and count under protection"
head -c 32M /dev/urandom >"$work/random"
chmod 0644 "$work/random"
for ((off = 64; off < 64 + extra_mib; off += 32)); do
  len=$(( 64 + extra_mib - off < 32 ? 64 + extra_mib - off : 32 ))
  vio "write -s $work/random $((off << 20)) $((len << 20))"
done
rm -f "$work/random"
sleep 1.5
"$cdp" mark g --label rto >/dev/null
point_counter=$(counter_at rto)
virsh destroy "$dom" >/dev/null
disk_bytes=$(( (64 + extra_mib) << 20 ))

# ---- the two sides -------------------------------------------------------
drop_domain () {
  virsh destroy "$1" >/dev/null
  virsh undefine "$1" >/dev/null
  rm -f "$work/$1.qcow2" "$work/$1.console"
}

restore () {
  "$cdp" restore g --at rto --format qcow2 --output "$1" 2>>"$work/restore.log"
}

one_local () {
  local rep=$1 ln=$dom-l$1 t_restore t0 first counter n
  doms+=("$ln")
  timed t_restore restore "$work/$ln.qcow2"
  sed -e "s|<name>$dom</name>|<name>$ln</name>|" \
      -e "s|$work/$dom.qcow2|$work/$ln.qcow2|" \
      -e "s|$work/$dom.console|$work/$ln.console|" "$work/$dom.xml" >"$work/$ln.xml"
  virsh define "$work/$ln.xml" >/dev/null
  t0=$(now)
  virsh start "$ln" >/dev/null
  read -r first counter n < <(boot_times "$work/$ln.console" "$t0")
  [ "$n" = "$point_counter" ] || die "local: the guest booted with counter $n, the point has $point_counter"
  drop_domain "$ln"
  rec rto local "$rep" restore "$t_restore"
  rec rto local "$rep" first "$first"
  rec rto local "$rep" counter "$counter"
  rec rto local "$rep" restore_counter "$(echo "$t_restore + $counter" | bc -l)"
}

one_recover () {
  local rep=$1 rn=$dom-r$1 t0 first counter n started done_s rc own console pid
  doms+=("$rn")
  t0=$(now)
  { "$cdp" recover g --at rto --to "$work/$rn.qcow2" --as "$rn" ${bw:+--bandwidth "$bw"} \
        2>>"$work/recover.log"
    echo "exit $?"; } |
    while IFS= read -r l; do echo "$(now) $l"; done >"$work/$rn.out" &
  pid=$!
  pids+=("$pid")
  read -r first counter n < <(boot_times "$work/$rn.console" "$t0")
  [ "$n" = "$point_counter" ] || die "recover: the guest booted with counter $n, the point has $point_counter"
  [ -z "$bw" ] || virsh blockjob "$rn" vda --bandwidth 0 >/dev/null 2>&1 || :
  wait "$pid" || :
  forget_pid "$pid"
  rc=$(awk '$2 == "exit" { print $3 }' "$work/$rn.out")
  [ "$rc" = 0 ] || die "cdp recover exited ${rc:-?}: $(tail -n 2 "$work/recover.log")"
  console=$(virsh dumpxml "$rn" | sed -n "s|.*<source path='\([^']*\)'.*|\1|p" | head -n 1)
  [ "$console" = "$work/$rn.console" ] || die "the clone's console is $console"
  [[ $(qemu-img info -U "$work/$rn.qcow2") != *"backing file"* ]] ||
    die "$rn.qcow2 still has a backing file"
  started=$(awk 'NR == 1 { print $1 }' "$work/$rn.out")
  done_s=$(awk '$2 == "exit" { print $1 }' "$work/$rn.out")
  own=$("$cdp" status g --json | python3 -c '
import json, sys
r = json.load(sys.stdin)["tasks"][0]["recovery"]
print((r["ready_ns"] - r["started_ns"]) / 1e9)')
  drop_domain "$rn"
  rec rto recover "$rep" first "$first"
  rec rto recover "$rep" counter "$counter"
  rec rto recover "$rep" cdp "$own"
  rec rto recover "$rep" started "$(echo "$started - $t0" | bc -l)"
  [ -n "$bw" ] && return
  rec rto recover "$rep" "done" "$(echo "$done_s - $t0" | bc -l)"
  rec rto recover "$rep" mibs "$(echo "$disk_bytes / 1048576 / ($done_s - $t0)" | bc -l)"
}

echo "# recover-rto: a make-vm guest, $((64 + extra_mib)) MiB disk ($extra_mib MiB random past its file system), point counter $point_counter, $reps repetitions${bw:+, the pull at $bw MiB/s until the guest booted}"
machine
echo "libvirt: $(virsh --version), QEMU $(qemu-system-x86_64 --version | head -n 1 | awk '{ print $4 }'), TCG"
load "before: "
for rep in $(seq "$reps"); do
  echo "  rep $rep" >&2
  rotate "$rep" "one_local $rep" "one_recover $rep"
done
load "after:  "

v () { printf %.2f "$(med rto "$1" "$2")"; }
r () { printf %.2f "$(pratio rto recover local "$1" "${2:-}")"; }
echo
echo "| rep | local: restore | first line | counter line | recover: cdp | started | first line | counter line | done | pull MiB/s |"
echo "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
for rep in $(seq "$reps"); do
  printf "| %s |" "$rep"
  for m in "local restore" "local first" "local counter" "recover cdp" "recover started" \
           "recover first" "recover counter" "recover done" "recover mibs"; do
    read -r side metric <<<"$m"
    x=$(awk -v t="$side" -v r="$rep" -v m="$metric" '$2 == t && $3 == r && $4 == m { print $5 }' "$raw")
    if [ -n "$x" ]; then printf " %.2f |" "$x"; else printf " - |"; fi
  done
  echo
done
echo
echo "medians (seconds; range over the repetitions):"
echo "  local boot:    first line $(v local first) ($(range rto local first)), counter line $(v local counter) ($(range rto local counter))"
echo "  local restore: $(v local restore) s; restore + boot to the counter line $(v local restore_counter)"
echo "  recover:       first line $(v recover first) ($(range rto recover first)), counter line $(v recover counter) ($(range rto recover counter))"
echo "  cdp's own:     $(v recover cdp) s to the domain's start (recover.json); the 'started' line after $(v recover started) s"
[ -n "$bw" ] ||
  echo "  pull:          done after $(v recover "done") s: $(printf %.1f "$(med rto recover mibs)") MiB/s with the guest running"
echo
echo "RTO ratio recover/local boot (goal <= 1.2x): first line $(r first)x, counter line $(r counter)x"
echo "RTO ratio recover/local restore + boot: counter line $(r counter restore_counter)x"
echo "cdp's own time (goal < 1 s): $(v recover cdp) s"
