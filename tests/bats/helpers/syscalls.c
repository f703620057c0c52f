/* The system calls the default seccomp profile refuses, and one it allows,
 * each called with harmless arguments; prints NAME ERRNO-NAME (or OK) a
 * line; "euid" prints the effective uid (for a setuid copy of it).
 * tests/bats/harden.bats compiles it statically into a --rootfs. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

static long call(const char *name)
{
    if (!strcmp(name, "keyctl"))            /* KEYCTL_GET_KEYRING_ID of the session keyring */
        return syscall(SYS_keyctl, 0, -3, 0);
    if (!strcmp(name, "add_key"))
        return syscall(SYS_add_key, "user", "unc-test", "x", 1, -2);
    if (!strcmp(name, "request_key"))
        return syscall(SYS_request_key, "user", "unc-test", NULL, 0);
    if (!strcmp(name, "bpf"))                /* BPF_PROG_LOAD of nothing */
        return syscall(SYS_bpf, 5, NULL, 0);
    if (!strcmp(name, "perf_event_open"))
        return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
    if (!strcmp(name, "userfaultfd"))
        return syscall(SYS_userfaultfd, 0);
    if (!strcmp(name, "kexec_load"))
        return syscall(SYS_kexec_load, 0, 0, NULL, 0);
    if (!strcmp(name, "open_by_handle_at"))
        return syscall(SYS_open_by_handle_at, -1, NULL, 0);
    if (!strcmp(name, "unshare"))
        return syscall(SYS_unshare, CLONE_NEWUSER);
    if (!strcmp(name, "setns"))
        return syscall(SYS_setns, -1, 0);
    if (!strcmp(name, "mount"))
        return syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL);
    if (!strcmp(name, "clone3"))
        return syscall(SYS_clone3, NULL, 0);
    if (!strcmp(name, "io_uring_setup"))
        return syscall(SYS_io_uring_setup, 1, NULL);
    if (!strcmp(name, "getpid"))
        return syscall(SYS_getpid);
    errno = ENOENT;
    return -2;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "euid")) {      /* what a setuid bit gave */
            printf("euid %d\n", (int)geteuid());
            continue;
        }
        errno = 0;
        long result = call(argv[i]);
        if (result == -2 && errno == ENOENT) {
            printf("%s unknown\n", argv[i]);
            continue;
        }
        printf("%s %s\n", argv[i], result < 0 ? strerrorname_np(errno) : "OK");
    }
    return 0;
}
