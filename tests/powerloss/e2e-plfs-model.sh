#!/usr/bin/env bash
# plfs, the power-loss test's file system, leaves after a cut exactly
# what was made durable: a file's data and size as of its fsync,
# fdatasync or O_DSYNC/RWF_DSYNC write (O_DIRECT too, and through
# io_uring, where the kernel sends the FUSE file system no fsync, only the
# write's O_DSYNC flag), a directory's entries as of its fsync;
# everything else is gone, and an unmount without a cut loses nothing.
source "$(dirname "$0")/../e2e/functions.sh"
requires fusermount3 mountpoint python3 fio
: "${PLFS:?PLFS must name plfs}"

state=$tmpdir/fs
mnt=$tmpdir/m
plfs_pid=

pl_cleanup ()
{
    local s=$?
    set +e
    if [ -n "$plfs_pid" ]; then
        fusermount3 -u -z "$mnt"
        wait "$plfs_pid"
    fi
    (exit "$s")
    cleanup
}
trap pl_cleanup EXIT

mount_plfs ()
{
    mkdir -p "$mnt" "$state"
    "$PLFS" "$@" "$state" "$mnt" >>"$tmpdir/plfs.log" 2>&1 &
    plfs_pid=$!
    wait_for 20 "plfs to mount" mountpoint -q "$mnt"
}

unmount ()
{
    fusermount3 -u "$mnt"
    wait "$plfs_pid" || fail "plfs exited $? at the unmount"
    plfs_pid=
}

cut ()
{
    kill -USR1 "$plfs_pid"
    unmount
}

# io SCRIPT: python with os and the mount's path as m.
io ()
{
    python3 -c "import os, mmap; m = '$mnt'
$1"
}

mount_plfs
io '
os.mkdir(m + "/d")
fd = os.open(m + "/d/synced", os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"A" * 8192); os.fsync(fd); os.write(fd, b"late"); os.close(fd)
fd = os.open(m + "/d/datasynced", os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"B" * 100); os.fdatasync(fd); os.close(fd)
fd = os.open(m + "/d/dsync", os.O_WRONLY | os.O_CREAT | os.O_DSYNC, 0o644)
os.write(fd, b"C" * 10); os.close(fd)
fd = os.open(m + "/d/direct", os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
buf = mmap.mmap(-1, 4096); buf.write(b"D" * 4096)
os.pwritev(fd, [buf], 0, os.RWF_DSYNC)
buf2 = mmap.mmap(-1, 4096); buf2.write(b"E" * 4096)
os.pwritev(fd, [buf2], 4096); os.close(fd)
fd = os.open(m + "/d/unsynced", os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"lost"); os.close(fd)
for name in ["uring-dsync", "uring"]:
    fd = os.open(m + "/d/" + name, os.O_WRONLY | os.O_CREAT, 0o644)
    os.posix_fallocate(fd, 0, 65536); os.fsync(fd); os.close(fd)
for dfd in [os.open(m + "/d", os.O_RDONLY), os.open(m, os.O_RDONLY)]:
    os.fsync(dfd); os.close(dfd)
os.mkdir(m + "/d/newdir")
os.rename(m + "/d/synced", m + "/d/renamed")
fd = os.open(m + "/d/later", os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"x"); os.fsync(fd); os.close(fd)
os.unlink(m + "/d/datasynced")
'
# O_DIRECT writes through io_uring, 4 in flight, with and without O_DSYNC.
for f in uring-dsync uring; do
    fio --name=w --filename="$mnt/d/$f" --ioengine=io_uring --direct=1 \
        $([ $f = uring ] || echo --sync=dsync) --rw=write --bs=4k --size=64k \
        --iodepth=4 --buffer_pattern=0x55 --output="$tmpdir/fio.log" ||
        fail "fio: $(cat "$tmpdir/fio.log")"
done
cut
live=$state/live/d
[ "$(ls "$live" | tr '\n' ' ')" = "datasynced direct dsync synced unsynced uring uring-dsync " ] ||
    fail "entries after the cut: $(ls "$live" | tr '\n' ' ')"
[ "$(cat "$live/synced")" = "$(printf 'A%.0s' $(seq 8192))" ] ||
    fail "the write after fsync survived, or the synced data did not"
[ "$(cat "$live/datasynced")" = "$(printf 'B%.0s' $(seq 100))" ] ||
    fail "fdatasync'd data lost"
[ "$(cat "$live/dsync")" = CCCCCCCCCC ] || fail "an O_DSYNC write was lost"
[ "$(head -c 4096 "$live/direct" | tr -d D | wc -c)" -eq 0 ] ||
    fail "an O_DIRECT RWF_DSYNC write was lost"
[ "$(tail -c +4097 "$live/direct" | tr -d '\0' | wc -c)" -eq 0 ] ||
    fail "an O_DIRECT write without DSYNC survived"
[ ! -s "$live/unsynced" ] || fail "unsynced data survived"
[ "$(tr -d U <"$live/uring-dsync" | wc -c)" -eq 0 ] ||
    fail "O_DIRECT O_DSYNC writes through io_uring were lost"
[ "$(tr -d '\0' <"$live/uring" | wc -c)" -eq 0 ] ||
    fail "O_DIRECT writes through io_uring without O_DSYNC survived"
echo "cut: only the durable state is left"

mount_plfs
io '
os.rename(m + "/d/synced", m + "/d/moved")
dfd = os.open(m + "/d", os.O_RDONLY); os.fsync(dfd); os.close(dfd)
fd = os.open(m + "/d/dsync", os.O_WRONLY); os.ftruncate(fd, 2); os.close(fd)
os.unlink(m + "/d/unsynced")
'
unmount
[ "$(ls "$live" | tr '\n' ' ')" = "datasynced direct dsync moved uring uring-dsync " ] ||
    fail "entries after an unmount: $(ls "$live" | tr '\n' ' ')"
[ "$(cat "$live/dsync")" = CC ] || fail "an unmount without a cut lost a truncate"

mount_plfs
io '
fd = os.open(m + "/d/dsync", os.O_WRONLY); os.ftruncate(fd, 0); os.close(fd)
fd = os.open(m + "/d/moved", os.O_WRONLY); os.ftruncate(fd, 4096); os.fsync(fd); os.close(fd)
'
cut
[ "$(cat "$live/dsync")" = CC ] || fail "an unsynced truncate survived"
[ "$(stat -c %s "$live/moved")" -eq 4096 ] || fail "a synced truncate was lost"
echo "unmount keeps everything; truncates are durable at fsync"
