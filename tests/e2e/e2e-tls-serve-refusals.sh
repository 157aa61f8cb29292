#!/usr/bin/env bash
# cdp serve never serves a tcp receiver in the clear by accident: a
# task.json with a tcp listener and no TLS choice (as written before
# TLS existed) and a task whose key file went away are not served, each
# with one line saying why, while the other tasks are; the receiver
# over TLS-PSK refuses a plain client and a wrong key, and takes
# qemu-io's writes (tls-creds-psk).
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/tls.sh"
requires qemu-io nbdinfo nbdcopy

free_port ()
{
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
p1=$(free_port) p2=$(free_port) p3=$(free_port)
mkdir "$tmpdir/psk" "$tmpdir/gone" "$tmpdir/wrong"
make_psk "$tmpdir/psk/keys.psk" alice
make_psk "$tmpdir/gone/keys.psk" alice
make_psk "$tmpdir/wrong/keys.psk" alice

cdp task create old --size 1M --listen "tcp:127.0.0.1:$p1" --no-tls
cdp task create gone --size 1M --listen "tcp:127.0.0.1:$p2" \
    --tls-psk "$tmpdir/gone/keys.psk"
cdp task create good --size 1M --listen "tcp:127.0.0.1:$p3" \
    --tls-psk "$tmpdir/psk/keys.psk"
# task.json as it was before TLS: no "no_tls".
python3 - "$CDP_STORE/tasks/old/task.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
del t["no_tls"]
json.dump(t, open(sys.argv[1], "w"))
PY
rm "$tmpdir/gone/keys.psk"

start_cdp_serve
grep -q "tcp:127.0.0.1:$p1: a tcp listener needs --tls-creds DIR, --tls-psk FILE or --no-tls" \
    "$serve_log" || fail "the task without a TLS choice: $(cat "$serve_log")"
grep -q -- "--tls-psk: $tmpdir/gone/keys.psk: No such file" "$serve_log" ||
    fail "the task whose keys went: $(cat "$serve_log")"
grep -q 'serving 1 task' "$serve_log" || fail "the good task is not served"
for p in "$p1" "$p2"; do
    if nbdinfo --size "nbd://127.0.0.1:$p/disk0" >/dev/null 2>&1; then
        fail "port $p is served"
    fi
done

# The served one: TLS with the key, nothing without it.
uri="nbds://alice@127.0.0.1:$p3/disk0?tls-psk-file=$tmpdir/psk/keys.psk"
qemu-io --object "tls-creds-psk,id=tls0,dir=$tmpdir/psk,username=alice,endpoint=client" \
    --image-opts "driver=nbd,host=127.0.0.1,port=$p3,export=disk0,tls-creds=tls0" \
    -c "write -P 0x5c 4k 8k" >"$tmpdir/qio.log" 2>&1 ||
    fail "qemu-io over TLS-PSK: $(cat "$tmpdir/qio.log")"
nbdcopy -- "$uri" "$tmpdir/got.img"
python3 - "$tmpdir/got.img" <<'PY' || fail "the write over TLS-PSK did not land"
import sys
d = open(sys.argv[1], "rb").read()
assert d[4096:12288] == b"\x5c" * 8192 and d[:4096] == bytes(4096), "content"
PY
if nbdinfo --size "nbd://127.0.0.1:$p3/disk0" >/dev/null 2>&1; then
    fail "a plain client was served"
fi
if nbdinfo --size "nbds://alice@127.0.0.1:$p3/disk0?tls-psk-file=$tmpdir/wrong/keys.psk" \
       >/dev/null 2>&1; then
    fail "a wrong key was served"
fi
wait_for 10 "the refusals in the log" \
    eval "grep -q 'without TLS: refused' '$serve_log' && grep -q 'TLS handshake' '$serve_log'"
stop_cdp_serve
