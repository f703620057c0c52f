#!/usr/bin/env bats
# Escape tests (issue 14): what a container's root tries against unc's own
# processes and binary, the old root, the host's files and read-only
# mounts, through the real binary as an unprivileged user. The same attacks
# as root: root/escape_root.bats (the helpers: escape_helpers.bash).

load helpers
load escape_helpers

setup() { escape_setup; }
teardown() { teardown_scratch; }

# ------------------------------------------------ unc's binary (CVE-2019-5736)

@test "--init: /proc/1/exe (unc's init) cannot be followed, opened or handed out; unc's binary is unchanged" {
    before=$(unc_sums)
    # The harden stage makes PID 1 non-dumpable; init does it itself too,
    # for the runs that stop before that stage.
    for stage in harden net; do
        exe_attack --init --stage="$stage"
        assert_line "1 readlink: refused (EACCES)"
        assert_line "1 O_WRONLY: refused (EACCES)"
        assert_line "1 O_RDONLY: refused (EACCES)"
        assert_line "1 O_PATH: refused (EACCES)"
        assert_line "no handle"
        refused_all
    done
    assert_equal "$(unc_sums)" "$before"
}

@test "--init at --stage=user_pid and with --rootfs: /proc/1/exe is out of reach too" {
    # Without a mount namespace /proc is the host's: init is our parent
    # there, under its host pid (read by the shell itself: /proc/self is it).
    run -0 "$UNC" --init --stage=user_pid sh -c '
        while read -r key value; do [ "$key" = PPid: ] && init=$value; done </proc/self/status
        grep -q "^NSpid:.*[[:space:]]1$" "/proc/$init/status" || echo "$init is not init"
        readlink "/proc/$init/exe" || echo refused'
    assert_output --partial "refused"
    refute_output --partial "is not init"
    run -0 "$UNC" --init --rootfs "$ROOTFS" sh -c 'readlink /proc/1/exe || echo refused; cat /proc/1/exe >/dev/null || echo refused'
    assert_output --partial "refused"
    refute_output --partial "unc"
}

@test "without --init /proc/1/exe is the command's own program, not unc's" {
    run -0 "$UNC" --rootfs "$ROOTFS" readlink /proc/1/exe
    assert_output "/bin/busybox"
}

# ------------------------------------------------ unc's host-side processes

@test "where the host's /proc shows unc (user_pid, uts, --bind-proc), its exe, kill -9, ptrace and pidfds fail" {
    before=$(unc_sums)
    host_attack
    assert_equal "$(unc_sums)" "$before"
}

@test "from --stage=mount on, unc's host process is outside the container's PID namespace: no /proc entry, kill -9 finds nothing" {
    outside_pid_ns mount
    outside_pid_ns net
}

# ------------------------------------------------ the old root

@test "no path leads to the old root: /proc/1/root, /proc/*/cwd, .. from /, a host working directory" {
    mkdir "$SCRATCH/host"
    echo secret >"$SCRATCH/host/only-on-host"
    cd "$SCRATCH/host"
    for init in "" --init; do
        run -0 "$UNC" $init --rootfs "$ROOTFS" -e "S=$SCRATCH" sh -c '
            pwd
            cd ../../..; pwd
            for p in /proc/self/cwd/only-on-host /proc/self/cwd/../host/only-on-host \
                     /proc/1/cwd/only-on-host "/../../..$S/host/only-on-host" \
                     "/proc/1/root$S/host/only-on-host" /proc/*/cwd/only-on-host \
                     "/proc/self/root/../../..$S/host/only-on-host"; do
                cat "$p" 2>/dev/null && echo "REACHED $p"
            done
            [ "$(ls -a /proc/self/cwd/..)" = "$(ls -a /)" ] || echo "cwd/.. is not /"
            exit 0'
        assert_line --index 0 "/"
        assert_line --index 1 "/"
        refute_output --partial secret
        refute_output --partial REACHED
        refute_output --partial "is not /"
    done
}

@test "without --rootfs a host working directory is kept, read-only, also through /proc/self/cwd" {
    # Not under /tmp: the container has a tmpfs of its own there.
    mine=$(mktemp -d "$HOME/unc-escape.XXXXXX")
    cd "$mine"
    run "$UNC" sh -c 'pwd; for p in x /proc/self/cwd/y /proc/1/cwd/z "$PWD/w"; do touch "$p" 2>/dev/null && echo "WROTE $p"; done; exit 0'
    cd /
    rmdir "$mine" || { ls -A "$mine"; rm -rf "$mine"; false; }
    assert_success
    assert_line --index 0 "$mine"
    refute_output --partial WROTE
}

# ------------------------------------------------ symlinks in the rootfs

@test "hostile rootfs: symlinks as -w, as a file volume's destination and above --tmpfs stay inside the root" {
    cp -a "$ROOTFS" "$SCRATCH/root"
    mkdir "$SCRATCH/outside"
    rm -rf "$SCRATCH/root/mnt"
    ln -s "$SCRATCH/outside" "$SCRATCH/root/mnt"
    ln -s ../../../../../../../.. "$SCRATCH/root/up"
    ln -s "$SCRATCH/outside/file" "$SCRATCH/root/etc/dangling"
    echo volume >"$SCRATCH/vfile"
    # -w is made after the root changed: the link leads nowhere there.
    run -125 --separate-stderr "$UNC" --rootfs "$SCRATCH/root" -w /mnt/work pwd
    assert_equal "$stderr" "unc: -w /mnt/work: /mnt exists in the container and is not a directory"
    run -0 "$UNC" --rootfs "$SCRATCH/root" -w "/up$SCRATCH/outside/w2" true
    run -0 "$UNC" --rootfs "$SCRATCH/root" -v "$SCRATCH/vfile:/etc/dangling" cat /etc/dangling
    assert_output volume
    run -0 "$UNC" --rootfs "$SCRATCH/root" --tmpfs /mnt/t -v "$SCRATCH/vfile:/up/mnt/f" true
    assert_empty_dir "$SCRATCH/outside"
    # What was asked for went inside the root, where the links lead there.
    [ -d "$SCRATCH/root$SCRATCH/outside/w2" ]
    [ -f "$SCRATCH/root$SCRATCH/outside/file" ]
}

@test "race: a directory swapped for a symlink out of the root during setup sends no mount or directory outside" {
    cp -a "$ROOTFS" "$SCRATCH/root"
    symlink_race "$SCRATCH/root"
}

# ------------------------------------------------ read-only mounts

@test "--read-only, -v :ro and the host's / cannot be made writable: remount and umount fail" {
    readonly_attack
}
