# Helpers for the libvirt end-to-end tests, sourced after functions.sh.
# libvirtd is started (scripts/start-libvirtd) if it does not run; a test
# fails, never skips, when it cannot be.  Every domain a test defines is
# destroyed and undefined when it exits.
#
#   $dom                      the test's domain name (unique per test)
#   define_domain [--blank SIZE | --guest] [--paused]
#                             scripts/make-vm, define, start; $dom_disk is
#                             its qcow2 image, $dom_console its console
#   vio 'CMD'                 qemu-io CMD through the guest device
#                             (virtio-disk0), so it passes the mirror
#   dom_image OUT             the domain's disk flushed, as raw OUT
#   attach_blank TARGET SIZE [FLAGS]
#                             a blank qcow2 $tmpdir/$dom-TARGET.qcow2
#                             attached to the running domain (virsh
#                             attach-disk FLAGS, default --live --config);
#   disk_device TARGET        its guest device: vdb is virtio-disk1
#   vio_dev DEVICE 'CMD'      qemu-io CMD through another guest device
#   disk_image TARGET OUT     an attached disk flushed, as raw OUT

requires virsh debugfs
root_dir=$(cd "$e2e_dir/../.." && pwd)
"$root_dir/scripts/start-libvirtd" >/dev/null 2>&1 ||
    fail "libvirtd is not running and scripts/start-libvirtd could not start it"
export LIBVIRT_DEFAULT_URI=qemu:///system
# QEMU runs as libvirt-qemu: it must reach the disk and cdp's socket.
chmod 0711 "$tmpdir"
dom=cdp-e2e-${tmpdir##*-}
dom_disk=$tmpdir/$dom.qcow2
dom_console=$tmpdir/$dom.console

libvirt_cleanup ()
{
    local status=$?
    virsh destroy "$dom" >/dev/null 2>&1
    virsh undefine "$dom" >/dev/null 2>&1
    if [ "$status" -ne 0 ] && [ -s "$dom_console" ]; then
        echo "--- guest console (last 10 lines)" >&2
        tail -n 10 "$dom_console" >&2
    fi
    set +e
    (exit "$status")
    cleanup
}
trap libvirt_cleanup EXIT

define_domain ()
{
    local kind=--guest size= paused=
    while [ $# -gt 0 ]; do
        case $1 in
        --blank) kind=--blank; size=$2; shift ;;
        --guest) kind=--guest ;;
        --paused) paused=--paused ;;
        esac
        shift
    done
    "$root_dir/scripts/make-vm" "$tmpdir" "$dom" $kind $size >/dev/null
    virsh define "$tmpdir/$dom.xml" >/dev/null
    virsh start $paused "$dom" >/dev/null
}

vio ()
{
    vio_dev virtio-disk0 "$1"
}

vio_dev ()
{
    local reply
    reply=$(virsh qemu-monitor-command "$dom" --hmp \
                "qemu-io -d $1/virtio-backend \"$2\"")
    [ -z "$(echo "$reply" | tr -d '[:space:]')" ] || fail "qemu-io '$2': $reply"
}

attach_blank ()
{
    local target=$1 size=$2 img=$tmpdir/$dom-$1.qcow2 flags
    shift 2
    flags=("$@")
    [ ${#flags[@]} -gt 0 ] || flags=(--live --config)
    qemu-img create -q -f qcow2 "$img" "$size"
    chmod 0666 "$img"
    virsh attach-disk "$dom" "$img" "$target" --driver qemu --subdriver qcow2 \
        "${flags[@]}" >/dev/null
}

# libvirt names a virtio disk's device after its target: vdb is virtio-disk1.
disk_device ()
{
    echo "virtio-disk$(( $(printf '%d' "'${1:2:1}") - 97 ))"
}

disk_image ()
{
    vio_dev "$(disk_device "$1")" flush
    qemu-img convert -U -f qcow2 -O raw "$tmpdir/$dom-$1.qcow2" "$2"
}

dom_image ()
{
    vio flush
    qemu-img convert -U -f qcow2 -O raw "$dom_disk" "$1"
}

