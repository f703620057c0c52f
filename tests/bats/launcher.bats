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
    find "${1:-$UNC_CACHE_DIR}" -mindepth 1 -maxdepth 1 -regextype egrep \
        -regex '.*/build-[0-9a-f]{32}' -type d
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
    [ -f "$(build_dir "$HOME/.cache/unc" | head -n 1)/.complete" ]
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

# Without UNC_CACHE_DIR: the XDG cache, else the runtime directory, else TMPDIR.
fallback() {
    env -u UNC_CACHE_DIR -u XDG_RUNTIME_DIR XDG_CACHE_HOME="$SCRATCH/xdg" TMPDIR="$SCRATCH/tmp" "$@"
}

@test "a cache directory others may write to is passed over for the next" {
    mkdir -p -m 0777 "$SCRATCH/xdg/unc" "$SCRATCH/tmp"
    chmod 0777 "$SCRATCH/xdg/unc"
    run -0 fallback "$UNC" true
    assert_equal "$(ls -A "$SCRATCH/xdg/unc")" ""
    [ -n "$(build_dir "$SCRATCH/tmp/unc-$(id -u)")" ]
}

@test "a symlink as cache directory is passed over" {
    mkdir -p "$SCRATCH/elsewhere" "$SCRATCH/xdg" "$SCRATCH/tmp"
    ln -s "$SCRATCH/elsewhere" "$SCRATCH/xdg/unc"
    run -0 fallback "$UNC" true
    assert_equal "$(ls -A "$SCRATCH/elsewhere")" ""
    [ -n "$(build_dir "$SCRATCH/tmp/unc-$(id -u)")" ]
}

@test "a cache on a noexec mount is passed over for the next" {
    # An outer user namespace of the test's own, to mount a noexec tmpfs.
    mkdir -p "$SCRATCH/xdg/unc" "$SCRATCH/tmp"
    run -0 unshare -Urm sh -c '
        mount -t tmpfs -o noexec tmpfs "$1/xdg/unc" &&
        exec env -u UNC_CACHE_DIR -u XDG_RUNTIME_DIR XDG_CACHE_HOME="$1/xdg" \
            TMPDIR="$1/tmp" "$0" --stage=user_pid echo ran' "$UNC" "$SCRATCH"
    assert_output "ran"
    [ -n "$(ls -A "$SCRATCH/tmp")" ]
}

@test "UNC_CACHE_DIR is used alone: when it does not work, one unc: line and 125" {
    run -125 --separate-stderr env UNC_CACHE_DIR=/proc/unc "$UNC" true
    assert_equal "$stderr" "unc: cannot start from UNC_CACHE_DIR: cannot create /proc/unc: No such file or directory"
    run -125 --separate-stderr env UNC_CACHE_DIR=relative "$UNC" true
    assert_equal "$stderr" "unc: UNC_CACHE_DIR must be an absolute path, not relative"
}

@test "when no cache directory works, one unc: line and 125" {
    run -125 --separate-stderr env -i HOME=/proc TMPDIR=/proc "$UNC" true
    [[ "$stderr" == "unc: cannot start: no cache directory works (cannot create /proc/unc-"*"); set UNC_CACHE_DIR to a directory of yours that allows executing programs" ]]
    assert_equal "${#stderr_lines[@]}" 1
}

@test "a binary whose contents do not match its build id is refused (125)" {
    size=$(stat -c %s "$UNC")
    cp "$UNC" "$SCRATCH/unc"
    # Zeros in the middle of the packed build, past the launcher program.
    dd if=/dev/zero of="$SCRATCH/unc" bs=1 seek=$((size / 2)) count=4096 conv=notrunc 2>/dev/null
    run -125 --separate-stderr "$SCRATCH/unc" true
    assert_equal "$stderr" "unc: this unc binary is damaged (its contents do not match its build id); copy it again"
    assert_equal "$(ls -A "$UNC_CACHE_DIR")" ""
}

@test "a build whose program was removed from the cache is unpacked again" {
    run -0 "$UNC" true
    rm "$(build_dir)/unc"
    run -0 "$UNC" sh -c 'echo again'
    assert_output "again"
    [ -x "$(build_dir)/unc" ]
}

@test "a umask without the owner's write bit does not break the cache" {
    run -0 sh -c 'umask 0277 && exec "$0" --stage=user_pid sh -c "umask"' "$UNC"
    assert_output "0277"
    run -0 "$UNC" true
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
    id=${mine#build-}
    old=build-0123456789abcdef0123456789abcdef
    mkdir -p "$UNC_CACHE_DIR/$old" "$UNC_CACHE_DIR/.unpacking-$id-1" "$UNC_CACHE_DIR/.unpacking-$id-2" \
        "$UNC_CACHE_DIR/.new-notes" "$UNC_CACHE_DIR/0123456789abcdef0123456789abcdef"
    touch -d '8 days ago' "$UNC_CACHE_DIR/$old/.complete"
    touch -d '2 hours ago' "$UNC_CACHE_DIR/.unpacking-$id-1" "$UNC_CACHE_DIR/.new-notes"
    # Clean-up runs when a build is unpacked: make ours unpack again.
    rm -rf "${UNC_CACHE_DIR:?}/$mine"
    run -0 "$UNC" true
    # Only what is named like unc's own went; the user's entries stay.
    assert_equal "$(ls -A "$UNC_CACHE_DIR" | sort)" \
        "$(printf '%s\n' ".unpacking-$id-2" "$mine" .new-notes 0123456789abcdef0123456789abcdef | sort)"
}

@test "a build in use is kept: starting it refreshes its mark" {
    run -0 "$UNC" true
    dir=$(build_dir)
    touch -d '8 days ago' "$dir/.complete"
    run -0 "$UNC" true
    [ "$(stat -c %Y "$dir/.complete")" -gt "$(date -d '1 day ago' +%s)" ]
}

@test "an XDG_CACHE_HOME in someone else's directory is not created" {
    # Root running with a user's XDG_CACHE_HOME (sudo -E) must not make a
    # root-owned ~/.cache there; here: a directory that is not ours.
    mkdir -p "$SCRATCH/tmp"
    run -0 env -u UNC_CACHE_DIR -u XDG_RUNTIME_DIR XDG_CACHE_HOME=/usr/unc-test-cache \
        TMPDIR="$SCRATCH/tmp" "$UNC" true
    [ ! -e /usr/unc-test-cache ]
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

@test "unc runs from the cache with one execve: PyInstaller's bootloader does not restart" {
    # Started plainly, the bootloader sets LD_LIBRARY_PATH and executes
    # itself again; the launcher sets what it would, which saves that exec.
    run -0 "$UNC" true
    if ! strace -o /dev/null true 2>/dev/null; then
        skip "strace cannot trace here (ptrace not permitted)"
    fi
    run -0 strace -f -qq -e trace=execve -e signal=none -o "$SCRATCH/trace" \
        "$UNC" --stage=user_pid sh -c 'echo "$LD_LIBRARY_PATH"'
    assert_output ""
    assert_equal "$(grep -c "execve(\"$(build_dir)/unc\"" "$SCRATCH/trace")" 1
}

@test "the launcher is static and unpacks without the host's zlib" {
    run -0 file -L "$UNC"
    [[ "$output" == *"statically linked"* ]]
    # A libz.so.1 that cannot be loaded first in the search path: the
    # launcher inflates by itself, and the build brings its own libz.
    mkdir "$SCRATCH/lib"
    echo "not a library" > "$SCRATCH/lib/libz.so.1"
    run -0 env LD_LIBRARY_PATH="$SCRATCH/lib" "$UNC" sh -c 'echo "$LD_LIBRARY_PATH"'
    assert_output "$SCRATCH/lib"
    [ -f "$(build_dir)/.complete" ]
}

# --- issue 17: the binary needs nothing of the host but the kernel.

# A copy of the busybox root (a -v destination is created in it) with this
# unc at /bin/unc: no C library at all in there.
busybox_root() {
    cp -a "$ROOTFS" "$SCRATCH/rootfs"
}

@test "in a busybox root (no C library), unc runs unc: the inner one unpacks into the container's /tmp" {
    busybox_root
    [ ! -e "$SCRATCH/rootfs/lib" ] && [ ! -e "$SCRATCH/rootfs/lib64" ]
    run -0 "$UNC" --privileged --rootfs "$SCRATCH/rootfs" -v "$UNC:/bin/unc:ro" \
        -e UNC_CACHE_DIR=/tmp/unc sh -c '/bin/unc --rootfs / sh -c "echo \$\$" && ls -d /tmp/unc/build-*'
    assert_equal "${lines[0]}" "1"
    [[ "${lines[1]}" == /tmp/unc/build-* ]]
    assert_equal "${#lines[@]}" 2
}

@test "unc in unc in unc, with --net=slirp4netns at the outer level" {
    command -v slirp4netns >/dev/null || skip "slirp4netns is not installed"
    busybox_root
    # The inner two share the outer one's network (--net=host): slirp's tap0.
    # Each container that holds another is --privileged (README, "Nesting").
    run "$UNC" --privileged --net=slirp4netns --rootfs "$SCRATCH/rootfs" -v "$UNC:/bin/unc:ro" \
        -e UNC_CACHE_DIR=/tmp/unc /bin/unc --privileged --net=host --rootfs / \
        /bin/unc --net=host --rootfs / sh -c 'echo $$; ip -o -4 addr show tap0'
    if [ "$status" -eq 125 ]; then
        # Where the kernel or the host forbids it: one line that says why.
        assert_equal "${#lines[@]}" 1
        [[ "$output" == "unc: "* ]]
        skip "refused here: $output"
    fi
    assert_success
    assert_equal "${lines[0]}" "1"
    [[ "${lines[1]}" == *"tap0"*"10.0.2.100/"* ]]
}

# The Debian 11 root of tests/mkbullseye (glibc 2.31, older than the build's),
# which tests/run makes as root once and names in BULLSEYE.
require_bullseye() {
    if [ -z "${BULLSEYE:-}" ] || [ ! -d "$BULLSEYE" ]; then
        local why=${UNC_BULLSEYE_MISSING:-BULLSEYE is not set (tests/run sets it, as root)}
        [ -z "${CI:-}" ] || { echo "no Debian 11 root: $why" >&2; return 1; }
        skip "no Debian 11 root: $why"
    fi
}

@test "in a Debian 11 root (an older glibc than the build's), the binary runs" {
    require_bullseye
    mkdir "$SCRATCH/bin"
    cp "$UNC" "$SCRATCH/bin/unc"
    # The root is root's and only read: the binary comes in on its /mnt.
    run -0 "$UNC" --privileged --rootfs "$BULLSEYE" -v "$SCRATCH/bin:/mnt:ro" \
        -e UNC_CACHE_DIR=/tmp/unc \
        sh -c 'ldd --version | head -n 1; /mnt/unc --rootfs / sh -c "echo \$\$"'
    [[ "${lines[0]}" == *" 2.31" ]]
    assert_equal "${lines[1]}" "1"
}

@test "a second start opens nothing of the host's /lib or /usr/lib" {
    strace -o /dev/null true 2>/dev/null || skip "strace cannot trace here (ptrace not permitted)"
    run -0 "$UNC" --rootfs "$ROOTFS" /bin/true
    # The command is busybox (static): what the trace shows is unc's own.
    run -0 env -u LANG -u LANGUAGE -u LC_CTYPE -u LC_MESSAGES LC_ALL=C \
        strace -f -qq -e trace=open,openat,openat2,execve -e signal=none -o "$SCRATCH/trace" \
        "$UNC" --rootfs "$ROOTFS" /bin/true
    [ -s "$SCRATCH/trace" ]
    run grep -E '"/(usr/)?lib[^/"]*/' "$SCRATCH/trace"
    assert_output ""
    # In a UTF-8 locale the bundled C library reads the host's locale
    # data (/usr/lib/locale), but still no library of the host's.
    run -0 env LC_ALL=C.UTF-8 strace -f -qq -e trace=open,openat,openat2,execve -e signal=none \
        -o "$SCRATCH/trace" "$UNC" --rootfs "$ROOTFS" /bin/true
    run grep -E '"/(usr/)?lib[^/"]*/[^"]*\.so' "$SCRATCH/trace"
    assert_output ""
}

@test "programs unc starts on the host load the host's libraries, not the bundle's" {
    strace -o /dev/null true 2>/dev/null || skip "strace cannot trace here (ptrace not permitted)"
    command -v slirp4netns >/dev/null || skip "slirp4netns is not installed"
    run -0 "$UNC" --rootfs "$ROOTFS" /bin/true
    run -0 strace -f -qq -e trace=openat,execve -e signal=none -o "$SCRATCH/trace" \
        "$UNC" --net=slirp4netns --rootfs "$ROOTFS" /bin/true
    pid=$(grep -m 1 'execve("[^"]*/slirp4netns"' "$SCRATCH/trace" | cut -d' ' -f1)
    [ -n "$pid" ]
    # What slirp4netns opened once executed (before, its pid was unc's fork).
    awk -v pid="$pid" '$1 == pid && /execve\(/ { on = 1 } on && $1 == pid' \
        "$SCRATCH/trace" > "$SCRATCH/slirp"
    # Its C library is the one its own PT_INTERP finds; nothing of the cache's.
    run grep -E 'openat\(.*/libc\.so\.6"' "$SCRATCH/slirp"
    [ "${#lines[@]}" -ge 1 ]
    run grep -c -F "$UNC_CACHE_DIR" "$SCRATCH/slirp"
    assert_output "0"
}
