#!/usr/bin/env bats
# Stage mount: own root filesystem, /proc, /dev, /sys, /tmp and user mounts.

load helpers

setup() { setup_scratch; }
teardown() { teardown_scratch; }

@test "inside --rootfs: hostname unc, PID 1, only the container's processes" {
    run -0 "$UNC" --rootfs "$ROOTFS" sh -c 'hostname; echo $$; ls /proc | grep -c "^[0-9]"'
    assert_line --index 0 "unc"
    assert_line --index 1 "1"
    [ "${lines[2]}" -le 3 ]
}

@test "ps inside lists only the container's processes" {
    run -0 "$UNC" --rootfs "$ROOTFS" ps -o pid,comm
    assert_line --index 1 --regexp '^ +1 +ps$'
    assert_equal "${#lines[@]}" 2
}

@test "ls / shows the rootfs; host-only files are invisible" {
    echo secret > "$SCRATCH/hostname_only_on_host"
    run -0 "$UNC" --rootfs "$ROOTFS" cat /etc/rootfs-marker
    assert_output "only in the test rootfs"
    run -1 "$UNC" --rootfs "$ROOTFS" cat "$SCRATCH/hostname_only_on_host"
    run -1 "$UNC" --rootfs "$ROOTFS" ls /home
    run -0 "$UNC" --rootfs "$ROOTFS" ls /
    assert_output "$(ls "$ROOTFS")"
}

@test "the old root is detached: no mount of the host tree is left inside" {
    run -0 "$UNC" --rootfs "$ROOTFS" cat /proc/self/mountinfo
    refute_output --partial "newroot"
    # The root mount is the rootfs itself, not the host's /.
    run -0 "$UNC" --rootfs "$ROOTFS" sh -c 'ls -di / | cut -d" " -f1'
    assert_output "$(ls -di "$ROOTFS" | cut -d' ' -f1)"
}

@test "/dev/null, /dev/zero, /dev/full and /dev/urandom work" {
    run -0 "$UNC" --rootfs "$ROOTFS" sh -c \
        'echo x > /dev/null && head -c 4 /dev/zero | od -An -tx1 && head -c 8 /dev/urandom | wc -c'
    assert_line --index 0 " 00 00 00 00"
    assert_line --index 1 "8"
    run -1 "$UNC" --rootfs "$ROOTFS" sh -c 'echo x > /dev/full'
}

@test "/dev holds only the minimal set and the standard links" {
    run -0 "$UNC" --rootfs "$ROOTFS" ls /dev
    assert_output "$(printf '%s\n' fd full null ptmx pts random shm stderr stdin stdout tty urandom zero)"
    run -0 "$UNC" --rootfs "$ROOTFS" sh -c 'readlink /dev/ptmx; readlink /dev/fd; readlink /dev/stdout'
    assert_output $'pts/ptmx\n/proc/self/fd\n/proc/self/fd/1'
}

@test "a pty can be opened through /dev/ptmx (python3 on the host root)" {
    run -0 "$UNC" "$PYTHON" -c 'import os, pty; m, s = pty.openpty(); print(os.ttyname(s))'
    assert_output "/dev/pts/0"
}

@test "/dev/shm is a writable tmpfs" {
    run -0 "$UNC" --rootfs "$ROOTFS" sh -c 'echo x > /dev/shm/f && cat /dev/shm/f'
    assert_output "x"
}

@test "/proc is fresh with nosuid,nodev,noexec" {
    run -0 "$UNC" --rootfs "$ROOTFS" grep " /proc " /proc/self/mounts
    assert_output --regexp '^proc /proc proc rw,nosuid,nodev,noexec'
}

@test "/sys is read-only" {
    run -0 "$UNC" --rootfs "$ROOTFS" grep " /sys " /proc/self/mounts
    assert_output --regexp ' /sys [a-z0-9]+ ro[,]'
    run -1 "$UNC" --rootfs "$ROOTFS" touch /sys/x
}

@test "-v SRC:DST binds read-write" {
    echo a > "$SCRATCH/f"
    run -0 "$UNC" --rootfs "$ROOTFS" -v "$SCRATCH:/data" sh -c 'cat /data/f; echo b > /data/g'
    assert_output "a"
    assert_equal "$(cat "$SCRATCH/g")" "b"
}

@test "-v SRC:DST:ro: a write fails with EROFS and the host file is unchanged" {
    echo a > "$SCRATCH/f"
    run -1 "$UNC" --rootfs "$ROOTFS" -v "$SCRATCH:/data:ro" sh -c 'echo b > /data/f'
    assert_output --partial "Read-only file system"
    assert_equal "$(cat "$SCRATCH/f")" "a"
}

@test "--volume binds a single file, creating an empty file as mount point" {
    echo content > "$SCRATCH/file"
    run -0 "$UNC" --rootfs "$ROOTFS" --volume="$SCRATCH/file:/etc/bound-$BATS_TEST_NUMBER" \
        cat "/etc/bound-$BATS_TEST_NUMBER"
    assert_output "content"
    [ -f "$ROOTFS/etc/bound-$BATS_TEST_NUMBER" ] && [ ! -s "$ROOTFS/etc/bound-$BATS_TEST_NUMBER" ]
}

@test "a read-only bind keeps the flags the kernel locked (nosuid,nodev,noexec)" {
    # A tmpfs mounted with those flags in an outer user namespace: to unc's
    # own user namespace they are locked, so a remount that drops one fails.
    run -1 unshare -Urm sh -c '
        mount -t tmpfs -o nosuid,nodev,noexec tmpfs "$1" && echo x > "$1/f" &&
        exec "$0" --rootfs "$2" -v "$1:/locked:ro" sh -c "cat /locked/f; grep \" /locked \" /proc/self/mounts; echo y > /locked/f"
    ' "$UNC" "$SCRATCH" "$ROOTFS"
    assert_line --index 0 "x"
    assert_line --index 1 --regexp ' /locked tmpfs ro,nosuid,nodev,noexec'
    assert_output --partial "Read-only file system"
}

@test "--read-only makes the rootfs read-only and gives a tmpfs /tmp" {
    run -1 "$UNC" --rootfs "$ROOTFS" --read-only touch /etc/x
    assert_output --partial "Read-only file system"
    run -0 "$UNC" --rootfs "$ROOTFS" --read-only sh -c 'touch /tmp/x && echo ok'
    assert_output "ok"
    [ ! -e "$ROOTFS/etc/x" ]
}

@test "--read-only keeps volumes writable" {
    run -0 "$UNC" --rootfs "$ROOTFS" --read-only -v "$SCRATCH:/data" sh -c 'echo w > /data/w'
    assert_equal "$(cat "$SCRATCH/w")" "w"
}

@test "--tmpfs mounts an empty writable tmpfs" {
    run -0 "$UNC" --rootfs "$ROOTFS" --tmpfs=/scratch-$BATS_TEST_NUMBER --tmpfs /etc \
        sh -c "ls -A /etc | wc -l; touch /scratch-$BATS_TEST_NUMBER/y && grep -c ' /etc tmpfs' /proc/self/mounts"
    assert_output $'0\n1'
}

@test "nested mounts stack parents first whatever the order given" {
    mkdir "$SCRATCH/inner"
    echo inner > "$SCRATCH/inner/f"
    run -0 "$UNC" --rootfs "$ROOTFS" -v "$SCRATCH/inner:/top/inner" --tmpfs /top cat /top/inner/f
    assert_output "inner"
}

@test "hostile rootfs: a symlinked /mnt cannot make -v land in a host directory" {
    cp -a "$ROOTFS" "$SCRATCH/root"
    mkdir "$SCRATCH/hostdir"
    rm -rf "$SCRATCH/root/mnt"
    ln -s "$SCRATCH/hostdir" "$SCRATCH/root/mnt"
    ln -s ../../../../../../../../.. "$SCRATCH/root/up"
    mkdir "$SCRATCH/vol"
    run -0 "$UNC" --rootfs "$SCRATCH/root" -v "$SCRATCH/vol:/mnt/y" sh -c 'echo z > /mnt/y/z'
    run -0 "$UNC" --rootfs "$SCRATCH/root" -v "$SCRATCH/vol:/up$SCRATCH/hostdir/w" true
    run -0 "$UNC" --rootfs "$SCRATCH/root" --tmpfs "/../..$SCRATCH/hostdir/t" true
    # Nothing was created or mounted in the host directory.
    assert_equal "$(ls -A "$SCRATCH/hostdir")" ""
    # The mount points were created inside the rootfs instead.
    [ -d "$SCRATCH/root$SCRATCH/hostdir/y" ]
    [ -d "$SCRATCH/root$SCRATCH/hostdir/w" ]
    [ -d "$SCRATCH/root$SCRATCH/hostdir/t" ]
}

@test "bad mount arguments are 125 errors naming the argument, nothing created" {
    run -125 --separate-stderr "$UNC" --rootfs "$ROOTFS" -v relative:/x true
    assert_equal "$stderr" "unc: invalid --volume 'relative:/x': the source must be an absolute path"
    run -125 --separate-stderr "$UNC" --rootfs "$ROOTFS" -v "$SCRATCH:relative" true
    assert_equal "$stderr" "unc: invalid --volume '$SCRATCH:relative': the destination must be an absolute path"
    run -125 --separate-stderr "$UNC" --rootfs "$ROOTFS" -v "/no/such:/x" true
    assert_equal "$stderr" "unc: invalid --volume '/no/such:/x': the source /no/such does not exist"
    run -125 --separate-stderr "$UNC" --rootfs "$ROOTFS" -v "a:b:c:d" true
    [[ "$stderr" == "unc: invalid --volume 'a:b:c:d': use SRC:DST"* ]]
    run -125 --separate-stderr "$UNC" --rootfs "$ROOTFS" -v "$SCRATCH:/x:rx" true
    [[ "$stderr" == "unc: invalid --volume '$SCRATCH:/x:rx'"* ]]
    run -125 --separate-stderr "$UNC" --rootfs "$ROOTFS" --tmpfs relative true
    assert_equal "$stderr" "unc: invalid --tmpfs 'relative': the destination must be an absolute path"
    run -125 --separate-stderr "$UNC" --rootfs "$SCRATCH/missing" true
    assert_equal "$stderr" "unc: invalid --rootfs '$SCRATCH/missing': it does not exist"
    touch "$SCRATCH/file"
    run -125 --separate-stderr "$UNC" --rootfs "$SCRATCH/file" true
    assert_equal "$stderr" "unc: invalid --rootfs '$SCRATCH/file': not a directory"
    run -125 --separate-stderr "$UNC" --rootfs= true
    assert_equal "$stderr" "unc: invalid --rootfs '': give the directory to use as the root"
    [ ! -e "$ROOTFS/x" ] && [ ! -e "$ROOTFS/relative" ]
}

@test "--read-only without --rootfs is refused (the host root is read-only already)" {
    run -125 --separate-stderr "$UNC" --read-only true
    [[ "$stderr" == "unc: --read-only needs --rootfs"* ]]
}

@test "mount options need the mount stage" {
    run -125 --separate-stderr "$UNC" --stage=uts --rootfs "$ROOTFS" true
    assert_equal "$stderr" "unc: --rootfs needs --stage=mount or a later stage"
    run -125 --separate-stderr "$UNC" --stage=uts -v /tmp:/x true
    assert_equal "$stderr" "unc: --volume needs --stage=mount or a later stage"
}

@test "no mount made in the container is visible on the host afterwards" {
    before=$(cut -d' ' -f5 /proc/self/mountinfo | sort)
    run -0 "$UNC" --rootfs "$ROOTFS" -v "$SCRATCH:/data" --tmpfs /t sh -c 'grep -c . /proc/self/mountinfo'
    run -0 "$UNC" -v "$SCRATCH:/mnt" true
    assert_equal "$(cut -d' ' -f5 /proc/self/mountinfo | sort)" "$before"
}

@test "without --rootfs the host is read-only, even where the user may write" {
    # Not under /tmp: the container has a tmpfs of its own there.
    mine=$(mktemp -d "$HOME/unc-scratch.XXXXXX")
    [ -w "$mine" ]
    run -1 "$UNC" touch "$mine/x"
    assert_output --partial "Read-only file system"
    [ ! -e "$mine/x" ]
    rmdir "$mine"
    run -2 "$UNC" sh -c "echo x > \"$HOME/unc-test-$BATS_TEST_NUMBER\""
    [ ! -e "$HOME/unc-test-$BATS_TEST_NUMBER" ]
}

@test "without --rootfs: host tools run, /tmp is a fresh tmpfs, /proc is the container's" {
    run -0 "$UNC" sh -c 'ls -A /tmp | wc -l; touch /tmp/x && echo writable; ls /proc | grep -c "^[0-9]"'
    assert_line --index 0 "0"
    assert_line --index 1 "writable"
    [ "${lines[2]}" -le 3 ]
}

@test "without --rootfs the working directory is kept where it exists inside" {
    cd "$HOME"
    run -0 "$UNC" pwd
    assert_output "$HOME"
    cd /tmp
    run -0 "$UNC" pwd
    assert_output "/tmp"
}

@test "-v without --rootfs mounts onto an existing host path" {
    echo a > "$SCRATCH/f"
    run -0 "$UNC" -v "$SCRATCH:/mnt" cat /mnt/f
    assert_output "a"
}

@test "-v without --rootfs to a missing path explains the read-only root (125)" {
    run -125 --separate-stderr "$UNC" -v "$SCRATCH:/no-such-dir-$BATS_TEST_NUMBER" true
    [[ "$stderr" == "unc: cannot create the mount point /no-such-dir-$BATS_TEST_NUMBER in the container: Read-only file system; create it"*"read-only"* ]]
}

@test "--trace shows every mount, the pivot_root and the detach of the old root" {
    run -0 --separate-stderr "$UNC" --trace --rootfs "$ROOTFS" -v "$SCRATCH:/data:ro" true
    [[ "$stderr" == *"unshare(CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWUTS|CLONE_NEWNS|CLONE_NEWIPC"* ]]
    [[ "$stderr" == *'mount("none", "/", NULL, MS_REC|MS_PRIVATE)'* ]]
    [[ "$stderr" == *"mount(\"$ROOTFS\", \"/tmp/newroot\", NULL, MS_BIND|MS_REC)"* ]]
    [[ "$stderr" == *'mount("proc", "/tmp/newroot/proc", "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC)'* ]]
    [[ "$stderr" == *'mount("/dev/null", "/tmp/newroot/dev/null", NULL, MS_BIND|MS_REC)'* ]]
    [[ "$stderr" == *'"devpts"'* ]]
    [[ "$stderr" == *"mount(\"$SCRATCH\", \"/tmp/newroot/data\", NULL, MS_BIND|MS_REC); mount(\"none\", \"/tmp/newroot/data\", NULL, MS_RDONLY|MS_REMOUNT|MS_BIND)"* ]]
    [[ "$stderr" == *'pivot_root(".", "."); umount2(".", MNT_DETACH)'* ]]
}

@test "--stage=uts and --stage=user_pid still see the host's /proc and files" {
    run -0 "$UNC" --stage=uts sh -c 'hostname; ls /proc | grep -c "^[0-9]"'
    assert_line --index 0 "unc"
    [ "${lines[1]}" -gt 3 ]
    run -0 "$UNC" --stage=user_pid sh -c "touch '$SCRATCH/w' && echo writable"
    assert_output "writable"
}

@test "a refused fresh /proc is explained (125); --bind-proc binds the host's instead" {
    # A namespace whose only procfs has parts covered: the kernel then
    # refuses a fresh one (mount_too_revealing), as inside many other containers.
    run -125 --separate-stderr in_proc_namespace covered /mnt/unc true
    [[ "$stderr" == "unc: cannot mount a fresh /proc: the kernel refuses it because parts of the host's /proc are covered"*"--bind-proc"* ]]
    # The bound procfs is the namespace's, whose PID 1 is unc, not the
    # container's sh.
    run -0 in_proc_namespace covered /mnt/unc --bind-proc sh -c 'cat /proc/1/comm'
    assert_output "unc"
    # With that procfs fully visible, a fresh one: PID 1 is the container's.
    run -0 in_proc_namespace visible /mnt/unc sh -c 'cat /proc/1/comm'
    assert_output "sh"
}

@test "the IPC namespace is the container's own" {
    host_ipc=$(readlink /proc/self/ns/ipc)
    run -0 "$UNC" --rootfs "$ROOTFS" readlink /proc/self/ns/ipc
    assert_output --regexp '^ipc:\[[0-9]+\]$'
    refute_output "$host_ipc"
    run -0 "$UNC" --stage=uts readlink /proc/self/ns/ipc
    assert_output "$host_ipc"
}

@test "a directory bound onto a file is explained with container paths (125)" {
    run -125 --separate-stderr "$UNC" --rootfs "$ROOTFS" -v "$SCRATCH:/etc/passwd" true
    assert_equal "$stderr" "unc: cannot mount on /etc/passwd in the container: one of the source and the destination is a directory and the other is not; use a destination of the same kind as the source"
}

@test "with its own network namespace the container gets a fresh sysfs that shows it" {
    run -0 "$UNC" --rootfs "$ROOTFS" sh -c 'grep " /sys " /proc/self/mounts; ls /sys/class/net'
    assert_line --index 0 --regexp '^sysfs /sys sysfs ro,nosuid,nodev,noexec'
    assert_line --index 1 "lo"
    assert_equal "${#lines[@]}" 2
}

@test "at --stage=mount (the host's network) /sys is the host's, bound read-only" {
    run -0 "$UNC" --stage=mount --rootfs "$ROOTFS" sh -c 'grep " /sys " /proc/self/mounts; ls /sys/class/net'
    assert_line --index 0 --regexp '^sysfs /sys sysfs ro[,]'
    assert_output --partial "$(ls /sys/class/net | grep -v '^lo$' | head -n 1)"
    run -1 "$UNC" --stage=mount --rootfs "$ROOTFS" touch /sys/kernel/x
}

@test "containers started together on one rootfs create the same mount point safely" {
    pids=()
    for i in 1 2 3 4 5 6 7 8; do
        "$UNC" --rootfs "$ROOTFS" -v "$SCRATCH:/par-$BATS_TEST_NUMBER/a/b" true 3>&- &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do
        wait "$pid"
    done
    [ -d "$ROOTFS/par-$BATS_TEST_NUMBER/a/b" ]
}

@test "on a terminal, the caller's terminal is /dev/console inside, so tty names it" {
    DRIVER="$BATS_TEST_DIRNAME/pty_driver.py"
    for root in "" "--rootfs=$ROOTFS"; do
        run -0 "$PYTHON" "$DRIVER" expect="tty is /dev/console" exited \
            -- "$UNC" $root sh -c 'echo "tty is $(tty)"; echo hi > /dev/console'
        assert_output --partial "hi"
    done
    # Without a terminal there is none to bind.
    run -0 "$UNC" --rootfs "$ROOTFS" sh -c 'tty; [ -e /dev/console ] || echo "no console"' \
        </dev/null
    assert_output $'not a tty\nno console'
}

@test "before Linux 5.12 (no mount_setattr), each mount under the host's / is remounted read-only" {
    # The sources, with mount_setattr(2) failing as on an old kernel.
    old_kernel='import errno, runpy, sys
sys.path.insert(0, sys.argv[1])
import kernel
def mount_setattr(*args):
    raise OSError(errno.ENOSYS, "mount_setattr: Function not implemented")
kernel.mount_setattr = mount_setattr
sys.argv = [sys.argv[1] + "/unc.py"] + sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")'
    # A host mount below / whose path has a space (mountinfo escapes it),
    # with flags the kernel locks: mounted in an outer user namespace. Not
    # under /tmp, where the container has a tmpfs of its own.
    top=$(mktemp -d "$HOME/unc-old-kernel.XXXXXX")
    mkdir "$top/a dir"
    run unshare -Urm sh -c '
        mount -t tmpfs -o nosuid,nodev tmpfs "$3/a dir" || exit 99
        exec "$0" -S -I -c "$1" "$2" --trace sh -c "
            touch \"$3/a dir/x\"; touch \"$3/y\"; true"
    ' "$PYTHON" "$old_kernel" "$UNC_SRC" "$top"
    rm -rf "$top"
    assert_success
    assert_output --partial "touch: cannot touch '$top/a dir/x': Read-only file system"
    assert_output --partial "touch: cannot touch '$top/y': Read-only file system"
    # The fallback remounted each of them (the trace shows the plan's step).
    assert_output --partial "mount_setattr("
}

@test "before Linux 5.12 (no mount_setattr), host mounts below /tmp do not stop dist/unc" {
    # The real binary on a kernel without mount_setattr (a seccomp filter
    # answers ENOSYS), with mounts below /tmp that this test makes in a
    # mount namespace of its own: one the container's staging tmpfs on /tmp
    # would hide, and one that no path reaches (another mount covers it).
    below=$(mktemp -d /tmp/unc-below.XXXXXX)
    run unshare -Urm sh -c '
        mount -t tmpfs -o nosuid,nodev tmpfs "$3" && mkdir -p "$3/a/b" &&
        mount -t tmpfs tmpfs "$3/a/b" && mount -t tmpfs tmpfs "$3/a" || exit 99
        "$0" "$1" mount_setattr -- "$2" true || exit
        exec "$0" "$1" mount_setattr -- "$2" --trace sh -c "
            [ ! -e \"$3\" ] && touch /tmp/x && echo fresh /tmp"
    ' "$PYTHON" "$BATS_TEST_DIRNAME/enosys.py" "$UNC" "$below"
    rmdir "$below"
    assert_success
    assert_line "fresh /tmp"
    # The mount no path reaches cannot be made read-only, nor revealed.
    assert_output --partial "  /tmp/newroot$below/a/b: no path reaches it (another mount covers it): skipped"
    refute_output --partial "unc: "
}
