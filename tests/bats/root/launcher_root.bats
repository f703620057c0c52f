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

@test "with the host's libz.so.1 hidden, the first start unpacks and runs (as unc-test)" {
    # In a mount namespace of its own, every libz.so.1 of the host is
    # /dev/null: nothing could load it.
    run -0 unshare --mount --propagation private sh -c '
        found=
        for f in $(find /lib /lib64 /usr/lib /usr/lib64 -name "libz.so.1*" 2>/dev/null); do
            real=$(readlink -f "$f")
            mount --bind /dev/null "$real" && found=$real
        done
        [ -n "$found" ] && [ ! -s "$found" ] || { echo "no libz.so.1 hidden" >&2; exit 99; }
        exec runuser -u unc-test -- env UNC_CACHE_DIR="$1/cache" "$2" sh -c "echo \$\$"' \
        sh "$SCRATCH" "$UNC"
    assert_output "1"
    [ -n "$(find "$SCRATCH/cache" -maxdepth 2 -name .complete)" ]
}
