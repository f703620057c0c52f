"""security/seccomp.py: profiles compiled to BPF and loaded into a real
child process, whose system calls then say what the filter does."""

import ctypes
import errno
import os

import pytest

import kernel
from core import Fail
from security import caps, seccomp
from security.syscalls import X86_64, AARCH64

MACHINE = os.uname().machine
TABLE = {"x86_64": X86_64, "aarch64": AARCH64}[MACHINE]
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def under(program, calls):
    """Load `program` in a forked child, make `calls` (name, args) there;
    return each call's errno (0: it succeeded)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            kernel.prctl(kernel.PR_SET_NO_NEW_PRIVS, 1)
            seccomp.load(program)
            out = []
            for name, args in calls:
                result = _libc.syscall(ctypes.c_long(TABLE.get(name, name)),
                                       *[ctypes.c_long(a) for a in args])
                out.append(str(ctypes.get_errno() if result < 0 else 0))
            os.write(w, " ".join(out).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = os.read(r, 4096).decode()
    os.close(r)
    os.waitpid(pid, 0)
    return [int(x) for x in data.split()]


def test_the_default_refuses_what_docker_refuses_and_allows_the_rest():
    program = seccomp.compile(seccomp.default_profile())
    got = under(program, [("keyctl", (0,)), ("add_key", (0, 0, 0, 0, 0)), ("bpf", (0, 0, 0)),
                          ("userfaultfd", (0,)), ("kexec_load", (0, 0, 0, 0)),
                          ("unshare", (0x10000000,)), ("clone3", (0, 0)),
                          ("personality", (0x1234,)), ("personality", (0xFFFFFFFF,)),
                          ("getpid", ()), ("setns", (-1, 0))])
    assert got[:8] == [errno.EPERM] * 6 + [errno.ENOSYS, errno.EPERM]
    assert got[8:] == [0, 0, errno.EPERM]


def test_a_capability_brings_its_calls_back():
    kept = caps.DEFAULT | {caps.number("SYS_ADMIN")}
    program = seccomp.compile(seccomp.default_profile(kept), caps=kept)
    # setns(-1) reaches the kernel now, which says EBADF.
    assert under(program, [("setns", (-1, 0))]) == [errno.EBADF]


def test_calls_newer_than_the_table_fail_with_enosys_unless_allowed():
    # A default that refuses (the default profile) says ENOSYS for them, as
    # a kernel without the call would; one that allows lets the kernel say it.
    newer = 1000                  # above every table, and above every kernel yet
    refusing = seccomp.compile(seccomp.default_profile())
    assert under(refusing, [(newer, ()), ("getpid", ())]) == [errno.ENOSYS, 0]
    keyctl = {"defaultAction": "SCMP_ACT_ALLOW",
              "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99}]}
    assert under(seccomp.compile(keyctl), [(newer, ()), ("keyctl", (0,))]) == [
        errno.ENOSYS, 99]


NOPID = 4_000_000                  # above pid_max's default: no such process
FIVE = NOPID + 5


@pytest.mark.parametrize("op,value,two,hits", [
    ("SCMP_CMP_EQ", FIVE, 0, [0, 1, 0, 0]),
    ("SCMP_CMP_NE", FIVE, 0, [1, 0, 1, 1]),
    ("SCMP_CMP_LT", FIVE, 0, [1, 0, 0, 0]),
    ("SCMP_CMP_LE", FIVE, 0, [1, 1, 0, 0]),
    ("SCMP_CMP_GT", FIVE, 0, [0, 0, 1, 1]),
    ("SCMP_CMP_GE", FIVE, 0, [0, 1, 1, 1]),
    ("SCMP_CMP_MASKED_EQ", 0xFF00000000000001, 1, [0, 1, 0, 0]),
    ("SCMP_CMP_GT", 1 << 33, 0, [0, 0, 0, 1]),
])
def test_argument_conditions_compare_all_64_bits(op, value, two, hits):
    # getpgid(pid) of no such process says ESRCH; the rule says 99.
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99,
         "args": [{"index": 0, "value": value, "valueTwo": two, "op": op}]}]}
    got = under(seccomp.compile(profile), [("getpgid", (a,)) for a in
                                           (FIVE - 1, FIVE, FIVE + 1, 1 << 60 | FIVE)])
    assert got == [99 if hit else errno.ESRCH for hit in hits]


@pytest.mark.parametrize("profile,words", [
    ({"defaultAction": "SCMP_ACT_ALLOW", "colour": 1}, "unknown field 'colour'"),
    ({"defaultAction": "SCMP_ACT_MAYBE"}, "unknown action 'SCMP_ACT_MAYBE'"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]},
     "unknown architecture 'SCMP_ARCH_Z80'"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["nosuchcall"],
                                                        "action": "SCMP_ACT_ERRNO"}]},
     "unknown system call 'nosuchcall'"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]}, "index 7"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}, "unknown op"),
    ({"defaultAction": "SCMP_ACT_NOTIFY"}, "SCMP_ACT_NOTIFY"),
    ({}, "no defaultAction"),
])
def test_a_bad_profile_fails_naming_what(profile, words):
    with pytest.raises(Fail) as e:
        seccomp.compile(profile)
    assert words in str(e.value)


def test_a_call_of_the_other_architecture_is_only_skipped():
    # "open" is x86_64's only; aarch64 has openat alone.
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["open"], "action": "SCMP_ACT_ERRNO"}]}
    assert seccomp.compile(profile, "aarch64")
    assert seccomp.compile(profile, "x86_64")


def test_the_default_compiles_small_for_both_architectures():
    for arch in ("x86_64", "aarch64"):
        assert 8 * 100 < len(seccomp.compile(seccomp.default_profile(), arch)) < 8 * 400


def test_includes_and_excludes_follow_the_kept_capabilities():
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99,
         "excludes": {"caps": ["CAP_SYS_ADMIN"]}}]}
    assert under(seccomp.compile(profile), [("getpgid", (NOPID,))]) == [99]
    with_admin = caps.DEFAULT | {caps.number("SYS_ADMIN")}
    assert under(seccomp.compile(profile, caps=with_admin), [("getpgid", (NOPID,))]) == [
        errno.ESRCH]
