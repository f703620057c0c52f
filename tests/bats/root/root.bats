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

@test "a user's unc check fails (1) and names a /dev/net/tun of mode 0600 (no udev)" {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    id unc-test >/dev/null 2>&1 || skip "needs the user unc-test that tests/run creates"
    # A private mount namespace with its own 0600 tun node: the host's stays as it is.
    run -0 unshare -m sh -c '
        mount --make-rprivate / && mount -t tmpfs tmpfs /dev/net &&
        mknod -m 600 /dev/net/tun c 10 200 && cd / || exit 99
        runuser -u unc-test -- "$0" check
        echo "status $?"' "$UNC"
    assert_line --index 2 "mount     ok"
    assert_line --index 3 "net       FAILED: -p, --net=pasta and --net=slirp4netns cannot work here, only --net=none: --net=pasta needs /dev/net/tun, which you may not open (it is mode 0600); as root, run chmod 666 /dev/net/tun, as Debian's udev rules do on an ordinary host; --net=slirp4netns needs it too"
    assert_line --index 4 "harden    ok"
    assert_line --index 9 "tun       /dev/net/tun, which you may not open (it is mode 0600); as root, run chmod 666 /dev/net/tun, as Debian's udev rules do on an ordinary host"
    assert_line --index 14 "status 1"
    [ "$(stat -c %a /dev/net/tun)" != 600 ]
}
