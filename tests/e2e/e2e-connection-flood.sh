#!/usr/bin/env bash
# A flood of connections from an unprivileged local user (made here with
# useradd, removed at the end) against a receiver on TCP with TLS-PSK is
# held to --max-connections: cdp serve's threads stay bounded, the
# refusals are logged a few times, not once each, and the real writer,
# QEMU's mirror connected over TLS (tls-creds-psk), keeps being served:
# its guest writes complete during the flood and the point is exact.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/tls.sh"
requires useradd userdel setpriv /usr/bin/python3

max=8
user=cdpflood${tmpdir##*-}
user=${user,,}
useradd --system --no-create-home --shell /usr/sbin/nologin "$user" ||
    fail "useradd $user"
flood_cleanup ()
{
    local status=$?
    set +e
    if [ -n "${flood_pid-}" ]; then
        kill -KILL "$flood_pid" 2>/dev/null
        wait "$flood_pid" 2>/dev/null
    fi
    userdel "$user" 2>/dev/null
    (exit "$status")
    cleanup
}
trap flood_cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir "$tmpdir/psk"
make_psk "$tmpdir/psk/keys.psk" alice
cdp task create f --size 8M --listen "tcp:127.0.0.1:$port" \
    --tls-psk "$tmpdir/psk/keys.psk" --max-connections "$max"
python3 -c 'import json, sys; t = json.load(open(sys.argv[1]))
assert t["max_connections"] == int(sys.argv[2]), t' \
    "$CDP_STORE/tasks/f/task.json" "$max" || fail "task.json: no max_connections"
start_cdp_serve

# The writer: QEMU's active mirror into the receiver, over TLS.
make_disk "$tmpdir/vm.qcow2" 8M
start_qemu "$tmpdir/vm.qcow2" \
    -object "tls-creds-psk,id=tls0,dir=$tmpdir/psk,username=alice,endpoint=client"
qmp blockdev-add "{\"driver\": \"nbd\", \"node-name\": \"tgt\", \"export\": \"disk0\",
    \"server\": {\"type\": \"inet\", \"host\": \"127.0.0.1\", \"port\": \"$port\"},
    \"tls-creds\": \"tls0\"}" >/dev/null
qmp blockdev-mirror '{"job-id": "m", "device": "disk0", "target": "tgt",
    "sync": "full", "copy-mode": "write-blocking"}' >/dev/null
wait_for 60 "the mirror to be ready" \
    eval "qmp query-block-jobs | grep -q '\"ready\": true'"
guest_io "write -P 0x11 0 64k"

threads ()
{
    awk '/^Threads:/ { print $2 }' "/proc/$serve_pid/status"
}
base=$(threads)

# The flood: 300 connections held open, then 1000 more opened and
# closed, all to 127.0.0.1 and as the unprivileged user.
cat >"$tmpdir/flood.py" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held = []
for i in range(1300):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        continue
    if i < 300:
        held.append(s)
    else:
        s.close()
print("holding", len(held), flush=True)
for _ in range(600):                # until killed; at most 5 minutes
    time.sleep(0.5)
PY
(cd / && exec setpriv --reuid="$user" --regid=nogroup --clear-groups \
     /usr/bin/python3 - "$port" <"$tmpdir/flood.py" >"$tmpdir/flood.out" 2>&1) &
flood_pid=$!
pids+=("$flood_pid")
most=$base
deadline=$(( $(date +%s) + 120 ))
until grep -q holding "$tmpdir/flood.out"; do
    n=$(threads)
    [ "$n" -gt "$most" ] && most=$n
    [ "$(date +%s)" -lt "$deadline" ] || fail "the flood did not finish: $(cat "$tmpdir/flood.out")"
    kill -0 "$flood_pid" 2>/dev/null || fail "the flood died: $(cat "$tmpdir/flood.out")"
    sleep 0.05
done
cat "$tmpdir/flood.out"

# While the flood holds its connections, the writer is served.
guest_io "write -P 0x22 1M 1M"
guest_io "write -P 0x33 4M 4k"
n=$(threads)
[ "$n" -gt "$most" ] && most=$n
at=$(now)
echo "threads: $base before the flood, at most $most during it (bound $max clients)"
# Each client costs at most a reader, a writer and 4 workers.
[ "$most" -le $((base + max * 6)) ] ||
    fail "cdp serve went from $base to $most threads under the flood"
refusals=$(grep -c 'clients are connected already' "$serve_log" || :)
echo "refusal lines in the log: $refusals"
[ "$refusals" -ge 1 ] || fail "the refused connections were not logged"
[ "$refusals" -le 20 ] || fail "$refusals log lines: the refusals are not rate-limited"

kill -TERM "$flood_pid"
reap "$flood_pid" || :
flood_pid=
source_image "$tmpdir/src.img"
export_to f "$at" "$tmpdir/point.img"
same "$tmpdir/point.img" "$tmpdir/src.img" "the point written during the flood"
stop_cdp_serve
