#!/usr/bin/env bats
# Escape tests as root (issue 14): the container's root is then the host's
# uid 0 in a user namespace of its own, so only the namespaces, and not
# file ownership, stand between it and the host. The attacks are those of
# ../escape.bats (shared: escape_helpers.bash).

load ../helpers
load ../escape_helpers

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    escape_setup
}
teardown() { teardown_scratch; }

@test "as root, --init: /proc/1/exe cannot be followed, opened or handed out; unc's binary is unchanged" {
    before=$(unc_sums)
    exe_attack --init
    assert_line "1 O_WRONLY: refused (EACCES)"
    assert_line "1 O_PATH: refused (EACCES)"
    assert_line "no handle"
    refused_all
    assert_equal "$(unc_sums)" "$before"
}

@test "as root, unc's host process seen in the host's /proc: its exe, kill -9, ptrace and pidfds fail" {
    before=$(unc_sums)
    host_attack
    assert_equal "$(unc_sums)" "$before"
    outside_pid_ns mount
}

@test "as root, no path leads to the old root, and /etc/shadow stays out of reach" {
    cd "$SCRATCH"
    run -0 "$UNC" --rootfs "$ROOTFS" sh -c '
        pwd
        for p in /proc/self/cwd/../etc/shadow /proc/1/root/etc/shadow /../../../etc/shadow \
                 /proc/*/cwd/attack.py /proc/*/root/etc/shadow; do
            cat "$p" 2>/dev/null && echo "REACHED $p"
        done
        exit 0'
    assert_line --index 0 "/"
    refute_output --partial REACHED
    run -0 "$UNC" sh -c 'touch /etc/unc-escape 2>/dev/null && echo WROTE; exit 0'
    refute_output --partial WROTE
    [ ! -e /etc/unc-escape ]
}

@test "as root, a directory swapped for a symlink out of the root during setup sends no mount or directory outside" {
    cp -a "$ROOTFS" "$SCRATCH/root"
    symlink_race "$SCRATCH/root"
}

@test "as root, --read-only, -v :ro and the host's / cannot be made writable: remount and umount fail" {
    readonly_attack
}
