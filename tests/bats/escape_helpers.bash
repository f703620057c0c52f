# Shared by escape.bats (as the test user) and root/escape_root.bats (as
# root): attacks on unc from inside its containers, each making its own
# conditions. The attacker of unc's processes is escape_attack.py, run by
# the host's python3 (the container sees the host's / read-only without
# --rootfs); it is copied to $SCRATCH, bound on /mnt, since the
# container's /tmp is a tmpfs of its own.

ATTACK=${BATS_TEST_DIRNAME%/root}/escape_attack.py

escape_setup() {
    setup_scratch
    cp "$ATTACK" "$SCRATCH/attack.py"
    # A cache of this test's own: an attack that worked damages only it.
    export UNC_CACHE_DIR=$SCRATCH/cache
    mkdir -m 700 "$UNC_CACHE_DIR"
    "$UNC" --stage=user_pid true
}

# The sha256 of the binary under test and of the program it unpacked into
# the cache (what every later start executes).
unc_sums() {
    sha256sum "$UNC" "$UNC_CACHE_DIR"/build-*/unc | cut -d' ' -f1
}

# exe_attack OPTION...: a container started with OPTIONs tries to open its
# PID 1's /proc/1/exe (with --init, unc's own program) and to send an
# O_PATH handle of it to a receiver on the host, which reopens it for
# writing once unc has exited. Sets $output to both sides' lines.
exe_attack() {
    local pids
    rm -f "$SCRATCH/sock"
    "$PYTHON" "$ATTACK" receive "$SCRATCH/sock" "$SCRATCH/uncpid" >"$SCRATCH/received" &
    pids=$!
    for _ in $(seq 100); do [ -S "$SCRATCH/sock" ] && break; sleep 0.05; done
    "$UNC" "$@" -v "$SCRATCH:/mnt" python3 /mnt/attack.py try /mnt/sock 1 >"$SCRATCH/tried" &
    echo $! >"$SCRATCH/uncpid"
    wait $!
    wait "$pids"
    output=$(cat "$SCRATCH/tried" "$SCRATCH/received")
    mapfile -t lines <<<"$output"
}

# refused_all: every line of $output that names an attempt says refused.
refused_all() {
    if grep -E 'OPENED|SENT|DONE|WROTE' <<<"$output"; then
        echo "an attack got through:" >&2
        printf '%s\n' "$output" >&2
        return 1
    fi
}

# gone_for: the sentinel directory outside the root is still empty.
assert_empty_dir() {
    run -0 find "$1" -mindepth 1
    assert_output ""
}

# host_attack: from containers that see the host's /proc (--stage=user_pid
# and uts have no mount namespace; --bind-proc binds the host's /proc),
# unc's host-side process is found by a marker in its command line and
# attacked; unc must survive it (status 0) and see its command through.
host_attack() {
    local marker=escape-marker-$$ how
    for how in --stage=user_pid --stage=uts; do
        run -0 "$UNC" "$how" python3 "$SCRATCH/attack.py" host "$marker"
        assert_line "found 1"
        refused_all
    done
    run -0 "$UNC" --bind-proc -v "$SCRATCH:/mnt" python3 /mnt/attack.py host "$marker"
    assert_line "found 1"
    refused_all
}

# outside_pid_ns STAGE: unc's host pid, handed to the container through a
# volume once it runs, names no process there: kill -9 finds nothing.
outside_pid_ns() {
    rm -f "$SCRATCH/uncpid"
    "$UNC" --stage="$1" -v "$SCRATCH:/mnt" sh -c '
        while [ ! -s /mnt/uncpid ]; do sleep 0.05; done
        pid=$(cat /mnt/uncpid)
        [ ! -e "/proc/$pid" ] || { echo "unc ($pid) is in /proc"; exit 3; }
        kill -9 "$pid" 2>/dev/null && { echo "kill -9 $pid worked"; exit 4; }
        exit 0' &
    echo $! >"$SCRATCH/uncpid.new"
    mv "$SCRATCH/uncpid.new" "$SCRATCH/uncpid"
    wait $!
}

# swap_race ROOT: until killed (or 60 s have passed), turn ROOT/swap from a
# directory into a symlink to $SCRATCH/outside, absolute and relative, and
# back, as fast as the shell can.
swap_race() {
    local root=$1 end=$((SECONDS + 60))
    # unc may be making directories in it meanwhile: rm -rf can fail.
    while [ "$SECONDS" -lt "$end" ]; do
        { rm -rf "$root/swap"; mkdir -p "$root/swap/a"; } 2>/dev/null || :
        { rm -rf "$root/swap"; ln -s "$SCRATCH/outside" "$root/swap"; } 2>/dev/null || :
        { rm -rf "$root/swap"
          ln -s "../../../../../../../../..$SCRATCH/outside" "$root/swap"; } 2>/dev/null || :
    done
}

# symlink_race ROOTFS: 20 containers whose -v, --tmpfs and -w destinations
# lie below ROOTFS/swap start one after another while swap_race runs;
# afterwards nothing exists in $SCRATCH/outside and the caller's mount
# table is as before. Runs that lost the race may fail (a destination that
# is not a directory): the point is where their mounts and directories went.
symlink_race() {
    local root=$1 ok=0 before racer i
    mkdir -p "$SCRATCH/outside" "$SCRATCH/vol"
    before=$(cat /proc/self/mountinfo)
    swap_race "$root" &
    racer=$!
    for i in $(seq 20); do
        "$UNC" --rootfs "$root" -v "$SCRATCH/vol:/swap/a/vol" --tmpfs /swap/t \
            -w /swap/w sh -c 'touch /swap/a/vol/ran /swap/t/x' 2>/dev/null && ok=$((ok + 1))
    done
    kill "$racer"
    wait "$racer" || :
    echo "# 20 runs during the swaps, $ok completed" >&3
    assert_empty_dir "$SCRATCH/outside"
    assert_equal "$(cat /proc/self/mountinfo)" "$before"
}

# readonly_attack: from inside, remount --read-only's root, a -v :ro volume
# and (without --rootfs) the host's / read-write, and umount what covers
# them; nothing of it may work, and nothing on the host changes. The harden
# stage holds this (no CAP_SYS_ADMIN, mount(2) refused by seccomp): with
# --privileged, as with Docker's, the container's root may remount a bind
# that unc made read-only in the container's own mount namespace (the
# kernel locks only mounts inherited from a more privileged namespace).
readonly_attack() {
    cp -a "$ROOTFS" "$SCRATCH/root"
    mkdir "$SCRATCH/vol"
    echo original >"$SCRATCH/vol/f"
    run "$UNC" --rootfs "$SCRATCH/root" --read-only -v "$SCRATCH/vol:/mnt:ro" sh -c '
        for m in / /mnt; do
            mount -o remount,rw "$m" 2>/dev/null && echo "REMOUNTED $m"
            mount -o remount,bind,rw "$m" 2>/dev/null && echo "REMOUNTED bind $m"
        done
        umount /mnt 2>/dev/null && echo "UNMOUNTED /mnt"
        umount -l / 2>/dev/null && echo "UNMOUNTED /"
        echo changed >/mnt/f 2>/dev/null && echo "WROTE /mnt/f"
        touch /new 2>/dev/null && echo "WROTE /new"
        exit 0'
    assert_success
    refute_output --regexp 'REMOUNTED|UNMOUNTED|WROTE'
    assert_equal "$(cat "$SCRATCH/vol/f")" original
    [ ! -e "$SCRATCH/root/new" ]
    mine=$(mktemp -d "$HOME/unc-escape.XXXXXX")
    run "$UNC" -e "D=$mine" sh -c 'mount -o remount,bind,rw / 2>/dev/null && echo REMOUNTED; touch "$D/x" 2>/dev/null && echo WROTE; exit 0'
    rmdir "$mine" || { rm -rf "$mine"; false; }
    refute_output --regexp 'REMOUNTED|WROTE'
}
