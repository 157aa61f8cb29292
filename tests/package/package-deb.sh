#!/usr/bin/env bash
# The Debian package, end to end: dpkg-buildpackage builds it from a
# clean copy of the committed tree (git archive HEAD: never a build
# directory of the developer's), apt installs it, it holds every file
# `meson install` installs, its cdp protects and restores a disk for
# real, and purging it takes it all away again.  The host is left as it
# was: a cdp package installed before is put back, and so are files of
# the package's paths that another install (ninja install) left there.
#
# usage: package-deb.sh SOURCE_ROOT
#
# Runs as root, on a test host: it installs and purges the package cdp
# (where systemd runs, the package starts cdp.service, which serves
# /var/lib/cdp while the test runs).  One run at a time per host.
set -euo pipefail

src=${1:?usage: package-deb.sh SOURCE_ROOT}

fail ()
{
    echo "$0: FAIL: $*" >&2
    exit 1
}

step ()
{
    echo "== $(date +%T) $*"
}

requires ()
{
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 ||
            fail "required tool '$t' is not installed"
    done
}

wait_for ()
{
    local secs=$1 what=$2 deadline
    shift 2
    deadline=$(( $(date +%s) + secs ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] ||
            fail "timed out after ${secs}s waiting for $what"
        sleep 0.1
    done
}

[ "$(id -u)" -eq 0 ] || fail "must run as root (apt-get install, apt-get purge)"
requires git tar dpkg-buildpackage dpkg-parsechangelog dpkg-deb dpkg-query \
    dpkg-repack apt-get meson python3 systemd-analyze man zcat flock \
    cockpit-bridge nbdcopy qemu-img truncate dd cmp

tmpdir=$(mktemp -d /tmp/cdp-deb-XXXXXX)
unit_link=/etc/systemd/system/multi-user.target.wants/cdp.service
systemd_runs=false
[ -d /run/systemd/system ] && systemd_runs=true
apt=(apt-get -y -q -o DPkg::Lock::Timeout=300)
export DEBIAN_FRONTEND=noninteractive

# What the cleanup puts back: the package installed before (prev_deb,
# purged before the test's is installed), or the files another install left where the package puts its own
# (listed in $tmpdir/unowned, copies under $tmpdir/saved); the unit's
# enable link; whether /var/lib/cdp existed and cdp.service ran.
installed=false
prev_deb=
prev_link=
prev_statedir=true
prev_active=false
serve_pid=

cleanup ()
{
    local status=$? p
    set +e
    if [ -n "$serve_pid" ]; then
        kill -TERM "$serve_pid" 2>/dev/null
        wait "$serve_pid" 2>/dev/null
    fi
    if $installed && dpkg-query -W -f='${db:Status-Status}' cdp 2>/dev/null |
            grep -qvx not-installed; then
        "${apt[@]}" purge cdp >>"$tmpdir/apt.log" 2>&1 || {
            echo "$0: FAIL: apt-get purge cdp failed:" >&2
            tail -n 20 "$tmpdir/apt.log" >&2; status=1; }
    fi
    if [ -n "$prev_deb" ]; then
        "${apt[@]}" install --no-install-recommends "$prev_deb" \
            >>"$tmpdir/apt.log" 2>&1 || {
            echo "$0: FAIL: cannot reinstall the cdp package found before" \
                 "the test (kept as $prev_deb)" >&2
            tail -n 20 "$tmpdir/apt.log" >&2; exit 1; }
    elif [ -s "$tmpdir/unowned" ]; then
        while read -r p; do
            cp -a "$tmpdir/saved$p" "$p" || {
                echo "$0: FAIL: cannot put back $p (a copy is in" \
                     "$tmpdir/saved)" >&2; exit 1; }
        done <"$tmpdir/unowned"
    fi
    if [ -n "$prev_link" ] && [ ! -L "$unit_link" ]; then
        ln -s "$prev_link" "$unit_link" ||
            { echo "$0: FAIL: cannot put back $unit_link" >&2; status=1; }
    elif [ -z "$prev_link" ] && [ -L "$unit_link" ]; then
        # The package reinstalled enabled what was disabled.
        systemctl disable cdp.service ||
            { echo "$0: FAIL: cannot disable cdp.service again" >&2; status=1; }
    fi
    if $systemd_runs; then
        systemctl daemon-reload
        if $prev_active; then
            systemctl start cdp.service ||
                { echo "$0: FAIL: cdp.service ran before the test" \
                       "and does not start again" >&2; status=1; }
        elif systemctl is-active --quiet cdp.service; then
            systemctl stop cdp.service
        fi
    fi
    $prev_statedir || rm -rf /var/lib/cdp
    if [ "$status" -ne 0 ] && [ -s "$tmpdir/serve.log" ]; then
        echo "--- serve.log (last 40 lines)" >&2
        tail -n 40 "$tmpdir/serve.log" >&2
    fi
    rm -rf "$tmpdir"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

exec 9>/run/lock/cdp-package-test.lock
flock -w 600 9 || fail "another run of this test holds /run/lock/cdp-package-test.lock"

# ---- build ------------------------------------------------------------

step "dpkg-buildpackage from git archive HEAD of $src"
git -C "$src" rev-parse --verify -q HEAD >/dev/null ||
    fail "$src is not a git checkout with a commit"
mkdir "$tmpdir/src"
git -C "$src" archive --prefix=cdp/ HEAD | tar -x -C "$tmpdir/src" ||
    fail "git archive of $src failed"
tree=$tmpdir/src/cdp
(cd "$tree" &&
 DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS-}" \
     dpkg-buildpackage -b -us -uc) >"$tmpdir/build.log" 2>&1 || {
    tail -n 60 "$tmpdir/build.log" >&2
    fail "dpkg-buildpackage -b -us -uc failed (log above)"; }

obj=$(ls -d "$tree"/obj-*/)
meson_version=$(meson introspect --projectinfo "$obj" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
deb_version=$(dpkg-parsechangelog -l "$tree/debian/changelog" -S Version)
[ "${deb_version%-*}" = "$meson_version" ] ||
    fail "debian/changelog's version $deb_version is not meson.build's $meson_version"
deb=$tmpdir/src/cdp_${deb_version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || fail "dpkg-buildpackage made no $deb"
echo "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

# ---- what was here before ---------------------------------------------

dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -n 's|^\./|/|; /[^/]$/p' \
    >"$tmpdir/deb-files"
[ -s "$tmpdir/deb-files" ] || fail "cannot list the files of $deb"

if [ -L "$unit_link" ]; then prev_link=$(readlink "$unit_link"); fi
[ -e /var/lib/cdp ] || prev_statedir=false
if $systemd_runs && systemctl is-active --quiet cdp.service; then
    prev_active=true
fi
prev_status=$(dpkg-query -W -f='${db:Status-Status}' cdp 2>/dev/null || :)
case $prev_status in
    ''|not-installed) ;;
    installed)
        step "saving the installed cdp $(dpkg-query -W -f='${Version}' cdp)"
        mkdir "$tmpdir/prev"
        (cd "$tmpdir/prev" && dpkg-repack cdp) >"$tmpdir/repack.log" 2>&1 || {
            cat "$tmpdir/repack.log" >&2
            fail "dpkg-repack cdp failed: cannot keep the installed cdp"; }
        prev_deb=$(ls "$tmpdir"/prev/cdp_*.deb)
        # Out of the way, so that the test's package is installed afresh
        # (the same version would be "already installed").
        installed=true
        "${apt[@]}" purge cdp >"$tmpdir/apt.log" 2>&1 || {
            tail -n 30 "$tmpdir/apt.log" >&2
            fail "apt-get purge cdp (the one installed before) failed"; } ;;
    *)
        fail "the package cdp is $prev_status: repair or purge it first" ;;
esac
if [ -z "$prev_deb" ]; then
    : >"$tmpdir/unowned"
    while read -r p; do
        [ -e "$p" ] || [ -L "$p" ] || continue
        ! dpkg -S "$p" >/dev/null 2>&1 ||
            fail "$p belongs to package $(dpkg -S "$p" | cut -d: -f1)"
        echo "keeping $p (not from a package)"
        mkdir -p "$tmpdir/saved$(dirname "$p")"
        cp -a "$p" "$tmpdir/saved$p"
        echo "$p" >>"$tmpdir/unowned"
    done <"$tmpdir/deb-files"
fi

# ---- install ----------------------------------------------------------

step "apt-get install $(basename "$deb")"
# Everything cdp depends on is installed already (scripts/packages.txt):
# apt installs cdp and nothing else.
"${apt[@]}" install -s --no-install-recommends "$deb" >"$tmpdir/apt.log" 2>&1 || {
    tail -n 30 "$tmpdir/apt.log" >&2; fail "apt-get install -s $deb failed"; }
others=$(sed -n 's/^Inst \([^ ]*\) .*/\1/p' "$tmpdir/apt.log" | grep -vx cdp || :)
[ -z "$others" ] ||
    fail "installing cdp would install more packages (scripts/packages.txt misses them):" $others
installed=true
"${apt[@]}" install --no-install-recommends "$deb" >"$tmpdir/apt.log" 2>&1 || {
    tail -n 30 "$tmpdir/apt.log" >&2; fail "apt-get install $deb failed"; }
[ "$(dpkg-query -W -f='${db:Status-Status} ${Version}' cdp)" = "installed $deb_version" ] ||
    fail "dpkg does not list cdp $deb_version as installed"

step "cdp --version"
[ "$(command -v cdp)" = /usr/bin/cdp ] ||
    fail "cdp in PATH is $(command -v cdp), not the package's /usr/bin/cdp"
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/bin/cdp | cmp -s - /usr/bin/cdp ||
    fail "/usr/bin/cdp is not the program of $(basename "$deb")"
v=$(/usr/bin/cdp --version) || fail "/usr/bin/cdp --version failed"
[ "$v" = "cdp $meson_version" ] || fail "/usr/bin/cdp --version says '$v'"

step "every file meson installs, from the package, and nothing else"
dpkg -L cdp >"$tmpdir/dpkg-files"
meson introspect --installed "$obj" >"$tmpdir/installed.json"
python3 - "$tmpdir/installed.json" "$tmpdir/deb-files" <<'PY' ||
import gzip, json, os, sys

installed = json.load(open(sys.argv[1]))
owned = set(line.rstrip("\n") for line in open(sys.argv[2]))  # no folders
errors = []
expected = {}              # installed path -> file built or in the tree
for built, dest in installed.items():
    if os.path.isdir(built):
        for d, _, names in os.walk(built):
            for n in names:
                rel = os.path.relpath(os.path.join(d, n), built)
                expected[os.path.join(dest, rel)] = os.path.join(d, n)
    else:
        expected[dest] = built
if not expected:
    errors.append("meson introspect --installed lists nothing")

def is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"

found = set()
for dest, built in sorted(expected.items()):
    # dh_compress gzips manual pages; dh_strip strips programs.
    path = dest
    if not os.path.lexists(path) and dest.startswith("/usr/share/man/"):
        path = dest + ".gz"
    if not os.path.lexists(path):
        errors.append(f"{dest}: meson installs it, the package does not")
        continue
    if path not in owned:
        errors.append(f"{path}: on disk but not a file of the package")
        continue
    found.add(path)
    if is_elf(built):
        if not is_elf(path) or not os.access(path, os.X_OK):
            errors.append(f"{path}: not an executable ELF file")
        else:
            print(f"ok {path}")
        continue
    data = (gzip.open(path).read() if path.endswith(".gz") and
            not built.endswith(".gz") else open(path, "rb").read())
    if data != open(built, "rb").read():
        errors.append(f"{path}: differs from {built}")
    print(f"ok {path}")

# What the package holds besides: Debian's documentation and overrides.
extra = ("/usr/share/doc/cdp/", "/usr/share/lintian/overrides/")
for p in sorted(owned):
    if p not in found and not p.startswith(extra):
        errors.append(f"{p}: in the package but not installed by meson")
for e in errors:
    print(e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
    fail "the package does not hold exactly what meson installs (above)"

step "the Cockpit page"
page=$(cockpit-bridge --packages | awk '$1 == "cdp" { print $NF }')
[ "$page" = /usr/share/cockpit/cdp ] ||
    fail "cockpit-bridge does not find the page cdp in /usr/share/cockpit/cdp (says '$page')"

step "man cdp"
[ "$(man -w cdp)" = /usr/share/man/man1/cdp.1.gz ] ||
    fail "man -w cdp finds '$(man -w cdp 2>&1)', not the package's page"
zcat /usr/share/man/man1/cdp.1.gz | cmp -s - "$tree/docs/cdp.1" ||
    fail "the installed manual page is not docs/cdp.1"
man cdp 2>/dev/null | grep -q 'continuous data protection' ||
    fail "man cdp does not render the page"

step "cdp.service"
unit=$(grep '/systemd/system/cdp\.service$' "$tmpdir/dpkg-files") ||
    fail "the package has no cdp.service"
grep -qx 'ExecStart=/usr/bin/cdp serve' "$unit" ||
    fail "$unit does not run /usr/bin/cdp serve"
systemd-analyze verify "$unit" >"$tmpdir/verify.log" 2>&1 || {
    cat "$tmpdir/verify.log" >&2; fail "systemd-analyze verify $unit failed"; }
[ "$(readlink -f "$unit_link")" = "$(readlink -f "$unit")" ] ||
    fail "installing did not enable cdp.service ($unit_link)"
if $systemd_runs; then
    [ "$(systemctl is-enabled cdp.service)" = enabled ] ||
        fail "systemctl says cdp.service is $(systemctl is-enabled cdp.service)"
    wait_for 60 "cdp.service to be active" systemctl is-active --quiet cdp.service
fi

# ---- the installed cdp, for real --------------------------------------

step "manual-mode task: create, serve, write, points, restore"
export CDP_STORE=$tmpdir/store
rx=$tmpdir/rx.sock
/usr/bin/cdp task create m --size 8M --listen "unix:$rx" ||
    fail "cdp task create failed"
/usr/bin/cdp serve >"$tmpdir/serve.log" 2>&1 &
serve_pid=$!
wait_for 60 "the receiver's socket" test -S "$rx"

img=$tmpdir/src.img
truncate -s 8M "$img"
dd if=/dev/urandom of="$img" bs=512 seek=3 count=2045 conv=notrunc status=none
dd if=/dev/urandom of="$img" bs=512 seek=12289 count=3000 conv=notrunc status=none
nbdcopy -- "$img" "nbd+unix:///disk0?socket=$rx" || fail "nbdcopy into cdp failed"

# The second of the writes is a point once it is over.
last_point ()
{
    /usr/bin/cdp points m --json | python3 -c '
import json, sys
points = [p["time"] for p in json.load(sys.stdin)["points"] if p["kind"] == "second"]
print(points[-1] if points else "")'
}
has_point () { [ -n "$(last_point)" ]; }
wait_for 60 "cdp points to list the second of the writes" has_point
at=$(last_point)
echo "restoring the point at $at"

/usr/bin/cdp restore m --at "$at" --output "$tmpdir/at.raw" ||
    fail "cdp restore to raw failed"
cmp "$tmpdir/at.raw" "$img" || fail "the restored raw image is not what nbdcopy wrote"
/usr/bin/cdp restore m --at "$at" --output "$tmpdir/at.qcow2" ||
    fail "cdp restore to qcow2 failed"
qemu-img compare -q -f qcow2 -F raw "$tmpdir/at.qcow2" "$img" ||
    fail "the restored qcow2 image is not what nbdcopy wrote"

kill -TERM "$serve_pid"
rc=0; wait "$serve_pid" || rc=$?
serve_pid=
[ "$rc" -eq 0 ] || fail "cdp serve exited $rc on SIGTERM"

# ---- purge ------------------------------------------------------------

step "apt-get purge cdp"
"${apt[@]}" purge cdp >"$tmpdir/apt.log" 2>&1 || {
    tail -n 30 "$tmpdir/apt.log" >&2; fail "apt-get purge cdp failed"; }
installed=false
st=$(dpkg-query -W -f='${db:Status-Status}' cdp 2>/dev/null || :)
[ -z "$st" ] || [ "$st" = not-installed ] || fail "after purge, cdp is $st"
while read -r p; do
    [ ! -e "$p" ] && [ ! -L "$p" ] || fail "$p is left after purge"
done <"$tmpdir/deb-files"
[ ! -L "$unit_link" ] || fail "$unit_link is left after purge"
echo "package-deb: OK"
