# What unc may leave behind, checked before and after a loop of runs; and
# the loops of the fault and load tests. Plain bash (no bats): faults.bats
# loads it for the short forms in the suite, tests/soak sources it for the
# long forms. UNC names the binary under test.

# leaks_begin DIR: run unc from here on with private TMPDIR, XDG_RUNTIME_DIR
# and cache under DIR (the cache unpacked once now), and remember the
# caller's mount table, unc's network interfaces, this shell's open fds, the
# user's slirp4netns and pasta processes and the cache's entries.
leaks_begin() {
    LEAK_DIR=$1
    mkdir -p "$LEAK_DIR/tmp" "$LEAK_DIR/runtime"
    mkdir -p -m 700 "$LEAK_DIR/cache"
    export TMPDIR=$LEAK_DIR/tmp XDG_RUNTIME_DIR=$LEAK_DIR/runtime UNC_CACHE_DIR=$LEAK_DIR/cache
    "$UNC" --stage=user_pid true
    LEAK_MOUNTS=$(cat /proc/self/mountinfo)
    LEAK_LINKS=$(leaks_links)
    LEAK_FDS=$(ls /proc/$BASHPID/fd)
    LEAK_HELPERS=$(leaks_helpers)
    LEAK_CACHE=$(ls -A "$UNC_CACHE_DIR")
}

# unc's interfaces on the host: the bridge unc0 and its veths uncvN
# (network/bridge.py). Only root's unc makes them: a user's cannot add an
# interface to the host's network namespace, and another root's runs on a
# shared host would change the list meanwhile.
leaks_links() {
    [ "$(id -u)" -eq 0 ] || return 0
    ls /sys/class/net | grep '^unc' || :
}

# The slirp4netns and pasta processes started with our TMPDIR (unc passes
# its environment on to them): others may run their own meanwhile.
leaks_helpers() {
    local name pid
    for name in slirp4netns pasta pasta.avx2; do
        for pid in $(pgrep -u "$(id -u)" -x "$name"); do
            tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -qxF "TMPDIR=$TMPDIR" \
                && echo "$pid"
        done
    done | sort
}

# leaks_end MARKER: within 5 s no process with MARKER in its command line
# runs and no slirp4netns or pasta is left; then everything leaks_begin
# remembered is as it was, and the private directories are empty. Prints
# what leaked; returns 1 if anything did.
leaks_end() {
    local marker=$1 problems="" i
    for i in $(seq 100); do
        if ! pgrep -u "$(id -u)" -f "$marker" >/dev/null \
                && [ "$(leaks_helpers)" = "$LEAK_HELPERS" ]; then
            break
        fi
        sleep 0.05
    done
    pgrep -u "$(id -u)" -af "$marker" && problems+=" processes running '$marker';"
    [ "$(leaks_helpers)" = "$LEAK_HELPERS" ] || problems+=" helpers: $(leaks_helpers | tr '\n' ' ');"
    [ "$(cat /proc/self/mountinfo)" = "$LEAK_MOUNTS" ] || problems+=" the mount table changed;"
    [ "$(leaks_links)" = "$LEAK_LINKS" ] || problems+=" unc's network interfaces changed;"
    [ "$(ls /proc/$BASHPID/fd)" = "$LEAK_FDS" ] || problems+=" this shell's fds changed;"
    [ "$(ls -A "$UNC_CACHE_DIR")" = "$LEAK_CACHE" ] || problems+=" the cache holds $(ls -A "$UNC_CACHE_DIR" | tr '\n' ' ');"
    [ -z "$(ls -A "$TMPDIR" "$XDG_RUNTIME_DIR" | grep -v ':$' | grep .)" ] \
        || problems+=" files left: $(ls -A "$TMPDIR" "$XDG_RUNTIME_DIR" | tr '\n' ' ');"
    if [ -n "$problems" ]; then
        echo "leaked:$problems" >&2
        return 1
    fi
}

# kill_loop N UNC-OPTION...: N times, start a container (its command `sleep
# 51031`) and SIGKILL unc 0 to 99 ms later, mostly during its setup.
kill_loop() {
    local n=$1 i pid
    shift
    for i in $(seq "$n"); do
        "$UNC" "$@" sleep 51031 </dev/null >/dev/null 2>&1 &
        pid=$!
        sleep "0.0$((RANDOM % 100))"
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null || :
    done
}

# load_round N UNC-OPTION...: N containers at once, container i exiting with
# status i % 100; every one must end with its own status. Prints the ones
# that did not.
load_round() {
    local n=$1 i status bad=0
    shift
    local pids=()
    for i in $(seq 0 $((n - 1))); do
        "$UNC" "$@" sh -c "exit $((i % 100))" unc-load-51032 </dev/null &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        status=0
        wait "${pids[$i]}" || status=$?
        if [ "$status" -ne $((i % 100)) ]; then
            echo "container $i exited with $status, not $((i % 100))" >&2
            bad=1
        fi
    done
    return "$bad"
}
