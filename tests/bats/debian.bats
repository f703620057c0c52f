#!/usr/bin/env bats
# A real distribution in the container (issue 12): a Debian 12 minbase root
# whose owners are shifted for this user's --map-auto (tests/mkdebian
# --map-to), where useradd, su, dpkg and apt's _apt sandbox need the
# subordinate ids and setgroups(2); and a local apt repository
# (tests/mkdebrepo) bound read-only on /repo. No network beyond loopback:
# --net=none, the default, said where apt runs.
#
# All tests share the one $DEBIAN that tests/run built for this run: a copy
# per test would be 175 MB and seconds each, and --tmpfs cannot stand in
# for /etc or /var/lib/dpkg, which useradd and dpkg must change. So a test
# that writes into it undoes its work in the same container, and teardown
# undoes it again for a test that failed halfway; each uses names of its
# own (alice, unc-test-owners, unc-test-daemon); bats runs them one after
# the other. apt's lists and cache go on --tmpfs; tests that only look use
# --read-only.

load helpers
load identity_helpers

setup() {
    require_unprivileged
    require_debian
    require_subids
}

teardown() {
    [ -n "${DEBIAN:-}" ] && [ -d "$DEBIAN" ] || return 0
    # Nothing to do after a test that passed (each command then fails
    # quietly); after one that failed halfway, the shared root is clean again.
    "$UNC" --map-auto --rootfs "$DEBIAN" sh -c \
        'userdel -r alice; dpkg --purge unc-test-owners unc-test-daemon' >/dev/null 2>&1 || true
}

# The shell code that gives a container apt-get for the repository on
# /repo only: `apt_get ARG...`.
APT='echo "deb [trusted=yes] file:/repo ./" > /tmp/unc-repo.list
apt_get() {
    apt-get -q -o Dir::Etc::SourceList=/tmp/unc-repo.list \
        -o Dir::Etc::SourceParts=/nonexistent "$@"
}
export DEBIAN_FRONTEND=noninteractive
'

# The id of NAME in the Debian root's /etc/passwd or /etc/group (as built).
debian_id() {   # debian_id passwd|group NAME
    awk -F: -v name="$2" '$1 == name { print $3 }' "$DEBIAN/etc/$1"
}

@test "the fixtures: DEBIAN is shifted for this user's --map-auto, DEBREPO holds two packages" {
    # Inner 0 is the caller; inner N >= 1 is host START+N-1.
    assert_equal "$(stat -c %u:%g "$DEBIAN")" "$(id -u):$(id -g)"
    shadow=$(debian_id group shadow)
    [ -n "$shadow" ]
    assert_equal "$(stat -c %u:%g "$DEBIAN/etc/shadow")" "$(id -u):$(host_gid "$shadow")"
    # chown(2) cleared no setuid bit.
    assert_equal "$(stat -c %A "$DEBIAN/usr/bin/su")" "-rwsr-xr-x"
    run -0 ls "$DEBREPO"
    assert_output $'Packages\nRelease\nunc-test-daemon_1.0_all.deb\nunc-test-owners_1.0_all.deb'
}

@test "the root's owners inside with --map-auto: root:shadow for /etc/shadow, su setuid root" {
    run -0 "$UNC" --map-auto --read-only --rootfs "$DEBIAN" \
        stat -c '%U:%G %A %n' /etc/shadow /usr/bin/su
    assert_output $'root:shadow -rw-r----- /etc/shadow\nroot:root -rwsr-xr-x /usr/bin/su'
}

@test "useradd -m, and su to the new user (setgroups inside); userdel leaves the root clean" {
    run -0 --separate-stderr "$UNC" --map-auto --rootfs "$DEBIAN" sh -ec '
        useradd -m alice && su alice -c "id -un; echo \$HOME; stat -c %U:%G /home/alice"
        userdel -r alice
        grep -c "^alice:" /etc/passwd /etc/group /etc/shadow || true
        test -e /home/alice && echo "home left" || true'
    assert_output $'alice\n/home/alice\nalice:alice\n/etc/passwd:0\n/etc/group:0\n/etc/shadow:0'
}

@test "--user in the Debian root: 1000 without an entry, _apt by name" {
    run -0 "$UNC" --map-auto --read-only --rootfs "$DEBIAN" --user 1000 id -u
    assert_output 1000
    apt_uid=$(debian_id passwd _apt)
    apt_gid=$(awk -F: '$1 == "_apt" { print $4 }' "$DEBIAN/etc/passwd")
    run -0 "$UNC" --map-auto --read-only --rootfs "$DEBIAN" -u _apt \
        sh -c 'id -un; id -u; id -g; echo "$HOME"'
    assert_output "$(printf '%s\n' _apt "$apt_uid" "$apt_gid" /nonexistent)"
}

@test "dpkg -i: files get the owners the package says, START+N-1 on the host; dpkg --purge" {
    run -0 --separate-stderr "$UNC" --map-auto --rootfs "$DEBIAN" -v "$DEBREPO:/repo:ro" sh -ec '
        dpkg -i /repo/unc-test-owners_1.0_all.deb >/dev/null
        cd /var/lib/unc-test-owners
        stat -c "%U:%G %a %n" daemon-file games/score nobody-file mail-spool'
    assert_output "$(printf '%s\n' 'daemon:daemon 640 daemon-file' 'games:games 644 games/score' \
        'nobody:nogroup 644 nobody-file' 'root:mail 2775 mail-spool')"
    # The tar says 1:1, 5:60, 65534:65534 and 0:8 (tests/mkdebrepo).
    dir=$DEBIAN/var/lib/unc-test-owners
    assert_equal "$(stat -c %u:%g "$dir/daemon-file")" "$(host_uid 1):$(host_gid 1)"
    assert_equal "$(stat -c %u:%g "$dir/games/score")" "$(host_uid 5):$(host_gid 60)"
    assert_equal "$(stat -c %u:%g "$dir/nobody-file")" "$(host_uid 65534):$(host_gid 65534)"
    assert_equal "$(stat -c %u:%g "$dir/mail-spool")" "$(id -u):$(host_gid 8)"
    run -0 "$UNC" --map-auto --rootfs "$DEBIAN" dpkg --purge unc-test-owners
    [ ! -e "$dir" ]
}

@test "apt-get install from file:/repo with apt's _apt sandbox, then purge" {
    run -0 "$UNC" --map-auto --net=none --rootfs "$DEBIAN" -v "$DEBREPO:/repo:ro" \
        --tmpfs /var/lib/apt/lists --tmpfs /var/cache/apt sh -ec "$APT"'
        apt-config dump APT::Sandbox::User
        apt_get update
        apt_get install -y unc-test-daemon
        echo "written: $(cat /var/lib/unc-test-daemon/written-by-daemon)"
        stat -c "owner: %U:%G" /var/lib/unc-test-daemon/state
        apt_get purge -y unc-test-daemon
        getent passwd unc-testd || echo "purged: no unc-testd"'
    # The sandbox is apt's default, and apt did not fall back to root.
    assert_line 'APT::Sandbox::User "_apt";'
    refute_output --partial unsandboxed
    # The postinst: useradd, chown, and a write as that user with its groups.
    assert_line --regexp '^written: uid=[0-9]+\(unc-testd\) gid=[0-9]+\(unc-testd\) groups=[0-9]+\(unc-testd\)$'
    assert_line "owner: unc-testd:unc-testd"
    assert_line "purged: no unc-testd"
}

@test "without --map-auto apt's sandbox cannot work: setgroups is denied (why --map-auto exists)" {
    # --read-only: this run changes nothing in the shared root.
    run -100 "$UNC" --net=none --read-only --rootfs "$DEBIAN" -v "$DEBREPO:/repo:ro" \
        --tmpfs /var/lib/apt/lists --tmpfs /var/cache/apt sh -c "$APT"'
        cat /proc/self/setgroups
        apt_get update'
    assert_line deny
    assert_output --partial "setgroups"
    assert_output --partial "Operation not permitted"
}
