#!/usr/bin/env bats
# dist/unc's cache where root and users meet.

load ../helpers

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    id unc-test >/dev/null 2>&1 || skip "needs the user unc-test that tests/run creates"
    setup_scratch
    chmod 1777 "$SCRATCH"
}
teardown() { teardown_scratch; }

@test "another user's tmp/unc-UID does not block a user's fallback cache" {
    uid=$(id -u unc-test)
    mkdir "$SCRATCH/unc-$uid"                      # root's, in the user's way
    run -0 runuser -u unc-test -- env -u UNC_CACHE_DIR -u XDG_RUNTIME_DIR \
        XDG_CACHE_HOME=/proc/none HOME=/proc TMPDIR="$SCRATCH" "$UNC" --stage=user_pid echo ran
    assert_output "ran"
    run -0 find "$SCRATCH" -maxdepth 1 -name "unc-$uid.*" -user unc-test -perm 700
    assert_equal "${#lines[@]}" 1
    # The next start finds the same one instead of making another.
    run -0 runuser -u unc-test -- env -u UNC_CACHE_DIR -u XDG_RUNTIME_DIR \
        XDG_CACHE_HOME=/proc/none HOME=/proc TMPDIR="$SCRATCH" "$UNC" --stage=user_pid true
    run -0 find "$SCRATCH" -maxdepth 1 -name "unc-$uid.*"
    assert_equal "${#lines[@]}" 1
}

@test "root with a user's HOME and XDG_CACHE_HOME (sudo -E) leaves nothing in that home" {
    home=$(getent passwd unc-test | cut -d: -f6)
    before=$(find "$home" -user root | wc -l)
    run -0 env -u UNC_CACHE_DIR -u XDG_RUNTIME_DIR HOME="$home" \
        XDG_CACHE_HOME="$home/.cache-$BATS_TEST_NUMBER" TMPDIR="$SCRATCH" "$UNC" --stage=user_pid true
    assert_equal "$(find "$home" -user root | wc -l)" "$before"
    [ ! -e "$home/.cache-$BATS_TEST_NUMBER" ]
}
