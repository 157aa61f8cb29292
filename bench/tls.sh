#!/usr/bin/env bash
# tls.sh: what NBD TLS costs, over TCP on 127.0.0.1, in one run: cdp's
# receiver with --no-tls and with --tls-creds (X.509), next to qemu-nbd
# without TLS and with --tls-creds (tls-creds-x509), on
#
#   4 KiB QD32   random 4 KiB writes with FUA, 32 in flight on one
#                connection (bench/nbd-bench), for SECONDS: IOPS
#   1 MiB ingest nbdcopy --flush --request-size=1M of SIZE of random data
#                (in the page cache): MiB/s
#
#   cdp       manual-mode tasks under one `cdp serve`: every write is a
#             journal record, acknowledged once durable
#   qemu-nbd  -f raw --cache=none --aio=io_uring -e 8 on 1 GiB raw files
#             written in full beforehand; FUA: a flush after the write
#
# Clients: libnbd URIs nbds://127.0.0.1:PORT/EXPORT?tls-certificates=DIR
# (a client certificate the CA signed, as both servers require).  Each
# repetition measures every target back to back, in an order that
# rotates; medians, and the median of the paired TLS/plain ratios.
set -euo pipefail
name=tls
. "$(dirname "$0")/functions.sh"

usage () {
  cat <<EOF
usage: $0 [-c CDP] [-n NBD_BENCH] [-t SECONDS] [-s SIZE_MIB] [-r REPS] [-k] [DIR]
  -c  the cdp binary (default: the newest build*/cdp/cdp)
  -n  the nbd-bench binary (default: the newest build*/bench/nbd-bench)
  -t  seconds per 4 KiB measurement (default 3)
  -s  MiB per ingest (default 512)
  -r  repetitions (default 5)
  -k  keep the scratch directory
  DIR where the scratch directory goes (default /var/tmp); needs about
      4 GiB + 2 x REPS x SIZE
Takes about 4 minutes with the defaults.
EOF
}

secs_each=3
size_mib=512
reps=5
keep=0
bench_opt () {
  case $1 in
    t) secs_each=$2 ;;
    *) return 1 ;;
  esac
}
bench_getopts c:n:t:s:r:kh "$@"
shift "$bench_nopt"
for t in qemu-nbd nbdcopy certtool bc python3; do requires "$t" "see README.md"; done
find_tools
make_work "${1:-/var/tmp}"
need_gib $(( 4 + (2 * reps * size_mib >> 10) ))

free_port () {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A CA, a server certificate for 127.0.0.1 and a client certificate,
# in the layout both servers (and libnbd) read.
pki=$work/pki
make_pki () {
  local who
  mkdir -p "$pki"
  printf 'cn = bench CA\nca\ncert_signing_key\nexpiration_days = 2\n' >"$pki/ca.info"
  printf 'cn = localhost\nip_address = 127.0.0.1\ntls_www_server\nencryption_key\nsigning_key\nexpiration_days = 2\n' >"$pki/server.info"
  printf 'cn = bench client\ntls_www_client\nencryption_key\nsigning_key\nexpiration_days = 2\n' >"$pki/client.info"
  certtool --generate-privkey --key-type=ecdsa --outfile "$pki/ca-key.pem" 2>/dev/null
  certtool --generate-self-signed --load-privkey "$pki/ca-key.pem" \
    --template "$pki/ca.info" --outfile "$pki/ca-cert.pem" 2>/dev/null
  for who in server client; do
    certtool --generate-privkey --key-type=ecdsa --outfile "$pki/$who-key.pem" 2>/dev/null
    certtool --generate-certificate --load-privkey "$pki/$who-key.pem" \
      --load-ca-certificate "$pki/ca-cert.pem" --load-ca-privkey "$pki/ca-key.pem" \
      --template "$pki/$who.info" --outfile "$pki/$who-cert.pem" 2>/dev/null
  done
}
make_pki
tls="tls-certificates=$pki"

# cdp: one serve, a task per target and workload.
declare -A port
for t in w-plain w-tls c-plain c-tls q-plain q-tls; do port[$t]=$(free_port); done
"$cdp" task create w-plain --size 1G --listen "tcp:127.0.0.1:${port[w-plain]}" \
  --no-tls --bp-interval 7d >/dev/null
"$cdp" task create w-tls --size 1G --listen "tcp:127.0.0.1:${port[w-tls]}" \
  --tls-creds "$pki" --bp-interval 7d >/dev/null
"$cdp" task create c-plain --size "${size_mib}M" --listen "tcp:127.0.0.1:${port[c-plain]}" \
  --no-tls --bp-interval 7d >/dev/null
"$cdp" task create c-tls --size "${size_mib}M" --listen "tcp:127.0.0.1:${port[c-tls]}" \
  --tls-creds "$pki" --bp-interval 7d >/dev/null
start_serve
for _ in $(seq 600); do
  [ "$(grep -c 'receiver on tcp' "$work/serve.log")" -eq 4 ] && break
  sleep 0.05
done
[ "$(grep -c 'receiver on tcp' "$work/serve.log")" -eq 4 ] ||
  die "cdp serve did not start its receivers: $(cat "$work/serve.log")"

# qemu-nbd: two laid-out raw files, one server each.
for t in q-plain q-tls; do
  dd if=/dev/zero of="$work/$t.raw" bs=1M count=1024 oflag=direct conv=fsync status=none
done
start_qemu_nbd_tcp () {  # NAME ARGS...
  local n=$1
  shift
  qemu-nbd -b 127.0.0.1 -p "${port[$n]}" -t -e 8 --fork --pid-file="$work/$n.pid" \
    -f raw --cache=none --aio=io_uring "$@" "$work/$n.raw"
  pids+=("$(cat "$work/$n.pid")")
}
start_qemu_nbd_tcp q-plain
start_qemu_nbd_tcp q-tls --object "tls-creds-x509,id=tls0,dir=$pki,endpoint=server" \
  --tls-creds tls0

declare -A uri curi
uri[cdp]="nbd://127.0.0.1:${port[w-plain]}/disk0"
uri[cdp-tls]="nbds://127.0.0.1:${port[w-tls]}/disk0?$tls"
uri[qemu-nbd]="nbd://127.0.0.1:${port[q-plain]}/"
uri[qemu-nbd-tls]="nbds://127.0.0.1:${port[q-tls]}/?$tls"
curi[cdp]="nbd://127.0.0.1:${port[c-plain]}/disk0"
curi[cdp-tls]="nbds://127.0.0.1:${port[c-tls]}/disk0?$tls"
curi[qemu-nbd]=${uri[qemu-nbd]}
curi[qemu-nbd-tls]=${uri[qemu-nbd-tls]}

src=$work/src.raw
head -c "$((size_mib << 20))" /dev/urandom >"$src"
cat "$src" >/dev/null

# iops TARGET REP
iops () {
  local out
  out=$("$nbd_bench" write --fua --bs 4k --qd 32 --seconds "$secs_each" \
        --seed "$2" "${uri[$1]}") || die "nbd-bench failed on $1"
  rec qd32 "$1" "$2" iops "$(echo "$out" | tr ' ' '\n' | sed -n 's/^iops=//p')"
}

# ingest TARGET REP
ingest () {
  local t
  t=$(secs nbdcopy --flush --request-size=1048576 -- "$src" "${curi[$1]}") ||
    die "nbdcopy failed on $1"
  rec ingest "$1" "$2" mib_s "$(echo "$size_mib / $t" | bc -l)"
}

targets="cdp cdp-tls qemu-nbd qemu-nbd-tls"
echo "# tls: NBD over TCP on 127.0.0.1 with and without TLS (X.509), $reps repetitions"
echo "# 4 KiB QD32 FUA writes ${secs_each}s each; ingest nbdcopy --request-size=1M of $size_mib MiB"
machine
load "before: "
for rep in $(seq "$reps"); do
  echo "  rep $rep" >&2
  cmds=()
  for t in $targets; do cmds+=("iops $t $rep"); done
  rotate "$rep" "${cmds[@]}"
  cmds=()
  for t in $targets; do cmds+=("ingest $t $rep"); done
  rotate "$rep" "${cmds[@]}"
  sync
done
load "after:  "

echo
echo "| target | 4 KiB QD32 IOPS (min-max) | TLS / plain | 1 MiB ingest MiB/s (min-max) | TLS / plain |"
echo "|---|--:|--:|--:|--:|"
for t in $targets; do
  case $t in *-tls) base=${t%-tls} ;; *) base=$t ;; esac
  printf "| %s | %.0f (%s) | %.2f | %.0f (%s) | %.2f |\n" "$t" \
    "$(med qd32 "$t" iops)" "$(range qd32 "$t" iops)" "$(pratio qd32 "$t" "$base" iops)" \
    "$(med ingest "$t" mib_s)" "$(range ingest "$t" mib_s)" "$(pratio ingest "$t" "$base" mib_s)"
done
echo
echo "goal: cdp with TLS within 15% of cdp without:" \
     "IOPS $(printf %.2f "$(pratio qd32 cdp-tls cdp iops)")," \
     "ingest $(printf %.2f "$(pratio ingest cdp-tls cdp mib_s)")"
