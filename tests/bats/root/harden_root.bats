#!/usr/bin/env bats
# Stage harden when root runs unc: the same defaults hold for a container of
# the host's root (uid 0 mapped to 0), where each one matters most.

load ../helpers
load ../harden_helpers

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    setup_scratch
}
teardown() { teardown_scratch; }

@test "root: NoNewPrivs 1, Docker's 14 capabilities, a filter; --privileged: all of them" {
    run -0 "$UNC" --rootfs "$ROOTFS" grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status
    assert_output $'CapEff:\t'"$DEFAULT_CAPS"$'\nCapBnd:\t'"$DEFAULT_CAPS"$'\nNoNewPrivs:\t1\nSeccomp:\t2'
    run -0 "$UNC" --privileged --rootfs "$ROOTFS" grep -E '^(CapEff|NoNewPrivs):' /proc/self/status
    assert_output $'CapEff:\t'"$(all_caps)"$'\nNoNewPrivs:\t0'
}

@test "root: the refused calls are refused" {
    helper_root
    run -0 "$UNC" --rootfs "$SCRATCH/rootfs" syscalls $REFUSED getpid
    assert_refused
}

@test "root: an inherited fd of the host's / does not reach the command" {
    run -1 bash -c '"$0" --rootfs "$1" cat /proc/self/fd/7/etc/hostname 7</' "$UNC" "$ROOTFS"
    run -0 bash -c '"$0" --preserve-fds=5 --rootfs "$1" cat /proc/self/fd/7/etc/hostname 7</' \
        "$UNC" "$ROOTFS"
    assert_output "$(cat /etc/hostname)"
}

@test "root: masked paths read empty, /proc/sys is read-only" {
    run -0 "$UNC" --rootfs "$ROOTFS" sh -c 'wc -c </proc/keys; wc -c </proc/timer_list
        (echo 1 >/proc/sys/kernel/ns_last_pid) 2>/dev/null || echo refused'
    assert_output $'0\n0\nrefused'
}

@test "root: --init's PID 1 cannot be reached through /proc/1/exe" {
    run -0 "$UNC" --init --rootfs "$ROOTFS" sh -c '
        readlink /proc/1/exe || echo readlink: refused
        cat /proc/1/exe >/dev/null 2>&1 || echo open: refused'
    assert_output $'readlink: refused\nopen: refused'
}
