#!/usr/bin/env bash
# libvirt mode end to end: 'cdp task create --domain' finds the domain's
# disk, 'cdp serve' starts the block copy itself (virDomainBlockCopy,
# synchronous writes, a unix socket only QEMU's user may use) and the
# disk is protected at READY; every point after it holds exactly the
# writes made through the guest device up to its instant.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/libvirt.sh"
requires nbdcopy cmp

expect_error 1 "no domain 'nosuch'" cdp task create x --domain nosuch
define_domain --blank 16M --paused
vio "write -P 0x11 0 256k"
expect_error 1 "has no disk 'vdz'" cdp task create x --domain "$dom" --disk vdz
cdp task create lv --domain "$dom"
cdp task show lv --json >"$tmpdir/show.json"
grep -Eq '"mode": ?"libvirt"' "$tmpdir/show.json" || fail "task show: not libvirt mode"
cdp task show lv >"$tmpdir/show.txt"
grep -q "disk:       vda (16.0 MiB)" "$tmpdir/show.txt" || fail "task show: no disk vda"
dom_image "$tmpdir/base.img"

start_cdp_serve
wait_protected lv vda 60
# The job is libvirt's, a synchronous-writes copy to cdp's socket.
virsh dumpxml "$dom" >"$tmpdir/dom.xml"
grep -q "<mirror type='network' job='copy' ready='yes'" "$tmpdir/dom.xml" ||
    fail "no READY copy job in the domain's XML"
sock=$CDP_STORE/tasks/lv/qemu/receiver.sock
grep -q "socket='$sock'" "$tmpdir/dom.xml" || fail "the copy does not go to $sock"
[ "$(stat -c '%a %G' "$sock")" = "660 libvirt-qemu" ] ||
    fail "socket $sock: $(stat -c '%a %U:%G' "$sock"), want 660 for QEMU's group only"

cmds=("write -P 0x21 0 64k" "write -P 0x22 1m 4k" "write -z 32k 8k"
      "write -P 0x23 4095k 1k" "write -P 0x24 1536 512")
times=()
for c in "${cmds[@]}"; do
    vio "$c"
    times+=("$(now)")
    sleep 0.05
done
for i in "${!cmds[@]}"; do
    ref_apply "$tmpdir/base.img" "$tmpdir/ref.img" "${cmds[@]:0:$((i + 1))}"
    export_to lv "${times[$i]}" "$tmpdir/point.img"
    same "$tmpdir/point.img" "$tmpdir/ref.img" "point after '${cmds[$i]}'"
done
dom_image "$tmpdir/now.img"
same "$tmpdir/now.img" "$tmpdir/ref.img" "the domain's disk"

cdp status lv --json >"$tmpdir/status.json"
python3 - "$tmpdir/status.json" <<'PY' || fail "status: $(cat "$tmpdir/status.json")"
import json, sys
t = json.load(open(sys.argv[1]))["tasks"][0]
d = t["disks"][0]
assert d["name"] == "vda" and d["state"] == "protected", d
assert d["rpo_lag_s"] == 0, d
for k in ("journal_bytes", "journal_from", "journal_to"):
    assert k in t, k
for k in ("base_point", "ingest_bytes_per_s", "gaps"):
    assert k in d, k
PY

# No guest agent in this domain: --freeze says so, the bookmark is made.
cdp mark lv --label before-stop --freeze >"$tmpdir/mark.out" 2>"$tmpdir/mark.err" ||
    fail "mark --freeze: $(cat "$tmpdir/mark.err")"
grep -q "not frozen" "$tmpdir/mark.err" || fail "mark --freeze said nothing of the agent"
cdp points lv --json >"$tmpdir/points.json"
grep -Eq '"label": ?"before-stop"' "$tmpdir/points.json" || fail "no bookmark"

stop_cdp_serve
virsh blockjob "$dom" vda >"$tmpdir/job.txt" 2>&1
grep -q 'No current block job' "$tmpdir/job.txt" ||
    fail "the copy job outlived cdp serve: $(cat "$tmpdir/job.txt")"
