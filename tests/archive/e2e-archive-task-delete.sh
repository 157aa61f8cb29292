#!/usr/bin/env bash
# task delete forgets the points this store archived of the task (the
# other tasks' stay), --keep-archive keeps them, and an archive that
# cannot be reached refuses the delete in one line unless --keep-archive
# (nothing is left behind silently).  task create takes an S3 location
# that cannot be reached now, and says so.
source "$(dirname "$0")/../e2e/functions.sh"
requires nbdcopy truncate dd python3
arch=$tmpdir/arch
# An S3 endpoint nobody answers on (serve and the commands alike).
export AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y

for n in a b c; do
    cdp task create "$n" --size 8M --listen "unix:$tmpdir/$n.sock" --archive "$arch"
done
start_cdp_serve
for n in a b c; do
    wait_for 20 "the receiver of $n" test -S "$tmpdir/$n.sock"
    truncate -s 8M "$tmpdir/$n.img"
    dd if=/dev/urandom of="$tmpdir/$n.img" bs=1M count=2 conv=notrunc status=none
    nbdcopy -- "$tmpdir/$n.img" "nbd+unix:///disk0?socket=$tmpdir/$n.sock"
    cdp archive push "$n" --at now >/dev/null
done
npoints ()
{
    cdp archive list "$arch" "$1" --json |
        python3 -c 'import json,sys; print(sum(len(t["points"]) for t in json.load(sys.stdin)["tasks"]))'
}
wait_for 60 "serve to archive a's base point" \
    grep -q 'task a: archived the base point' "$serve_log"
[ "$(npoints a)" -ge 1 ] || fail "no point of a is archived"

cdp task delete a --json >"$tmpdir/del.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["deleted"] and d["archived_points_forgotten"] >= 1, d' \
    "$tmpdir/del.json"
[ "$(npoints a)" = 0 ] || fail "task delete left points of a"
[ "$(npoints b)" -ge 1 ] || fail "task delete of a forgot points of b"
cdp task delete b --keep-archive | grep -q 'task b deleted' || fail "delete b"
[ "$(npoints b)" -ge 1 ] || fail "--keep-archive forgot points of b"

# An S3 archive nobody answers for: taken at create with a note, and
# the delete is refused unless --keep-archive.
cdp task create s --size 8M --listen "unix:$tmpdir/s.sock" \
    --archive s3://cdp-nobody/x 2>"$tmpdir/create.err" ||
    fail "task create refused an S3 archive it cannot reach: $(cat "$tmpdir/create.err")"
grep -q 'archive s3://cdp-nobody/x cannot be reached now' "$tmpdir/create.err" ||
    fail "task create did not say the archive cannot be reached: $(cat "$tmpdir/create.err")"
# serve tries, fails, says so in status, and tries again later.
archive_failed ()
{
    cdp status s --json | python3 -c '
import json, sys
a = json.load(sys.stdin)["tasks"][0]["archive"]
sys.exit(not (a["state"] == "failed" and a["error"]))'
}
wait_for 60 "status to say the archive failed" archive_failed
cdp status s | grep -Eq '^  archive s3://cdp-nobody/x: failed, 0 points: .+' ||
    fail "status: $(cdp status s)"
grep -q 'task s: archive: .*(tried again in [0-9]*s)' "$serve_log" ||
    fail "serve did not log the failure and its retry"
expect_error 1 "task 's' not deleted: its points in archive s3://cdp-nobody/x cannot be forgotten.*--keep-archive" \
    cdp task delete s
cdp task list | grep -q '^s ' || fail "a refused delete deleted the task"
cdp task delete s --keep-archive >/dev/null
cdp task list | grep -q '^s ' && fail "task delete --keep-archive did not delete it"

expect_error 1 'parent directory .* does not exist' \
    cdp task create x --size 8M --listen "unix:$tmpdir/x.sock" --archive /nonexistent/dir/arch
expect_error 2 'need --archive' \
    cdp task create x --size 8M --listen "unix:$tmpdir/x.sock" --keep-daily 3
expect_error 2 'absolute path' \
    cdp task create x --size 8M --listen "unix:$tmpdir/x.sock" --archive rel/arch
stop_cdp_serve
