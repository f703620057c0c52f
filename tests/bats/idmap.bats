#!/usr/bin/env bats
# Stage user_pid's id maps (issue 12): --map-auto (the caller at inner 0, its
# first range of /etc/subuid and /etc/subgid at 1..COUNT, written by
# newuidmap/newgidmap), --map-users/--map-groups INNER:OUTER:COUNT,
# --map-user/--map-group (the inner id the caller becomes), setgroups under
# each, and how each refusal reads: status 125, one line "unc: ...".
#
# Runs as the unprivileged test user, whose ranges are read from
# /etc/subuid and /etc/subgid (tests/run gives unc-test one; Debian's
# useradd picks it, such as 100000:65536). Inner id N >= 1 is host id
# START+N-1: inner 1234 is host 301233 for a range starting at 300000.
# Failures only root can stage (no range, newuidmap missing or without its
# setuid bit) are in root/idmap_root.bats.

load helpers
load identity_helpers

setup() {
    require_unprivileged
    require_subids
    setup_scratch
}

# Files chowned inside belong to subordinate ids on the host.
teardown() { teardown_scratch_mapped; }

# Fail unless this user has one range in each file: the tests that ask for
# an id just past it assume no other range of theirs follows.
require_one_range() {
    [ "$(subid_ranges /etc/subuid)" -eq 1 ] && [ "$(subid_ranges /etc/subgid)" -eq 1 ] \
        || skip "assumes one range for $(id -un) in /etc/subuid and /etc/subgid"
}

@test "host ids of inner ids: START+N-1 (the arithmetic the other tests use)" {
    SUBUID_START=300000 SUBGID_START=300000
    assert_equal "$(host_uid 1)" 300000
    assert_equal "$(host_uid 1234)" 301233
    assert_equal "$(host_gid 65536)" 365535
}

@test "--map-auto: uid_map and gid_map are '0 YOU 1' and '1 START COUNT'" {
    for stage in user_pid net; do
        run -0 "$UNC" --stage=$stage --map-auto cat /proc/self/uid_map /proc/self/gid_map
        assert_equal "${#lines[@]}" 4
        assert_line --index 0 --regexp "^ +0 +$(id -u) +1$"
        assert_line --index 1 --regexp "^ +1 +$SUBUID_START +$SUBUID_COUNT$"
        assert_line --index 2 --regexp "^ +0 +$(id -g) +1$"
        assert_line --index 3 --regexp "^ +1 +$SUBGID_START +$SUBGID_COUNT$"
    done
    run -0 "$UNC" --map-auto id -u
    assert_output 0
}

@test "--map-auto --trace: the maps go through newuidmap and newgidmap" {
    run -0 --separate-stderr "$UNC" --map-auto --trace true
    grep -qE "newuidmap [0-9]+ 0 $(id -u) 1 1 $SUBUID_START $SUBUID_COUNT\$" <<<"$stderr" \
        || fail "no newuidmap line in: $stderr"
    grep -qE "newgidmap [0-9]+ 0 $(id -g) 1 1 $SUBGID_START $SUBGID_COUNT\$" <<<"$stderr" \
        || fail "no newgidmap line in: $stderr"
    # Nor does unc write them itself, nor deny setgroups.
    [[ "$stderr" != *'/uid_map "'* ]]
    [[ "$stderr" != *'/setgroups "deny"'* ]]
}

@test "--map-auto: chown 1234 is 1234 inside and START+1233 on the host; removed through the same map" {
    run -0 "$UNC" --map-auto --rootfs "$ROOTFS" -v "$SCRATCH:/mnt" sh -c \
        'mkdir /mnt/d && echo x > /mnt/d/f && chown -R 1234:1234 /mnt/d && stat -c %u:%g /mnt/d/f'
    assert_output "1234:1234"
    assert_equal "$(stat -c %u:%g "$SCRATCH/d/f")" "$(host_uid 1234):$(host_gid 1234)"
    assert_equal "$(stat -c %u:%g "$SCRATCH/d")" "$(host_uid 1234):$(host_gid 1234)"
    # The caller cannot remove them: d is another (subordinate) user's.
    run ! rm -rf "$SCRATCH/d"
    [ -e "$SCRATCH/d/f" ]
    # A user namespace with the same map can.
    run -0 "$UNC" --stage=user_pid --map-auto rm -rf "$SCRATCH/d"
    [ ! -e "$SCRATCH/d" ]
}

@test "--map-auto: setgroups is allowed and setgroups(2) works; a plain run denies both" {
    probe='import os
try:
    os.setgroups([1234, 5])
    print(sorted(os.getgroups()))
except PermissionError:
    print("EPERM")'
    run -0 "$UNC" --map-auto sh -c 'cat /proc/self/setgroups; "$0" -c "$1"' "$PYTHON" "$probe"
    assert_output $'allow\n[5, 1234]'
    run -0 "$UNC" sh -c 'cat /proc/self/setgroups; "$0" -c "$1"' "$PYTHON" "$probe"
    assert_output $'deny\nEPERM'
}

@test "--map-auto: busybox su switches to nobody (initgroups, setgid, setuid)" {
    run -0 "$UNC" --map-auto --rootfs "$ROOTFS" su -s /bin/sh -c 'id -u; id -g; id -G' nobody
    assert_output $'65534\n65534\n65534'
}

@test "--map-users and --map-groups: exactly the ranges given" {
    uid=$(id -u) gid=$(id -g)
    run -0 "$UNC" --map-users=0:$uid:1 --map-users=1000:$((SUBUID_START + 10)):100 \
        --map-groups=0:$gid:1 --map-groups=1000:$((SUBGID_START + 20)):100 \
        --rootfs "$ROOTFS" -v "$SCRATCH:/mnt" \
        sh -c 'cat /proc/self/uid_map /proc/self/gid_map; touch /mnt/f; chown 1005:1005 /mnt/f'
    assert_equal "${#lines[@]}" 4
    assert_line --index 0 --regexp "^ +0 +$uid +1$"
    assert_line --index 1 --regexp "^ +1000 +$((SUBUID_START + 10)) +100$"
    assert_line --index 2 --regexp "^ +0 +$gid +1$"
    assert_line --index 3 --regexp "^ +1000 +$((SUBGID_START + 20)) +100$"
    # Inner 1005 is the 6th id of a range that starts at START+10.
    assert_equal "$(stat -c %u:%g "$SCRATCH/f")" "$((SUBUID_START + 15)):$((SUBGID_START + 25))"
}

@test "--map-groups alone: the uid map stays the one line" {
    run -0 "$UNC" --map-groups=0:$(id -g):1 --map-groups=1:$SUBGID_START:10 \
        cat /proc/self/uid_map /proc/self/gid_map
    assert_equal "${#lines[@]}" 3
    assert_line --index 0 --regexp "^ +0 +$(id -u) +1$"
    assert_line --index 1 --regexp "^ +0 +$(id -g) +1$"
    assert_line --index 2 --regexp "^ +1 +$SUBGID_START +10$"
}

@test "--map-users: the whole subordinate range fits; one id past it is refused (125, names /etc/subuid)" {
    require_one_range
    uid=$(id -u)
    run -0 "$UNC" --map-users=0:$uid:1 --map-users=1:$SUBUID_START:$SUBUID_COUNT true
    run -125 --separate-stderr "$UNC" --map-users=0:$uid:1 \
        --map-users=1:$SUBUID_START:$((SUBUID_COUNT + 1)) true
    assert_unc_error /etc/subuid
    run -125 --separate-stderr "$UNC" --map-users=1:$((SUBUID_START + SUBUID_COUNT)):1 true
    assert_unc_error /etc/subuid
    # The own id may be mapped once, not with its neighbour.
    run -125 --separate-stderr "$UNC" --map-users=0:$uid:2 true
    assert_unc_error /etc/subuid
    run -125 --separate-stderr "$UNC" --map-groups=0:$(id -g):1 \
        --map-groups=1:$((SUBGID_START + SUBGID_COUNT)):1 true
    assert_unc_error /etc/subgid
}

@test "--map-users/--map-groups: overlapping ranges are refused (125, one line)" {
    # Inside: inner 0 twice.
    run -125 --separate-stderr "$UNC" --map-users=0:$(id -u):1 --map-users=0:$SUBUID_START:10 true
    assert_unc_error overlap
    # On the host: START+5..START+9 twice.
    run -125 --separate-stderr "$UNC" --map-users=0:$SUBUID_START:10 \
        --map-users=100:$((SUBUID_START + 5)):10 true
    assert_unc_error overlap
    run -125 --separate-stderr "$UNC" --map-groups=0:$(id -g):1 --map-groups=0:$SUBGID_START:1 true
    assert_unc_error overlap
}

@test "--map-users/--map-groups: a COUNT of 0 and values that are not INNER:OUTER:COUNT (125, one line)" {
    run -125 --separate-stderr "$UNC" --map-users=1:$SUBUID_START:0 true
    assert_unc_error "1:$SUBUID_START:0" COUNT
    run -125 --separate-stderr "$UNC" --map-groups=1:$SUBGID_START:0 true
    assert_unc_error "1:$SUBGID_START:0" COUNT
    for spec in a:b:c 1:2 1:2:3:4 -1:$SUBUID_START:1 +1:$SUBUID_START:1 1:$SUBUID_START: \
            1:$SUBUID_START:1x " 1:$SUBUID_START:1" ""; do
        run -125 --separate-stderr "$UNC" "--map-users=$spec" true
        assert_unc_error INNER:OUTER:COUNT
        run -125 --separate-stderr "$UNC" "--map-groups=$spec" true
        assert_unc_error INNER:OUTER:COUNT
    done
    # Ids are below 4294967295 ((u32)-1, the kernel's "no id").
    run -125 --separate-stderr "$UNC" --map-users=4294967290:$SUBUID_START:10 true
    assert_unc_error "largest id"
}

@test "--map-user/--map-group: not a number, or too large (125, one line)" {
    for value in abc -1 +1 1.5 ""; do
        run -125 --separate-stderr "$UNC" "--map-user=$value" true
        assert_unc_error "expected a number"
        run -125 --separate-stderr "$UNC" "--map-group=$value" true
        assert_unc_error "expected a number"
    done
    run -125 --separate-stderr "$UNC" --map-user=4294967295 true
    assert_unc_error "largest id"
}

@test "--map-user=1000: id -u is 1000, files on a volume are the caller's on the host" {
    run -0 "$UNC" --map-user=1000 --rootfs "$ROOTFS" -v "$SCRATCH:/mnt" sh -c 'id -u; touch /mnt/f'
    assert_output 1000
    assert_equal "$(stat -c %u:%g "$SCRATCH/f")" "$(id -u):$(id -g)"
}

@test "--map-user=1000 implies --map-auto: 0 and the rest come from the subordinate range" {
    run -0 "$UNC" --map-user=1000 cat /proc/self/uid_map
    assert_equal "${#lines[@]}" 3
    assert_line --regexp "^ +0 +$SUBUID_START +1000$"
    assert_line --regexp "^ +1000 +$(id -u) +1$"
    assert_line --regexp "^ +1001 +$((SUBUID_START + 1000)) +$((SUBUID_COUNT - 1000))$"
}

@test "--map-user=1000 --map-group=1000: id -u and id -g are 1000" {
    run -0 "$UNC" --map-user=1000 --map-group=1000 --rootfs "$ROOTFS" -v "$SCRATCH:/mnt" \
        sh -c 'id -u; id -g; touch /mnt/f'
    assert_output $'1000\n1000'
    assert_equal "$(stat -c %u:%g "$SCRATCH/f")" "$(id -u):$(id -g)"
}

@test "--map-user with --map-users that leave inner 0 unmapped is refused (125)" {
    run -125 --separate-stderr "$UNC" --map-user=1000 --map-users=1:$SUBUID_START:10 true
    assert_unc_error "--map-user=1000" root
}

@test "a newuidmap that fails: its stderr, on one line, after 'unc: ' (125)" {
    # idmap.find_helper looks on PATH first: this fake is found before the real one.
    mkdir "$SCRATCH/bin"
    cat > "$SCRATCH/bin/newuidmap" <<'EOF'
#!/bin/sh
echo "newuidmap: the fake helper of idmap.bats refuses" >&2
echo "newuidmap: and says a second line" >&2
exit 1
EOF
    chmod 755 "$SCRATCH/bin/newuidmap"
    run -125 --separate-stderr env PATH="$SCRATCH/bin:$PATH" "$UNC" --map-auto true
    assert_unc_error newuidmap "the fake helper of idmap.bats refuses" "and says a second line"
}

@test "a newgidmap that says 'not allowed': the message names /etc/subgid (125)" {
    mkdir "$SCRATCH/bin"
    cat > "$SCRATCH/bin/newgidmap" <<EOF
#!/bin/sh
echo "newgidmap: gid range [1-$((SUBGID_COUNT + 1))) -> [$SUBGID_START-$((SUBGID_START + SUBGID_COUNT))) not allowed" >&2
exit 1
EOF
    chmod 755 "$SCRATCH/bin/newgidmap"
    run -125 --separate-stderr env PATH="$SCRATCH/bin:$PATH" "$UNC" --map-auto true
    assert_unc_error newgidmap "not allowed" /etc/subgid
}

# Not staged here: AppArmor's kernel.apparmor_restrict_unprivileged_userns=1
# (Ubuntu 23.10+) makes the kernel refuse the maps; Debian's kernel has no
# such sysctl, and faking its refusal would test the fake. Its message is
# checked by tests/unit/test_identity_idmap.py.
