# plfs under the store, and the power cut of the store's host, for the
# power-loss tests; sourced after tests/e2e/functions.sh.
#
#   mount_plfs [ARGS]   plfs on $mnt (its state in $state); the store
#                       goes inside it
#   power_cut           plfs drops what is not durable; every process in
#                       $pids dies; unmounted.  $what, if set, names the
#                       moment; after_cut, if defined, runs after it
#   kill_tree PID       stop PID, then its children, and kill them all
: "${PLFS:?PLFS must name plfs}"

plfs_pid=
state=$tmpdir/fs
mnt=$tmpdir/m

pl_cleanup ()
{
    local s=$? p
    set +e
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    if [ -n "$plfs_pid" ]; then
        fusermount3 -u -z "$mnt"
        wait "$plfs_pid"
    fi
    [ "$s" -ne 0 ] && [ -s "$tmpdir/plfs.log" ] &&
        { echo "--- plfs.log"; tail -n 20 "$tmpdir/plfs.log"; } >&2
    (exit "$s")
    cleanup
}

mount_plfs ()
{
    trap pl_cleanup EXIT
    mkdir -p "$mnt" "$state"
    "$PLFS" "$@" "$state" "$mnt" >>"$tmpdir/plfs.log" 2>&1 &
    plfs_pid=$!
    wait_for 20 "plfs to mount" plfs_mounted
}

plfs_mounted ()
{
    kill -0 "$plfs_pid" 2>/dev/null || fail "plfs: $(tail -n 1 "$tmpdir/plfs.log")"
    mountpoint -q "$mnt"
}

# kill_tree PID: stop it, then its children, and kill them all.
kill_tree ()
{
    local c
    kill -STOP "$1" 2>/dev/null || return 0
    for c in $(pgrep -P "$1"); do kill_tree "$c"; done
    kill -KILL "$1" 2>/dev/null || :
}

# The power of the store's host goes: nothing unsynced survives (what
# plfs keeps of it with --keep aside), every process started here dies.
power_cut ()
{
    local p rc=0 all=("${pids[@]}")
    kill -USR1 "$plfs_pid"
    for p in "${all[@]}"; do kill_tree "$p"; done
    for p in "${all[@]}"; do reap "$p" || :; done
    fusermount3 -u -z "$mnt"
    wait "$plfs_pid" || rc=$?
    plfs_pid=
    [ "$rc" -eq 0 ] || fail "plfs exited $rc at the cut${what:+ ($what)}"
    if declare -F after_cut >/dev/null; then after_cut; fi
}

