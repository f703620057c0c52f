# Shared by every bats file: load bats-assert, name the binary under test.
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

: "${UNC:?UNC must name the unc binary under test (tests/run sets it)}"
: "${ROOTFS:?ROOTFS must name the busybox rootfs (tests/run sets it)}"

# A scratch directory of this test that the test user owns.
setup_scratch() {
    SCRATCH=$(mktemp -d "${BATS_TMPDIR:-/tmp}/unc-scratch.XXXXXX")
}

teardown_scratch() {
    if [ -n "${SCRATCH:-}" ]; then
        rm -rf "$SCRATCH"
    fi
}

# Skip with a reason unless this runs as an unprivileged user.
require_unprivileged() {
    [ "$(id -u)" -ne 0 ] || skip "needs an unprivileged user; tests/run runs this as unc-test"
}
