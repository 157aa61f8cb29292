#!/usr/bin/env bash
# cdp status does not call a task's archive up to date (lag_s 0) while
# serve has never reached it: what is due there is not known, so lag_s
# is null; once the archive is read, the lag is a number again.
source "$(dirname "$0")/../e2e/functions.sh"
requires python3
# An S3 endpoint nobody answers on.
export AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y

cdp task create s --size 8M --listen "unix:$tmpdir/s.sock" \
    --archive s3://cdp-nobody/x 2>/dev/null
start_cdp_serve
archive_failed ()
{
    cdp status s --json | python3 -c '
import json, sys
a = json.load(sys.stdin)["tasks"][0]["archive"]
sys.exit(not (a["state"] == "failed" and a["error"]))'
}
wait_for 60 "status to say the archive failed" archive_failed
cdp status s --json | python3 -c '
import json, sys
a = json.load(sys.stdin)["tasks"][0]["archive"]
assert a["lag_s"] is None, a' ||
    fail "status gives a lag for an archive serve never read: $(cdp status s --json)"
cdp status s | grep -q ', lag ' && fail "status prints a lag: $(cdp status s)"

# A directory it can read: the lag is known.
cdp task set s --archive "$tmpdir/arch" >/dev/null
lag_known ()
{
    cdp status s --json | python3 -c '
import json, sys
a = json.load(sys.stdin)["tasks"][0]["archive"]
sys.exit(not (a["state"] == "idle" and isinstance(a["lag_s"], int)))'
}
wait_for 60 "status to give the lag of a readable archive" lag_known
stop_cdp_serve
