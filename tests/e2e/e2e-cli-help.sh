#!/usr/bin/env bash
# The real cdp binary answers --help for itself, for cdp task and for
# every command and task subcommand its help lists, with exit 0; every
# command the contract names is listed (and so accepted); an unknown
# command or subcommand is a usage error: exit 2, one line on stderr.
source "$(dirname "$0")/functions.sh"

out=$tmpdir/help.out

cdp --help >"$out" || fail "cdp --help exited $?"
grep -q '^usage: cdp \[--store DIR\] COMMAND' "$out" || fail "cdp --help: $(cat "$out")"
cdp help | cmp -s - "$out" || fail "'cdp help' differs from 'cdp --help'"
for group in Tasks Points 'Data back' Files; do
    grep -q "^$group:\$" "$out" || fail "cdp --help lacks group $group"
done

# The commands listed: "  NAME  help", or "  task SUB  help".
mapfile -t commands < <(sed -n 's/^  \([a-z]\+\)  .*/\1/p' "$out")
mapfile -t task_subs < <(sed -n 's/^  task \([a-z]\+\)  .*/\1/p' "$out")
[ "${#commands[@]}" -gt 0 ] || fail "cdp --help lists no command"
for c in task serve status points mark lock unlock fold export restore \
         recover ls cat get verify; do
    if [ "$c" = task ]; then
        [ "${#task_subs[@]}" -gt 0 ] || fail "cdp --help lists no task subcommand"
    else
        printf '%s\n' "${commands[@]}" | grep -qx "$c" ||
            fail "cdp --help does not list $c"
    fi
done
for s in create list show set delete; do
    printf '%s\n' "${task_subs[@]}" | grep -qx "$s" ||
        fail "cdp --help does not list task $s"
done

for c in "${commands[@]}"; do
    rc=0
    cdp "$c" --help >"$out" 2>"$tmpdir/help.err" || rc=$?
    [ "$rc" -eq 0 ] || fail "cdp $c --help exited $rc: $(cat "$tmpdir/help.err")"
    grep -q "^usage: cdp $c" "$out" || fail "cdp $c --help: $(cat "$out")"
    [ ! -s "$tmpdir/help.err" ] || fail "cdp $c --help wrote to stderr"
done

task_help=$tmpdir/task-help.out
cdp task --help >"$task_help" || fail "cdp task --help exited $?"
grep -q '^usage: cdp task SUBCOMMAND' "$task_help" ||
    fail "cdp task --help: $(cat "$task_help")"
for s in "${task_subs[@]}"; do
    grep -q "^  $s " "$task_help" || fail "cdp task --help does not list $s"
    rc=0
    cdp task "$s" --help >"$out" 2>"$tmpdir/help.err" || rc=$?
    [ "$rc" -eq 0 ] || fail "cdp task $s --help exited $rc: $(cat "$tmpdir/help.err")"
    grep -q "^usage: cdp task" "$out" || fail "cdp task $s --help: $(cat "$out")"
done

expect_error 2 "unknown command 'nosuch'" cdp nosuch
expect_error 2 "unknown task command 'nosuch'" cdp task nosuch
expect_error 2 'no command' cdp
expect_error 2 'usage: cdp task create\|list\|show\|set\|delete' cdp task
echo "PASS"
