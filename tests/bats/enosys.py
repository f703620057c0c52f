#!/usr/bin/env python3
"""Run a command on a kernel that lacks some system calls, as an older one does.

    enosys.py SYSCALL... -- COMMAND [ARG...]

A seccomp filter makes each named call fail with ENOSYS, as on a kernel that
predates it, then the command is executed; the filter holds for it and for
every process it starts (fork and execve keep it), so the real dist/unc and
its container see the same older kernel. PR_SET_NO_NEW_PRIVS, which an
unprivileged seccomp filter needs, keeps setuid programs from gaining
privileges in there; unc starts none.

Known calls: mount_setattr (Linux 5.12), openat2 (5.6), open_tree (5.2).
"""

import ctypes
import os
import struct
import sys

# Numbers shared by x86_64 and aarch64 (calls added after the tables were unified).
SYSCALLS = {"open_tree": 428, "openat2": 437, "mount_setattr": 442}
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}[os.uname().machine]

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
ENOSYS = 38
# Classic BPF opcodes (<linux/filter.h>)
LD_W_ABS = 0x20          # BPF_LD | BPF_W | BPF_ABS
JEQ_K = 0x15             # BPF_JMP | BPF_JEQ | BPF_K
RET_K = 0x06             # BPF_RET | BPF_K


def insn(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


def program(numbers):
    """struct seccomp_data: nr at offset 0, arch at 4."""
    code = [insn(LD_W_ABS, 0, 0, 4),
            insn(JEQ_K, 1, 0, AUDIT_ARCH),
            insn(RET_K, 0, 0, SECCOMP_RET_ALLOW),      # another ABI: leave it alone
            insn(LD_W_ABS, 0, 0, 0)]
    for n, number in enumerate(numbers):
        left = len(numbers) - n - 1                     # checks after this one
        code.append(insn(JEQ_K, left + 1, 0, number))   # to the ENOSYS return
    code.append(insn(RET_K, 0, 0, SECCOMP_RET_ALLOW))
    code.append(insn(RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS))
    return b"".join(code)


def main(argv):
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        sys.exit("usage: enosys.py SYSCALL... -- COMMAND [ARG...]")
    split = argv.index("--")
    names, command = argv[:split], argv[split + 1:]
    try:
        numbers = [SYSCALLS[name] for name in names]
    except KeyError as e:
        sys.exit(f"enosys.py: unknown system call {e}; known: {', '.join(SYSCALLS)}")
    code = program(numbers)
    filt = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("HxxxxxxP", len(code) // 8, ctypes.addressof(filt))
    fprog_buf = ctypes.create_string_buffer(fprog)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p,
                           ctypes.c_ulong, ctypes.c_ulong)
    for args in ((PR_SET_NO_NEW_PRIVS, 1, None, 0, 0),
                 (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog_buf), 0, 0)):
        if libc.prctl(*args) != 0:
            sys.exit(f"enosys.py: prctl({args[0]}): {os.strerror(ctypes.get_errno())}")
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
