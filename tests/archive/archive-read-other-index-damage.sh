#!/usr/bin/env bash
# One archived point's index damaged (a byte of its header flipped):
# cdp restore --archive of another point of the task, from a store that
# never had the task, still restores it; the damaged point is refused
# with one line naming its index.
source "$(dirname "$0")/../e2e/functions.sh"
source "$(dirname "$0")/reading.sh"

arch=$tmpdir/archive
archive_task d 8M --bp-interval 7d
head -c 8M /dev/urandom >"$tmpdir/a.img"
put_image d "$tmpdir/a.img" >/dev/null
t1=$(push_point d "$arch")
head -c 8M /dev/urandom >"$tmpdir/b.img"
put_image d "$tmpdir/b.img" >/dev/null
t2=$(push_point d "$arch")
[ "$t1" != "$t2" ] || fail "the two pushes archived the same point $t1"
stop_cdp_serve
fresh_store

mapfile -t idx < <(find "$arch/points" -name '*.idx' | sort)
[ "${#idx[@]}" -eq 2 ] || fail "not two indexes: ${idx[*]}"
printf 'X' | dd of="${idx[0]}" bs=1 seek=0 conv=notrunc status=none

cdp restore --archive "$arch" d --at "$t2" --output "$tmpdir/out.img" \
    2>"$tmpdir/restore.err" ||
    fail "restore of the undamaged point: $(cat "$tmpdir/restore.err")"
same "$tmpdir/out.img" "$tmpdir/b.img" "restore of the undamaged point"

expect_error 1 "$(basename "${idx[0]}").* damaged" \
    cdp restore --archive "$arch" d --at "$t1" --output "$tmpdir/old.img"
[ ! -e "$tmpdir/old.img" ] || fail "a restore of a damaged point wrote its output"
