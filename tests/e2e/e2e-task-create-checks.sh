#!/usr/bin/env bash
# 'cdp task create' checks what it can before the task exists: listen
# addresses (tcp:HOST:PORT with a port 1-65535, unix: absolute paths
# that fit a socket address), no second task on one address, no disk
# named twice, no disk larger than the store's file system.  Each
# refusal is one line, exit 2, and leaves no task behind.
source "$(dirname "$0")/functions.sh"
requires python3

cdp task create a --size 8M --listen tcp:127.0.0.1:10809 --no-tls >/dev/null
cdp task create u --size 8M --listen "unix:$tmpdir/u.sock" >/dev/null

expect_error 2 'no port from 1 to 65535' cdp task create x --size 8M --listen tcp:127.0.0.1:0
expect_error 2 'no port from 1 to 65535' cdp task create x --size 8M --listen tcp:127.0.0.1:65536
expect_error 2 'no port from 1 to 65535' cdp task create x --size 8M --listen tcp:localhost:nbd
expect_error 2 'no port from 1 to 65535' cdp task create x --size 8M --listen tcp:localhost:
expect_error 2 'tcp:HOST:PORT' cdp task create x --size 8M --listen tcp:10809
expect_error 2 'unix:PATH or tcp:HOST:PORT' cdp task create x --size 8M --listen udp:h:1
expect_error 2 'must be absolute' cdp task create x --size 8M --listen unix:x.sock
expect_error 2 'longer than 107 bytes' cdp task create x --size 8M \
    --listen "unix:/tmp/$(printf 'a%.0s' $(seq 120))"
expect_error 2 'task a listens on tcp:127.0.0.1:10809 already' \
    cdp task create x --size 8M --listen tcp:127.0.0.1:10809
expect_error 2 'task a listens on tcp:127.0.0.1:10809 already' \
    cdp task create x --size 8M --listen tcp:0.0.0.0:10809
expect_error 2 "task u listens on unix:$tmpdir/u.sock already" \
    cdp task create x --size 8M --listen "unix:$tmpdir/u.sock"
expect_error 2 'larger than the store' cdp task create x --size 1000T \
    --listen "unix:$tmpdir/x.sock"
expect_error 2 '--node disk0 is given twice' \
    cdp task create x --qmp "$tmpdir/none.sock" --node disk0 --node disk0
expect_error 2 '--disk vda is given twice' \
    cdp task create x --domain nodomain --disk vda --disk vda
expect_error 2 'not a task name' cdp task create ../x --size 8M --listen "unix:$tmpdir/x.sock"
[ ! -e "$CDP_STORE/tasks/x" ] || fail "a refused task was created"

# Different ports and paths are fine.
cdp task create b --size 8M --listen tcp:127.0.0.1:10810 --no-tls >/dev/null
cdp task create v --size 8M --listen "unix:$tmpdir/v.sock" >/dev/null
[ "$(cdp task list | wc -l)" -eq 4 ] || fail "tasks: $(cdp task list)"
