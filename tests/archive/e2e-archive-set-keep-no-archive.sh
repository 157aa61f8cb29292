#!/usr/bin/env bash
# task set's --keep-* and --archive-bandwidth on a task that has no
# archive (or with --archive none) are refused in one line, as task
# create refuses them: task.json keeps no policy without a location, so
# taking them would report a change that is not kept.
source "$(dirname "$0")/../e2e/functions.sh"
requires python3
arch=$tmpdir/arch

cdp task create a --size 8M --listen "unix:$tmpdir/a.sock"
expect_error 2 'need --archive' cdp task set a --keep-daily 5
expect_error 2 'need --archive' cdp task set a --archive-bandwidth 1M
cdp task show a --json | python3 -c '
import json, sys
assert json.load(sys.stdin)["archive"] is None' || fail "task a got an archive"

# With an archive: taken, and kept in task.json.
cdp task set a --archive "$arch" --keep-daily 5 >/dev/null
cdp task show a --json | python3 -c '
import json, sys
a = json.load(sys.stdin)["archive"]
assert a["keep"]["daily"] == 5, a' || fail "--keep-daily 5 with --archive not kept"
cdp task set a --keep-weekly 3 >/dev/null
cdp task show a --json | python3 -c '
import json, sys
a = json.load(sys.stdin)["archive"]
assert a["keep"]["weekly"] == 3 and a["keep"]["daily"] == 5, a' ||
    fail "--keep-weekly 3 on a task with an archive not kept"
# --archive none with a keep flag: the flag would be lost.
expect_error 2 'need --archive' cdp task set a --archive none --keep-daily 7
cdp task show a --json | python3 -c '
import json, sys
a = json.load(sys.stdin)["archive"]
assert a["location"] and a["keep"]["daily"] == 5, a' ||
    fail "a refused task set changed the archive"
