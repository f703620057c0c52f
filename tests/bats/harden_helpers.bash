# Helpers of harden.bats and root/harden_root.bats.

# Docker's 14: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
# NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
DEFAULT_CAPS=00000000a80425fb
# Refused by the default profile (clone3 with ENOSYS, the rest with EPERM).
REFUSED="keyctl add_key request_key bpf perf_event_open userfaultfd kexec_load
 open_by_handle_at unshare setns mount clone3 io_uring_setup"

# The output of `syscalls $REFUSED getpid` under the default filter.
assert_refused() {
    assert_output "$(printf '%s EPERM\n' $REFUSED | sed 's/^clone3 EPERM$/clone3 ENOSYS/')
getpid OK"
}

# Every capability this kernel has, as /proc/PID/status shows a full set.
all_caps() {
    printf '%016x' $(( (1 << ($(cat /proc/sys/kernel/cap_last_cap) + 1)) - 1 ))
}

# A copy of the busybox root with tests/bats/helpers/syscalls.c in /bin.
helper_root() {
    cp -a "$ROOTFS" "$SCRATCH/rootfs"
    gcc -static -O2 -o "$SCRATCH/rootfs/bin/syscalls" "$BATS_TEST_DIRNAME/helpers/syscalls.c" \
        2>/dev/null \
        || gcc -static -O2 -o "$SCRATCH/rootfs/bin/syscalls" \
            "$BATS_TEST_DIRNAME/../helpers/syscalls.c"
}

# The controllers of unc's cgroup v2 group, as the caller's.
cgroup_controllers() {
    local mount path
    mount=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
    path=$(sed -n 's/^0:://p' /proc/self/cgroup)
    [ -n "$mount" ] && cat "$mount$path/cgroup.controllers" 2>/dev/null
}
