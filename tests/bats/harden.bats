#!/usr/bin/env bats
# Stage harden: no_new_privs, capabilities, seccomp, masked paths, fds,
# limits, and --privileged turning them off. Runs as the test user (and as
# root through tests/bats/root/harden_root.bats, which loads this file's
# helpers).

load helpers
load harden_helpers

setup() { setup_scratch; }
teardown() { teardown_scratch; }

@test "default: NoNewPrivs 1, Docker's 14 capabilities bounding, effective and permitted, a filter" {
    for root in "" "--rootfs=$ROOTFS"; do
        run -0 "$UNC" $root cat /proc/self/status
        assert_line "NoNewPrivs:	1"
        assert_line "CapBnd:	$DEFAULT_CAPS"
        assert_line "CapEff:	$DEFAULT_CAPS"
        assert_line "CapPrm:	$DEFAULT_CAPS"
        assert_line "CapInh:	0000000000000000"
        assert_line "CapAmb:	0000000000000000"
        assert_line "Seccomp:	2"
        assert_line "Seccomp_filters:	1"
    done
}

@test "the calls the default profile refuses fail as documented; others work" {
    helper_root
    run -0 "$UNC" --rootfs "$SCRATCH/rootfs" syscalls $REFUSED getpid
    assert_refused
}

@test "--seccomp=unconfined: no filter, the kernel answers those calls itself" {
    helper_root
    run -0 "$UNC" --seccomp=unconfined --rootfs "$SCRATCH/rootfs" sh -c \
        'grep "^Seccomp:" /proc/self/status; syscalls keyctl clone3 setns perf_event_open'
    assert_output $'Seccomp:\t0\nkeyctl OK\nclone3 EINVAL\nsetns EBADF\nperf_event_open EFAULT'
}

@test "--seccomp=FILE: a profile in Docker's JSON replaces the default" {
    helper_root
    cat >"$SCRATCH/profile.json" <<'JSON'
{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
 "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "comment": "x"},
              {"names": ["setns"], "action": "SCMP_ACT_ERRNO",
               "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}]}]}
JSON
    run -0 "$UNC" --seccomp="$SCRATCH/profile.json" --rootfs "$SCRATCH/rootfs" \
        syscalls getpid keyctl setns
    assert_output $'getpid EPERM\nkeyctl OK\nsetns EBADF'
}

@test "--privileged: every capability, no filter, no no_new_privs, no masks (stage net's container)" {
    helper_root
    run -0 "$UNC" --privileged --rootfs "$SCRATCH/rootfs" sh -c \
        'grep -E "^(NoNewPrivs|Seccomp|CapBnd|CapEff):" /proc/self/status; syscalls keyctl
         grep -cE " /proc/(keys|sys|kcore|timer_list) " /proc/self/mountinfo || true'
    assert_line --index 0 "CapEff:	$(all_caps)"
    assert_line --index 1 "CapBnd:	$(all_caps)"
    assert_line --index 2 "NoNewPrivs:	0"
    assert_line --index 3 "Seccomp:	0"
    assert_line --index 4 "keyctl OK"
    assert_line --index 5 "0"
    # What --stage=net gives, as before this stage existed.
    run -0 "$UNC" --stage=net grep -E "^(NoNewPrivs|CapEff):" /proc/self/status
    assert_output $'CapEff:\t'"$(all_caps)"$'\nNoNewPrivs:\t0'
}

@test "masked paths read empty; read-only paths cannot be written" {
    run -0 "$UNC" --rootfs "$ROOTFS" sh -c '
        for f in /proc/keys /proc/timer_list /proc/sched_debug /proc/kcore; do
            [ -e $f ] || continue
            size=$(wc -c <$f 2>/dev/null) && echo "$f $size" || echo "$f refused"
        done
        ls -A /sys/firmware | wc -l
        touch /sys/firmware/x 2>/dev/null || echo "firmware: read-only"
        grep -E " /proc/(sys|irq|bus|fs) " /proc/self/mountinfo | grep -vc " ro," 
        echo 1 >/proc/sys/kernel/ns_last_pid 2>/dev/null || echo "proc/sys: refused"'
    # Empty, or refused as on the host (unc does not mask what its user
    # could not read anyway: security/masks.py).
    assert_line "/proc/keys 0"
    assert_line --regexp '^/proc/timer_list (0|refused)$'
    refute_line --regexp '^/proc/.* [1-9]'
    assert_line "firmware: read-only"
    assert_line "proc/sys: refused"
    # Every read-only path that exists is a read-only mount.
    assert_line --regexp '^0$'
}

@test "--cap-drop and --cap-add change the set and what the profile allows" {
    run -0 "$UNC" --cap-drop=ALL grep CapEff /proc/self/status
    assert_output $'CapEff:\t0000000000000000'
    run -0 "$UNC" --cap-drop=all --cap-add=cap_chown --cap-add KILL grep CapBnd /proc/self/status
    assert_output $'CapBnd:\t0000000000000021'
    run -1 "$UNC" --cap-drop=CHOWN --rootfs "$ROOTFS" sh -c 'touch /tmp/f && chown 1 /tmp/f'
    # CAP_SYS_ADMIN brings mount(2) back, in the filter too.
    run -0 "$UNC" --cap-add=SYS_ADMIN --rootfs "$ROOTFS" sh -c \
        'mount -t tmpfs none /mnt && grep -c " /mnt " /proc/self/mountinfo'
    assert_output "1"
    run -1 "$UNC" --rootfs "$ROOTFS" mount -t tmpfs none /mnt
}

@test "a -u user has no capability, not even ambient ones" {
    run -0 "$UNC" --map-auto -u 1000 --rootfs "$ROOTFS" grep -E '^Cap' /proc/self/status
    assert_output $'CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t'"$DEFAULT_CAPS"$'\nCapAmb:\t0000000000000000'
}

@test "a setuid-root file of the rootfs does not raise a user's privileges" {
    helper_root
    # The test user owns the copy: it is the container's root inside.
    cp "$SCRATCH/rootfs/bin/syscalls" "$SCRATCH/rootfs/bin/suid"
    chmod 4755 "$SCRATCH/rootfs/bin/suid"
    run -0 "$UNC" --map-auto -u 1000 --rootfs "$SCRATCH/rootfs" sh -c 'ls -ln /bin/suid; suid euid'
    [[ "${lines[0]}" == "-rwsr-xr-x "*" 0 "*" 0 "* ]]
    assert_line --index 1 "euid 1000"
    run -0 "$UNC" --privileged --map-auto -u 1000 --rootfs "$SCRATCH/rootfs" suid euid
    assert_output "euid 0"
}

@test "only 0, 1 and 2 reach the command: an inherited directory fd does not leak the host" {
    echo "host file" >"$SCRATCH/file"
    # The issue's reproduction: fd 7 is the host's /.
    run -1 --separate-stderr bash -c '"$0" --rootfs "$1" cat "/proc/self/fd/7$2" 7</' \
        "$UNC" "$ROOTFS" "$SCRATCH/file"
    [[ "$stderr" == *"No such file or directory" ]]
    run -0 bash -c '"$0" --rootfs "$1" ls /proc/self/fd 7</ 9<"$2"' "$UNC" "$ROOTFS" "$SCRATCH/file"
    assert_output $'0\n1\n2\n3'           # 3: ls's own listing
    # --privileged passes them, as before.
    run -0 bash -c '"$0" --privileged --rootfs "$1" cat "/proc/self/fd/7$2" 7</' \
        "$UNC" "$ROOTFS" "$SCRATCH/file"
    assert_output "host file"
}

@test "--preserve-fds=N passes 3 to N+2 and no more" {
    echo three >"$SCRATCH/3"; echo four >"$SCRATCH/4"; echo five >"$SCRATCH/5"
    run -1 bash -c '"$0" --preserve-fds=2 --rootfs "$1" sh -c "cat <&3; cat <&4; cat <&5" \
        3<"$2/3" 4<"$2/4" 5<"$2/5"' "$UNC" "$ROOTFS" "$SCRATCH"
    assert_line --index 0 "three"
    assert_line --index 1 "four"
    assert_equal "${#lines[@]}" 3
    [[ "${lines[2]}" == *"Bad file descriptor"* ]]
}

@test "exec failures are still reported (127, 126) under the filter, with and without --init" {
    for init in "" --init; do
        run -127 --separate-stderr "$UNC" $init --rootfs "$ROOTFS" nothere
        [[ "$stderr" == "unc: nothere: command not found in the container's PATH ("*")" ]]
        run -126 --separate-stderr "$UNC" $init --rootfs "$ROOTFS" /etc/rootfs-marker
        [[ "$stderr" == "unc: /etc/rootfs-marker: cannot execute: Permission denied" ]]
    done
}

@test "--init: PID 1 has the command's filter and capabilities, no fd, and is not dumpable" {
    run -0 bash -c '"$0" --init --rootfs "$1" sh -c "
        grep -E \"^(NoNewPrivs|Seccomp|CapEff):\" /proc/1/status
        readlink /proc/1/exe || echo exe: refused
        ls /proc/1/fd || echo fd: refused" 7</' "$UNC" "$ROOTFS"
    assert_line --index 0 "CapEff:	$DEFAULT_CAPS"
    assert_line --index 1 "NoNewPrivs:	1"
    assert_line --index 2 "Seccomp:	2"
    assert_line "exe: refused"
    assert_line "fd: refused"
}

@test "--ulimit sets soft and hard limits; one above unc's own hard limit fails (125)" {
    run -0 "$UNC" --ulimit nofile=100:200 --ulimit=core=0 --rootfs "$ROOTFS" sh -c \
        'ulimit -n; ulimit -Hn; ulimit -c'
    assert_output $'100\n200\n0'
    hard=$(ulimit -Hn)
    [ "$hard" != unlimited ] || skip "the test's own hard nofile limit is unlimited"
    run -125 --separate-stderr "$UNC" --ulimit "nofile=10:$((hard + 1))" true
    assert_equal "${#stderr_lines[@]}" 1
    [[ "$stderr" == "unc: --ulimit nofile=10:$((hard + 1)): setrlimit: Operation not permitted: a container cannot raise a hard limit above the one unc was started with ($hard);"* ]]
}

@test "--pids-limit, --memory, --cpus without a delegated cgroup v2 controller: 125 saying how to delegate" {
    controllers=$(cgroup_controllers)
    [[ " $controllers " != *" pids "* ]] || skip "unc's cgroup has the pids controller here: the error path needs a host without it"
    run -125 --separate-stderr "$UNC" --pids-limit=10 true
    assert_equal "${#stderr_lines[@]}" 1
    [[ "$stderr" == "unc: --pids-limit need"*"systemd-run --user --scope -p Delegate=yes unc ..."* ]]
}

@test "bad values of the harden options: 125, one line, nothing started" {
    printf '{"defaultAction": "SCMP_ACT_ALLOW", "colour": 1}' >"$SCRATCH/bad.json"
    printf 'not json' >"$SCRATCH/garbage"
    for args in "--cap-add=FLY" "--cap-drop=CAP_" "--seccomp=$SCRATCH/nothere" \
                "--seccomp=$SCRATCH/bad.json" "--seccomp=$SCRATCH/garbage" "--seccomp=" \
                "--ulimit=nofile" "--ulimit=files=1" "--ulimit=nofile=9:3" "--preserve-fds=x" \
                "--pids-limit=0" "--memory=lots" "--cpus=many" "--privileged --cap-add=ALL"; do
        run -125 --separate-stderr "$UNC" $args touch "$SCRATCH/ran"
        assert_equal "${#stderr_lines[@]}" 1
        [[ "$stderr" == "unc: "* ]]
        [ ! -e "$SCRATCH/ran" ]
    done
    run -125 --separate-stderr "$UNC" --seccomp="$SCRATCH/bad.json" true
    assert_equal "$stderr" "unc: invalid seccomp profile: unknown field 'colour' in the profile (unc knows archMap, architectures, defaultAction, defaultErrnoRet, flags, listenerMetadata, listenerPath, syscalls)"
    run -125 --separate-stderr "$UNC" --cap-add=FLY true
    assert_equal "$stderr" "unc: invalid --cap-add 'FLY': not a capability of capabilities(7) (e.g. NET_ADMIN or CAP_NET_ADMIN, or ALL)"
}

@test "--trace shows each step of the stage" {
    run -0 --separate-stderr "$UNC" --trace --rootfs "$ROOTFS" true
    for step in "prctl(PR_SET_DUMPABLE, 0)" "prctl(PR_CAPBSET_DROP) but CAP_CHOWN" \
                "capset(effective=permitted=14 capabilities, inheritable=0); ambient cleared" \
                "prctl(PR_SET_NO_NEW_PRIVS, 1)" "close_range(3, ~0, CLOSE_RANGE_CLOEXEC)" \
                "seccomp(SECCOMP_SET_MODE_FILTER, " "mask "; do
        [[ "$stderr" == *"+ $step"* ]] || { echo "no trace of: $step"; false; }
    done
    [[ "$stderr" == *"+ mask "*"/proc/keys"*"read-only binds of "*"/proc/sys"* ]]
}

@test "unc inside a default container is refused and says to use --privileged outside (125)" {
    cp -a "$ROOTFS" "$SCRATCH/rootfs"
    run -125 --separate-stderr "$UNC" -e UNC_CACHE_DIR=/tmp/unc -v "$UNC:/bin/unc:ro" \
        --rootfs "$SCRATCH/rootfs" /bin/unc true
    [[ "$stderr" == "unc: cannot create the container's namespaces: unshare: Operation not permitted;"*"inside unc, start the outer container with --privileged)" ]]
    run -0 "$UNC" --privileged -e UNC_CACHE_DIR=/tmp/unc -v "$UNC:/bin/unc:ro" \
        --rootfs "$SCRATCH/rootfs" /bin/unc sh -c 'echo $$'
    assert_output "1"
}
