#!/usr/bin/env bats
# Rootful Podman drives unc as its OCI runtime (oci/): storage of this
# file's own (--root, --runroot), an image imported from $ROOTFS.

load ../helpers

setup_file() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    command -v podman >/dev/null || skip "needs Debian's podman (build.sh's TEST_DEBS)"
    PODMAN_DIR=$(mktemp -d /tmp/unc-podman-root.XXXXXX)
    export PODMAN_DIR
    tar -C "$ROOTFS" -cf "$PODMAN_DIR/rootfs.tar" .
    pdr import -q "$PODMAN_DIR/rootfs.tar" unc-busybox >/dev/null 2>&1
}

teardown_file() {
    [ -n "${PODMAN_DIR:-}" ] || return 0
    pdr rm -af -t 0 >/dev/null 2>&1 || true
    pdr rmi -af >/dev/null 2>&1 || true
    rm -rf "$PODMAN_DIR"
}

pdr() {
    podman --root "$PODMAN_DIR/storage" --runroot "$PODMAN_DIR/run" --cgroup-manager cgroupfs \
        --events-backend file --runtime "$UNC" "$@"
}

@test "as root: podman run --rm with every id, its netns joined, its pids limit, its exit status" {
    # Podman's default nofile and nproc limits would raise the hard limits
    # the suite runs with where it lacks CAP_SYS_RESOURCE: asked for lower
    # ones. Its default pids limit (2048) goes into a cgroup of the pids
    # controller (oci/cgroups.py).
    run -0 --separate-stderr pdr run --rm --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
        unc-busybox sh -c 'echo $$; cat /proc/self/uid_map; p=$(sed -n "s/^[0-9]*:pids://p" /proc/self/cgroup); cat /sys/fs/cgroup/pids$p/pids.max 2>/dev/null || cat /sys/fs/cgroup$(sed -n "s/^0:://p" /proc/self/cgroup)/pids.max'
    assert_line --index 0 "1"
    assert_line --index 1 --regexp '^ +0 +0 +4294967295$'
    assert_line --index 2 "2048"
    run -4 --separate-stderr pdr run --rm --pids-limit=-1 --ulimit nofile=1024:1024 \
        --ulimit nproc=1024:1024 unc-busybox sh -c 'exit 4'
    # No state of these containers is left (others may run their own).
    ! grep -qs "$PODMAN_DIR" /run/unc-oci/*/state.json
    [ -z "$(ls -d /sys/fs/cgroup/pids/libpod_parent/libpod-* 2>/dev/null)" ]
}
