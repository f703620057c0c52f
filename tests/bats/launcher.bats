#!/usr/bin/env bats
# dist/unc's front (launcher/launcher.c): unc unpacked once per user and
# build into a cache directory, then executed from there.

load helpers

setup() {
    setup_scratch
    export UNC_CACHE_DIR="$SCRATCH/cache"
}
teardown() { teardown_scratch; }

build_dir() {
    find "$UNC_CACHE_DIR" -mindepth 1 -maxdepth 1 -regextype egrep \
        -regex '.*/[0-9a-f]{32}' -type d
}

@test "the first start unpacks into the cache, mode 0700; later starts run from it" {
    run -0 "$UNC" sh -c 'echo $$'
    assert_output "1"
    dir=$(build_dir)
    [ -n "$dir" ] && [ -f "$dir/.complete" ] && [ -x "$dir/unc" ]
    assert_equal "$(stat -c %a "$UNC_CACHE_DIR")" 700
    inode=$(stat -c %i "$dir/unc")
    run -0 "$UNC" true
    assert_equal "$(stat -c %i "$dir/unc")" "$inode"
    assert_equal "$(build_dir)" "$dir"
    # Nothing else is left in the cache, nothing in the temporary directory.
    assert_equal "$(ls -A "$UNC_CACHE_DIR")" "$(basename "$dir")"
}

@test "without UNC_CACHE_DIR the cache is ~/.cache/unc" {
    unset UNC_CACHE_DIR
    run -0 env -u XDG_CACHE_HOME "$UNC" true
    [ -f "$(ls -d "$HOME"/.cache/unc/*/ | head -n 1).complete" ]
}

@test "starts at once with an empty cache unpack it once and all run" {
    pids=()
    for i in $(seq 8); do
        "$UNC" --stage=user_pid true 3>&- &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do
        wait "$pid"
    done
    assert_equal "$(build_dir | wc -l)" 1
    assert_equal "$(ls -A "$UNC_CACHE_DIR" | wc -l)" 1
}

@test "a cache directory others may write to is passed over for the next" {
    mkdir -m 0777 "$UNC_CACHE_DIR"
    chmod 0777 "$UNC_CACHE_DIR"
    run -0 env XDG_CACHE_HOME="$SCRATCH/xdg" "$UNC" true
    assert_equal "$(ls -A "$UNC_CACHE_DIR")" ""
    [ -n "$(ls -A "$SCRATCH/xdg/unc")" ]
}

@test "a symlink as cache directory is passed over" {
    mkdir "$SCRATCH/elsewhere"
    ln -s "$SCRATCH/elsewhere" "$UNC_CACHE_DIR"
    run -0 env XDG_CACHE_HOME="$SCRATCH/xdg" "$UNC" true
    assert_equal "$(ls -A "$SCRATCH/elsewhere")" ""
}

@test "a cache on a noexec mount is passed over for the next" {
    # An outer user namespace of the test's own, to mount a noexec tmpfs.
    mkdir "$UNC_CACHE_DIR"
    run -0 unshare -Urm sh -c '
        mount -t tmpfs -o noexec tmpfs "$UNC_CACHE_DIR" &&
        XDG_CACHE_HOME="$1" exec "$0" --stage=user_pid echo ran' "$UNC" "$SCRATCH/xdg"
    assert_output "ran"
    [ -n "$(ls -A "$SCRATCH/xdg/unc")" ]
}

@test "when no cache directory works, one unc: line and 125" {
    run -125 --separate-stderr env -i UNC_CACHE_DIR=/proc/unc HOME=/proc TMPDIR=/proc "$UNC" true
    [[ "$stderr" == "unc: cannot start: no cache directory works (last: cannot create /proc/unc-"*"); set UNC_CACHE_DIR to a directory of yours that allows executing programs" ]]
    assert_equal "${#stderr_lines[@]}" 1
}

@test "a truncated binary says it is damaged (125)" {
    head -c 2000000 "$UNC" > "$SCRATCH/unc"
    chmod +x "$SCRATCH/unc"
    run -125 --separate-stderr "$SCRATCH/unc" true
    assert_equal "$stderr" "unc: this unc binary is damaged (no unc payload at its end); copy it again"
}

@test "an unpacking that died is removed an hour later; other builds after a week" {
    run -0 "$UNC" true
    mine=$(basename "$(build_dir)")
    old=0123456789abcdef0123456789abcdef
    mkdir -p "$UNC_CACHE_DIR/$old" "$UNC_CACHE_DIR/.new-$mine-1" "$UNC_CACHE_DIR/.new-$mine-2"
    touch -d '8 days ago' "$UNC_CACHE_DIR/$old/.complete"
    touch -d '2 hours ago' "$UNC_CACHE_DIR/.new-$mine-1"
    # Clean-up runs when a build is unpacked: make ours unpack again.
    rm -rf "${UNC_CACHE_DIR:?}/$mine"
    run -0 "$UNC" true
    assert_equal "$(ls -A "$UNC_CACHE_DIR" | sort)" "$(printf '%s\n' ".new-$mine-2" "$mine" | sort)"
}

@test "a build in use is kept: starting it refreshes its mark" {
    run -0 "$UNC" true
    dir=$(build_dir)
    touch -d '8 days ago' "$dir/.complete"
    run -0 "$UNC" true
    [ "$(stat -c %Y "$dir/.complete")" -gt "$(date -d '1 day ago' +%s)" ]
}

@test "a HOME that is not the user's own is not used for the cache" {
    unset UNC_CACHE_DIR
    # /tmp is root's, yet writable: like running under sudo with the caller's HOME.
    [ "$(id -u)" -ne 0 ] || skip "needs an unprivileged user; tests/run runs this as unc-test"
    [ ! -e /tmp/.cache ] || skip "/tmp/.cache exists already"
    run -0 env -u XDG_CACHE_HOME -u XDG_RUNTIME_DIR HOME=/tmp TMPDIR="$SCRATCH" "$UNC" true
    [ ! -e /tmp/.cache ]
    [ -n "$(ls -A "$SCRATCH/unc-$(id -u)")" ]
}
