# A single-node Ceph with an S3 gateway for tests and benchmarks, to be
# sourced.  From Debian's ceph-mon, ceph-osd and radosgw: one monitor,
# one OSD keeping its objects in memory (memstore), radosgw (beast) on
# 127.0.0.1, no authentication between them, pools of one replica and
# 8 placement groups.
#
#   ceph_start DIR   bring the cluster up in DIR (created; must not
#                    exist or be empty), create an S3 user with fixed
#                    keys and the bucket $CEPH_BUCKET, and export
#                    AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
#                    AWS_SECRET_ACCESS_KEY (and AWS_REGION) for the
#                    caller.  Returns non-zero with a line on stderr
#                    (and the daemons' logs' tails) when it cannot.
#   ceph_stop        kill every daemon ceph_start started and remove
#                    DIR; safe to call twice, or when ceph_start
#                    failed half way (call it from an EXIT trap).
#
# Readiness is waited for by condition (the monitor answers, the OSD is
# up, the gateway answers HTTP), each with a generous bound.  The S3
# port is a free port outside 6800-7300 (where the OSD binds).

CEPH_ACCESS_KEY=cdptestaccesskey0001
CEPH_SECRET_KEY=cdptestsecretkey000000000000000000000001
CEPH_BUCKET=cdp-test
ceph_dir=
ceph_pids=()

_ceph_log ()
{
    echo "ceph.sh: $*" >&2
}

# A free TCP port on 127.0.0.1 outside the OSD's range 6800-7300 (the
# kernel's ephemeral ports are far above it).
_ceph_free_port ()
{
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# _ceph_wait SECS WHAT CMD...: poll CMD until it succeeds.
_ceph_wait ()
{
    local secs=$1 what=$2 deadline
    shift 2
    deadline=$(( $(date +%s) + secs ))
    until "$@" >/dev/null 2>&1; do
        if (( $(date +%s) >= deadline )); then
            _ceph_log "$what: not ready after ${secs}s"
            return 1
        fi
        _ceph_alive || return 1
        sleep 0.1
    done
}

# Every daemon started is still running.
_ceph_alive ()
{
    local p
    for p in "${ceph_pids[@]}"; do
        if ! kill -0 "$p" 2>/dev/null; then
            _ceph_log "a daemon (pid $p) exited"
            return 1
        fi
    done
}

_ceph ()
{
    ceph -c "$ceph_dir/ceph.conf" --connect-timeout 20 "$@"
}

_ceph_osd_up ()
{
    _ceph osd dump --format json | python3 -c 'import json, sys
d = json.load(sys.stdin)
sys.exit(0 if any(o["up"] for o in d["osds"]) else 1)'
}

_ceph_http_ready ()
{
    curl -sf -o /dev/null --max-time 5 "$AWS_ENDPOINT_URL/"
}

# _ceph_s3 METHOD PATH: a signed request with no body.
_ceph_s3 ()
{
    curl -sf --max-time 30 -X "$1" \
         --aws-sigv4 "aws:amz:us-east-1:s3" \
         --user "$CEPH_ACCESS_KEY:$CEPH_SECRET_KEY" \
         -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
         "$AWS_ENDPOINT_URL$2"
}

_ceph_start_daemon ()
{
    local name=$1
    shift
    "$@" >"$ceph_dir/log/$name.out" 2>&1 &
    ceph_pids+=($!)
}

_ceph_fail ()
{
    local f
    _ceph_log "$*"
    for f in "$ceph_dir"/log/*; do
        [ -f "$f" ] || continue
        echo "--- $f" >&2
        tail -n 15 "$f" >&2
    done
    return 1
}

ceph_start ()
{
    local fsid mon_port rgw_port osd_uuid t0 t
    t0=$(date +%s.%N)
    for t in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool \
             curl python3 bc; do
        command -v "$t" >/dev/null 2>&1 ||
            { _ceph_log "required tool '$t' is not installed"; return 1; }
    done
    ceph_dir=$(realpath -m "$1")
    mkdir -p "$ceph_dir"/{mon,osd0,run,log} || return 1
    fsid=$(cat /proc/sys/kernel/random/uuid)
    osd_uuid=$(cat /proc/sys/kernel/random/uuid)
    mon_port=$(_ceph_free_port)
    rgw_port=$(_ceph_free_port)
    while [ "$rgw_port" = "$mon_port" ]; do rgw_port=$(_ceph_free_port); done

    cat >"$ceph_dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public addr = 127.0.0.1
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
ms mon client mode = crc secure
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
paxos propose interval = 0.05
mon data avail crit = 1
mon data avail warn = 2
run dir = $ceph_dir/run
admin socket = $ceph_dir/run/\$name.asok
log file = $ceph_dir/log/\$name.log
pid file = $ceph_dir/run/\$name.pid
mon data = $ceph_dir/mon
osd data = $ceph_dir/osd\$id
keyring = /dev/null
[osd]
osd objectstore = memstore
memstore device bytes = 2147483648
osd max object name len = 460
osd max object namespace len = 64
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw dns name = 127.0.0.1
rgw enable usage log = false
EOF

    monmaptool --create --fsid "$fsid" \
               --addv a "[v2:127.0.0.1:$mon_port]" \
               "$ceph_dir/monmap" >"$ceph_dir/log/monmaptool.out" 2>&1 ||
        { _ceph_fail "monmaptool failed"; return 1; }
    ceph-mon -c "$ceph_dir/ceph.conf" --mkfs -i a \
             --monmap "$ceph_dir/monmap" >"$ceph_dir/log/mon-mkfs.out" 2>&1 ||
        { _ceph_fail "ceph-mon --mkfs failed"; return 1; }
    _ceph_start_daemon mon ceph-mon -f -c "$ceph_dir/ceph.conf" -i a

    # Creating the OSD's id waits for the monitor to answer.
    _ceph_wait 60 "ceph-mon" _ceph osd create "$osd_uuid" ||
        { _ceph_fail "the monitor does not answer"; return 1; }
    ceph-osd -c "$ceph_dir/ceph.conf" -i 0 --mkfs --osd-uuid "$osd_uuid" \
             >"$ceph_dir/log/osd-mkfs.out" 2>&1 ||
        { _ceph_fail "ceph-osd --mkfs failed"; return 1; }
    _ceph_start_daemon osd ceph-osd -f -c "$ceph_dir/ceph.conf" -i 0
    _ceph_wait 120 "ceph-osd" _ceph_osd_up ||
        { _ceph_fail "the OSD does not come up"; return 1; }

    export AWS_ENDPOINT_URL=http://127.0.0.1:$rgw_port
    export AWS_ACCESS_KEY_ID=$CEPH_ACCESS_KEY
    export AWS_SECRET_ACCESS_KEY=$CEPH_SECRET_KEY
    export AWS_REGION=us-east-1
    unset AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_REGION
    _ceph_start_daemon rgw radosgw -f -c "$ceph_dir/ceph.conf" -n client.rgw
    _ceph_wait 180 "radosgw" _ceph_http_ready ||
        { _ceph_fail "radosgw does not answer on $AWS_ENDPOINT_URL"; return 1; }

    radosgw-admin -c "$ceph_dir/ceph.conf" -n client.admin user create \
                  --uid cdp-test --display-name "cdp test" \
                  --access-key "$CEPH_ACCESS_KEY" --secret-key "$CEPH_SECRET_KEY" \
                  >"$ceph_dir/log/user-create.out" 2>&1 ||
        { _ceph_fail "radosgw-admin user create failed"; return 1; }
    _ceph_wait 60 "bucket $CEPH_BUCKET" _ceph_s3 PUT "/$CEPH_BUCKET" ||
        { _ceph_fail "creating the bucket $CEPH_BUCKET failed"; return 1; }
    export CEPH_BUCKET
    CEPH_START_SECONDS=$(echo "$(date +%s.%N) - $t0" | bc)
    _ceph_log "up in ${CEPH_START_SECONDS}s: $AWS_ENDPOINT_URL, bucket $CEPH_BUCKET"
}

# Under the caller's set -e too: nothing here may fail.
ceph_stop ()
{
    local p i
    for p in "${ceph_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${ceph_pids[@]}"; do
        for i in $(seq 100); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    ceph_pids=()
    if [ -n "$ceph_dir" ]; then
        rm -rf "$ceph_dir"
        ceph_dir=
    fi
    return 0
}
