# Shared by every bats file: load bats-assert, name the binary under test.
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

: "${UNC:?UNC must name the unc binary under test (tests/run sets it)}"
: "${ROOTFS:?ROOTFS must name the busybox rootfs (tests/run sets it)}"

# A scratch directory of this test that the test user owns.
setup_scratch() {
    SCRATCH=$(mktemp -d "${BATS_TMPDIR:-/tmp}/unc-scratch.XXXXXX")
}

teardown_scratch() {
    if [ -n "${SCRATCH:-}" ]; then
        rm -rf "$SCRATCH"
    fi
}

# Skip with a reason unless this runs as an unprivileged user.
require_unprivileged() {
    [ "$(id -u)" -ne 0 ] || skip "needs an unprivileged user; tests/run runs this as unc-test"
}

# in_proc_namespace visible|covered COMMAND [ARG...]: run COMMAND as root of
# a user namespace of its own (the test user outside), in PID and mount
# namespaces of its own whose only procfs is a fresh one: the root is a
# tmpfs with the host's /usr, /etc, /bin... (whatever top-level directories
# hold programs), /dev, /sys and $HOME bound in, and the directory of $UNC
# on /mnt (so unc is /mnt/unc there). With "covered", a tmpfs covers that
# procfs's /proc/sys: no procfs is fully visible, and the kernel refuses
# unc a fresh /proc (mount_too_revealing), as inside many other containers.
# The procfs instances the host may have elsewhere (other runtimes leave
# them below /tmp or /var) stay out: each would let the kernel allow one.
in_proc_namespace() {
    local how=$1; shift
    local dir status=0
    dir=$(mktemp -d /tmp/unc-procns.XXXXXX)
    PATH=$PATH:/usr/sbin:/sbin unshare -Urmpf --propagation private sh -c '
        set -e
        dir=$1 how=$2 bin=$3; shift 3
        mount -t tmpfs -o mode=755 tmpfs "$dir"
        cd "$dir"
        for entry in /*; do
            name=${entry#/}
            if [ -L "$entry" ]; then
                ln -s "$(readlink "$entry")" "$name"
            elif [ -d "$entry" ]; then
                mkdir "$name"
                case $name in
                    proc|sys|dev|tmp|run|var|home|mnt|media|srv|opt|root|lost+found) ;;
                    *) mount --rbind "$entry" "$name" ;;
                esac
            fi
        done
        chmod 1777 tmp
        mount --rbind /dev dev
        mount --rbind /sys sys
        mount -t proc -o nosuid,nodev,noexec proc proc
        mount --bind "$bin" mnt
        mkdir -p "./$HOME"
        mount --rbind "$HOME" "./$HOME"
        if [ "$how" = covered ]; then
            mount -t tmpfs tmpfs proc/sys
        fi
        pivot_root . .
        umount -l .
        cd /
        if [ "$(grep -c " - proc " /proc/self/mountinfo)" != 1 ]; then
            echo "in_proc_namespace: a procfs of the host came along" >&2
            exit 98
        fi
        exec "$@"
    ' in_proc_namespace "$dir" "$how" "$(dirname "$UNC")" "$@" || status=$?
    rmdir "$dir"
    return "$status"
}
