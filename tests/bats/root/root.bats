#!/usr/bin/env bats
# What unc does when root runs it.

load ../helpers

@test "root maps 0 to 0" {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    run -0 "$UNC" --stage=user_pid cat /proc/self/uid_map
    assert_output --regexp '^ +0 +0 +1$'
    run -0 "$UNC" --stage=user_pid sh -c 'echo $$'
    assert_output "1"
}

@test "as root, the host stays read-only without --rootfs" {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    run -1 "$UNC" touch /usr/unc-test-root-write
    assert_output --partial "Read-only file system"
    [ ! -e /usr/unc-test-root-write ]
}

@test "as root, --rootfs works and host files stay invisible" {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    run -0 "$UNC" --rootfs "$ROOTFS" sh -c 'cat /etc/rootfs-marker; ls /proc | grep -c "^[0-9]"'
    assert_line --index 0 "only in the test rootfs"
    [ "${lines[1]}" -le 3 ]
    run -1 "$UNC" --rootfs "$ROOTFS" cat /etc/shadow
}
