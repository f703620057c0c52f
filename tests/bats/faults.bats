#!/usr/bin/env bats
# Faults and load (issue 14): unc SIGKILLed at random moments of its setup,
# many containers at once, and hosts that refuse it something (a full
# filesystem, a read-only cache, a root without /bin/sh, a noexec root).
# Each ends in unc's exit status contract and leaves nothing behind. These
# are the short forms; tests/soak runs the long ones (README, "Tests").

load helpers
load leaks

setup() { setup_scratch; }
teardown() { teardown_scratch; }

# ------------------------------------------------------------ SIGKILL

@test "SIGKILL of unc at random moments of its setup, 100 times: no process, mount or file is left" {
    leaks_begin "$SCRATCH"
    kill_loop 100 --rootfs "$ROOTFS"
    leaks_end "sleep 51031"
}

@test "SIGKILL of unc with --net=slirp4netns, 50 times: no container, slirp4netns or file is left" {
    command -v slirp4netns >/dev/null || skip "slirp4netns is not installed"
    leaks_begin "$SCRATCH"
    kill_loop 50 --rootfs "$ROOTFS" --net=slirp4netns
    leaks_end "sleep 51031"
}

# ------------------------------------------------------------ load

@test "50 containers at once, twice (--net=none): each exits with its own status, nothing leaks" {
    leaks_begin "$SCRATCH"
    load_round 50 --rootfs "$ROOTFS"
    load_round 50 --rootfs "$ROOTFS" --init
    leaks_end unc-load-51032
}

@test "50 containers at once with --net=slirp4netns: each exits with its own status, nothing leaks" {
    command -v slirp4netns >/dev/null || skip "slirp4netns is not installed"
    leaks_begin "$SCRATCH"
    load_round 50 --rootfs "$ROOTFS" --net=slirp4netns
    leaks_end unc-load-51032
}

# ------------------------------------------------------------ hosts that refuse

# in_own_mounts SCRIPT ARG...: run SCRIPT (ARGs as $0, $1...) with sh as root of a user and
# mount namespace of its own (the test user outside), where it may mount a
# tiny tmpfs or a read-only bind only unc sees.
in_own_mounts() {
    PATH=$PATH:/usr/sbin:/sbin unshare -Urm --propagation private sh -c "$@"
}

@test "a full cache filesystem: the first start says so (125, one line) and leaves no partial unpacking" {
    run -125 --separate-stderr in_own_mounts '
        mount -t tmpfs -o size=2m tmpfs "$0" && mkdir -m 700 "$0/c" &&
        UNC_CACHE_DIR="$0/c" "$1" true; status=$?; ls -A "$0/c" >&2; exit $status' "$SCRATCH" "$UNC"
    assert_equal "${#stderr_lines[@]}" 1
    assert_regex "$stderr" '^unc: cannot start from UNC_CACHE_DIR: cannot unpack .*: No space left on device'
}

@test "a read-only cache: empty, 125 and one line; holding the unpacked build, unc runs" {
    mkdir -m 700 "$SCRATCH/cache"
    run -125 --separate-stderr in_own_mounts '
        mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" &&
        UNC_CACHE_DIR="$0" "$1" true' "$SCRATCH/cache" "$UNC"
    assert_equal "${#stderr_lines[@]}" 1
    assert_regex "$stderr" '^unc: cannot start from UNC_CACHE_DIR: .*Read-only file system'
    UNC_CACHE_DIR=$SCRATCH/cache "$UNC" --stage=user_pid true
    run -0 in_own_mounts '
        mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" &&
        UNC_CACHE_DIR="$0" "$1" --rootfs "$2" echo ran' "$SCRATCH/cache" "$UNC" "$ROOTFS"
    assert_output ran
}

@test "a full image store: unc import says so (125, one line) and keeps nothing of the image" {
    tar -C "$ROOTFS" -czf "$SCRATCH/root.tar.gz" .
    run -125 --separate-stderr in_own_mounts '
        mkdir "$0/data" && mount -t tmpfs -o size=300k tmpfs "$0/data" || exit 99
        XDG_DATA_HOME="$0/data" "$1" import "$0/root.tar.gz" busybox; status=$?
        XDG_DATA_HOME="$0/data" "$1" images -q >&2; find "$0/data" -type f ! -name "*lock" >&2
        exit $status' "$SCRATCH" "$UNC"
    assert_equal "${#stderr_lines[@]}" 1
    assert_regex "$stderr" '^unc: .*No space left on device.*nothing of it was kept$'
}

@test "a rootfs without /bin/sh and no COMMAND: 127 and one line that says to give one" {
    cp -a "$ROOTFS" "$SCRATCH/root"
    rm "$SCRATCH/root/bin/sh"
    SHELL= run -127 --separate-stderr "$UNC" --rootfs "$SCRATCH/root"
    assert_equal "$stderr" "unc: /bin/sh: command not found in the container; no COMMAND was given and the container has no shell to run instead: give one"
}

@test "a rootfs on a noexec mount: 126 and one line that names noexec" {
    run -126 --separate-stderr in_own_mounts '
        mount -t tmpfs -o noexec tmpfs "$0" && cp -a "$2/." "$0/" && "$1" --rootfs "$0" true' \
        "$SCRATCH" "$UNC" "$ROOTFS"
    assert_equal "$stderr" "unc: true: cannot execute: Permission denied (the filesystem holding it is mounted noexec: put the root filesystem or the program on one that allows executing programs)"
}
