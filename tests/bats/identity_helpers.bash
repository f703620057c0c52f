# Helpers of the tests of issue 12 (id maps, the user, the environment, the
# Debian fixtures): idmap.bats, user_env.bats, debian.bats and
# root/idmap_root.bats load them after helpers.bash.

# Remove SCRATCH when files in it may belong to subordinate ids (made inside
# a --map-auto container): the caller cannot remove those, so the removal
# goes through a user namespace with the same map, as `podman unshare rm`.
teardown_scratch_mapped() {
    [ -n "${SCRATCH:-}" ] && [ -e "$SCRATCH" ] || return 0
    "$UNC" --stage=user_pid --map-auto rm -rf "$SCRATCH" >/dev/null 2>&1 || true
    rm -rf "$SCRATCH"
}

# unc refused a bad value as its contract says, after
# `run -125 --separate-stderr "$UNC" ...`: nothing on stdout, one line on
# stderr that starts with "unc: " and holds each WORD given. A usage error
# (an option unc does not know) does not count.
assert_unc_error() {   # assert_unc_error WORD...
    assert_equal "$output" ""
    [ "${#stderr_lines[@]}" -eq 1 ] \
        || fail "expected one line on stderr, got ${#stderr_lines[@]}: $stderr"
    [[ "$stderr" == "unc: "* ]] || fail "stderr does not start with 'unc: ': $stderr"
    [[ "$stderr" != *"unknown, misplaced or repeated option"* ]] \
        || fail "a usage error, not the option's own refusal: $stderr"
    local word
    for word in "$@"; do
        [[ "$stderr" == *"$word"* ]] || fail "stderr lacks '$word': $stderr"
    done
}

# The first range of this user in FILE (/etc/subuid or /etc/subgid), found
# by name or by uid as newuidmap finds it: "START COUNT", or nothing.
first_subid_range() {   # first_subid_range FILE
    awk -F: -v name="$(id -un)" -v uid="$(id -u)" \
        'NF == 3 && ($1 == name || $1 == uid) && $3 > 0 { print $2, $3; exit }' \
        "$1" 2>/dev/null
}

# How many ranges FILE grants this user.
subid_ranges() {   # subid_ranges FILE
    awk -F: -v name="$(id -un)" -v uid="$(id -u)" \
        'NF == 3 && ($1 == name || $1 == uid) && $3 > 0 { n++ } END { print n + 0 }' \
        "$1" 2>/dev/null
}

# Skip unless this user has subordinate ids; then SUBUID_START, SUBUID_COUNT,
# SUBGID_START and SUBGID_COUNT hold its first ranges. --map-auto maps inner
# 0 to the caller and inner N >= 1 to host START+N-1: host_uid N, host_gid N.
require_subids() {
    local uids gids
    uids=$(first_subid_range /etc/subuid)
    gids=$(first_subid_range /etc/subgid)
    [ -n "$uids" ] && [ -n "$gids" ] || skip "needs a range for $(id -un) in /etc/subuid and /etc/subgid (tests/run gives unc-test one)"
    read -r SUBUID_START SUBUID_COUNT <<<"$uids"
    read -r SUBGID_START SUBGID_COUNT <<<"$gids"
}

host_uid() { echo $((SUBUID_START + $1 - 1)); }
host_gid() { echo $((SUBGID_START + $1 - 1)); }

# Skip unless tests/run built the Debian fixtures: DEBIAN, a Debian 12 root
# shifted for this user's --map-auto (tests/mkdebian --map-to), and DEBREPO,
# a local apt repository (tests/mkdebrepo). The skip gives tests/run's
# reason (UNC_FIXTURES_MISSING); under CI (CI=true) a missing fixture is a
# failure: the CI machine can reach Debian's mirror.
require_debian() {
    if [ -n "${DEBIAN:-}" ] && [ -d "$DEBIAN" ] && [ -n "${DEBREPO:-}" ] && [ -d "$DEBREPO" ]; then
        return 0
    fi
    local why=${UNC_FIXTURES_MISSING:-"DEBIAN and DEBREPO are not set: tests/run builds them as root (tests/mkdebian, tests/mkdebrepo)"}
    case ${CI:-} in
        "" | false | 0) skip "$why" ;;
        *) fail "CI=$CI: the Debian fixtures are required here: $why" ;;
    esac
}
