#!/usr/bin/env bats
# Id maps that need root to stage (issue 12). Root writes any map itself,
# without newuidmap. And the refusals of an unprivileged user's --map-auto
# whose cause only root can produce: no range in /etc/subuid or /etc/subgid,
# newuidmap missing, newuidmap without its setuid bit or on a nosuid mount.
# Each runs unc as the test user inside a private mount namespace (unshare
# -m) where root first bound a file over /etc/subuid or /usr/bin/newuidmap:
# the host's own files stay as they are.
#
# Not staged: AppArmor's kernel.apparmor_restrict_unprivileged_userns=1
# (Ubuntu 23.10+): Debian's kernel has no such sysctl and a faked refusal
# would test the fake. tests/unit/test_identity_idmap.py checks its message.

load ../helpers
load ../identity_helpers

TEST_USER=unc-test

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    id "$TEST_USER" >/dev/null 2>&1 || skip "needs the user $TEST_USER (tests/run creates it)"
    setup_scratch
    chmod 755 "$SCRATCH"
    export SCRATCH
}

teardown() { teardown_scratch; }

# unc_as_test_user SETUP ARG...: "$UNC" ARG... as the test user, in a
# private mount namespace where root first ran the shell code SETUP.
unc_as_test_user() {
    local setup=$1; shift
    unshare -m --propagation private sh -ec "$setup"'
exec runuser -u "$0" -- "$@"' "$TEST_USER" "$UNC" "$@"
}

@test "root: --map-users/--map-groups are written directly, without newuidmap; setgroups stays allow" {
    run -0 --separate-stderr "$UNC" --trace --map-users=0:0:1 --map-users=1:400000:1000 \
        --map-groups=0:0:1 --map-groups=1:400000:1000 \
        cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups
    assert_line --index 0 --regexp "^ +0 +0 +1$"
    assert_line --index 1 --regexp "^ +1 +400000 +1000$"
    assert_line --index 2 --regexp "^ +0 +0 +1$"
    assert_line --index 3 --regexp "^ +1 +400000 +1000$"
    assert_line --index 4 "allow"
    [[ "$stderr" == *'/uid_map "0 0 1\n1 400000 1000"'* ]] || fail "no uid_map write in: $stderr"
    [[ "$stderr" == *'/gid_map "0 0 1\n1 400000 1000"'* ]] || fail "no gid_map write in: $stderr"
    [[ "$stderr" != *newuidmap* && "$stderr" != *newgidmap* ]]
}

@test "root: --map-auto takes root's range from /etc/subuid and writes it directly" {
    printf 'root:400000:65536\n' > "$SCRATCH/subid"
    run -0 --separate-stderr unshare -m --propagation private sh -ec '
        mount --bind "$SCRATCH/subid" /etc/subuid
        mount --bind "$SCRATCH/subid" /etc/subgid
        exec "$0" --map-auto --trace cat /proc/self/uid_map /proc/self/gid_map' "$UNC"
    assert_line --index 0 --regexp "^ +0 +0 +1$"
    assert_line --index 1 --regexp "^ +1 +400000 +65536$"
    assert_line --index 2 --regexp "^ +0 +0 +1$"
    assert_line --index 3 --regexp "^ +1 +400000 +65536$"
    [[ "$stderr" == *'/uid_map "0 0 1\n1 400000 65536"'* ]] || fail "no uid_map write in: $stderr"
    [[ "$stderr" != *newuidmap* ]]
}

@test "no range for the user in /etc/subuid: 125, names the file and the usermod that adds one" {
    : > "$SCRATCH/empty"
    run -125 --separate-stderr unc_as_test_user \
        'mount --bind "$SCRATCH/empty" /etc/subuid' --map-auto true
    assert_unc_error /etc/subuid "$TEST_USER" "usermod --add-subuids"
}

@test "no range for the user in /etc/subgid: 125, names /etc/subgid" {
    : > "$SCRATCH/empty"
    run -125 --separate-stderr unc_as_test_user \
        'mount --bind "$SCRATCH/empty" /etc/subgid' --map-auto true
    assert_unc_error /etc/subgid "$TEST_USER"
}

@test "a range that holds only the user's own id: 125, names /etc/subuid" {
    echo "$TEST_USER:$(id -u "$TEST_USER"):1" > "$SCRATCH/own-only"
    run -125 --separate-stderr unc_as_test_user \
        'mount --bind "$SCRATCH/own-only" /etc/subuid' --map-auto true
    assert_unc_error /etc/subuid
}

@test "newuidmap missing: 125, names newuidmap and the Debian package uidmap" {
    # An empty file that is not executable where newuidmap was: the finder
    # takes only executable files (/bin is /usr/bin on Debian 12).
    [ -e /usr/bin/newuidmap ] || skip "newuidmap is not in /usr/bin here"
    : > "$SCRATCH/not-a-program"
    chmod 644 "$SCRATCH/not-a-program"
    run -125 --separate-stderr unc_as_test_user '
        for d in /usr/bin /usr/sbin /sbin /bin /usr/local/bin /usr/local/sbin; do
            [ -e "$d/newuidmap" ] && mount --bind "$SCRATCH/not-a-program" "$d/newuidmap"
        done
        true' --map-auto true
    assert_unc_error newuidmap uidmap
}

@test "newuidmap without its setuid bit: 125, says so" {
    [ -e /usr/bin/newuidmap ] || skip "newuidmap is not in /usr/bin here"
    cp /usr/bin/newuidmap "$SCRATCH/newuidmap"
    chmod 0755 "$SCRATCH/newuidmap"
    run -125 --separate-stderr unc_as_test_user \
        'mount --bind "$SCRATCH/newuidmap" /usr/bin/newuidmap' --map-auto true
    assert_unc_error newuidmap setuid
}

@test "newuidmap on a nosuid mount: 125, says nosuid" {
    [ -e /usr/bin/newuidmap ] || skip "newuidmap is not in /usr/bin here"
    run -125 --separate-stderr unc_as_test_user '
        mount --bind /usr/bin/newuidmap /usr/bin/newuidmap
        mount -o remount,bind,nosuid /usr/bin/newuidmap' --map-auto true
    assert_unc_error newuidmap nosuid
}

@test "the staging itself: in the private namespace the user sees the bound files" {
    # Checks the mechanism the tests above rely on, with the current binary's
    # plain run: /etc/subuid is empty for the user, the host's is not.
    : > "$SCRATCH/empty"
    run -0 unshare -m --propagation private sh -ec '
        mount --bind "$SCRATCH/empty" /etc/subuid
        exec runuser -u "$0" -- sh -c "wc -c < /etc/subuid; id -un"' "$TEST_USER"
    assert_output $'0\n'"$TEST_USER"
    [ -s /etc/subuid ]
}

# A program that expects root: CPython's own tests of chown, setgroups,
# initgroups and subprocess(user=..., group=...) pass as root on the host.
# They run from the host's / (read-only inside), Debian's test package.
test_posix() {
    /usr/bin/python3 -c 'import test.test_posix' 2>/dev/null \
        || skip "CPython's test package is missing (Debian libpython3.11-testsuite; build.sh installs it)"
    (cd /tmp && "$@" /usr/bin/python3 -m test -v test_posix 2>&1)
}

@test "CPython's test_posix: as root on the host, and inside with every id mapped, the same" {
    run -0 test_posix
    host=$(grep -cE '\.\.\. ok$' <<<"$output")
    # --privileged: this compares the id maps with the host, not the
    # hardening (whose refused calls some of these tests make).
    run -0 test_posix "$UNC" --privileged --map-users=0:0:4294967295 --map-groups=0:0:4294967295
    assert_line "Tests result: SUCCESS"
    assert_equal "$(grep -cE '\.\.\. ok$' <<<"$output")" "$host"
}

@test "CPython's test_posix as the test user with --map-auto: as root, but for ids beyond its range" {
    run -0 test_posix
    host=$(grep -cE '\.\.\. ok$' <<<"$output")
    run test_posix runuser -u "$TEST_USER" -- "$UNC" --privileged --map-auto
    # setgroups, initgroups, chown to ids of the range all work; only a
    # chown to 2**31, which no 65536-id range holds, is refused (EINVAL),
    # as under rootless Podman.
    failed=$(grep -E '\.\.\. (ERROR|FAIL)$' <<<"$output" | sed 's/ (.*//' | sort | tr '\n' ' ')
    assert_equal "$failed" "test_chown test_fchown test_lchown "
    assert_equal "$(grep -c 'chown_func(first_param, big_value, big_value)' <<<"$output")" 3
    assert_equal "$(grep -cE '\.\.\. ok$' <<<"$output")" "$((host - 3))"
}
