"""seccomp: a compiler from Docker's seccomp JSON to classic BPF, loading it, and the default profile.

API (for stages/harden.py, build.sh, `unc exec` and the OCI runtime's
linux.seccomp, which has the same shape):

    compile(profile, arch=None, caps=None) -> bytes
        `profile` a dict as Docker's JSON: defaultAction, defaultErrnoRet,
        architectures (or archMap), flags, syscalls [{names, action,
        errnoRet, args [{index, value, valueTwo, op}], includes, excludes,
        comment}]; `arch` "x86_64" or "aarch64" (default: this machine's);
        `caps` the capability numbers the container keeps, for the rules'
        includes/excludes {"caps": [...]} (default: Docker's 14). Fail
        naming an unknown field, action, operator, architecture or value.
    load(program)     loads it into this thread (with no_new_privs set, or
                      CAP_SYS_ADMIN: the kernel's condition)
    default_profile(caps)   unc's default, the semantics of Docker's
    read(path)        a profile file, parsed (Fail on bad JSON)

What a filter is (seccomp(2))
    A program in classic BPF, the packet filter language, that the kernel
    runs on every system call the process makes: it reads the call's
    number, the architecture and the six arguments (struct seccomp_data)
    and returns an action: allow it, fail it with an errno, kill the
    process. It is inherited by children and kept across execve(2), and
    can never be removed, only stacked. Loading one needs no_new_privs, so
    that a setuid program cannot be made to run under a filter its owner
    did not choose.

The program this compiler writes
    1. The architecture first: a call made through another ABI (i386's int
       0x80 on x86_64, arm32 on aarch64) has other numbers, so it is killed
       (SECCOMP_RET_KILL_PROCESS); 32-bit programs therefore need
       --seccomp=unconfined.
    2. The call's number, looked up by binary search over ranges of
       numbers with one outcome (about 9 comparisons for any call, where a
       list would take hundreds); a jump further than the 255 instructions
       a conditional jump can reach goes through an unconditional one.
    3. A call with argument rules checks each rule's conditions, 64-bit
       values compared as two 32-bit halves, and takes the first rule
       that matches, else the default action.
    4. Numbers above the highest call the table knows fail with ENOSYS
       unless the default allows them, as runc does: a kernel newer than
       the profile then looks, to glibc, like a kernel without the call, so
       it falls back (clone3 to clone, fchmodat2 to fchmodat).

The default profile (default_profile)
    Docker's semantics, in unc's words: every call is allowed but those
    that reach kernel facilities no container owns or that have a history
    of exploits, which fail with EPERM: the kernel keyring (add_key,
    keyctl, request_key), modules, kexec and reboot, bpf, perf_event_open,
    userfaultfd, io_uring, swap, accounting, the clock, NUMA policy, the
    old ABIs (uselib, ustat, sysfs, _sysctl, vm86), file handles
    (open_by_handle_at: the "shocker" escape), and everything that makes
    namespaces or mounts (unshare, setns, mount, pivot_root, the new mount
    API, clone with CLONE_NEW* flags). clone3 fails with ENOSYS, since its
    flags sit in memory a filter cannot read, so glibc falls back to
    clone, whose flags it can. personality is allowed for the few
    personas programs ask for. A capability added with --cap-add brings
    back the calls it governs (CAP_SYS_ADMIN: mount, unshare, setns...;
    CAP_SYS_PTRACE: process_vm_readv, kcmp...; CAP_SYS_TIME: the clock),
    as in Docker.
"""

import errno
import os

from core import Fail

# <linux/seccomp.h> actions
RET = {"SCMP_ACT_KILL": 0x00000000, "SCMP_ACT_KILL_THREAD": 0x00000000,
       "SCMP_ACT_KILL_PROCESS": 0x80000000, "SCMP_ACT_TRAP": 0x00030000,
       "SCMP_ACT_ERRNO": 0x00050000, "SCMP_ACT_TRACE": 0x7FF00000,
       "SCMP_ACT_LOG": 0x7FFC0000, "SCMP_ACT_ALLOW": 0x7FFF0000}
ALLOW = RET["SCMP_ACT_ALLOW"]
KILL_PROCESS = RET["SCMP_ACT_KILL_PROCESS"]

# <linux/audit.h>: the ABI a call came through, in seccomp_data.arch.
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
# Docker's and libseccomp's names of the architectures, and Go's.
ARCH_NAMES = {"x86_64": ("SCMP_ARCH_X86_64", "amd64"),
              "aarch64": ("SCMP_ARCH_AARCH64", "arm64")}
KNOWN_ARCHES = {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM",
                "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
                "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
                "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
                "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
                "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64"}
FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
         "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}
OPS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
       "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ")

TOP_FIELDS = {"defaultAction", "defaultErrnoRet", "architectures", "archMap", "flags",
              "syscalls", "listenerPath", "listenerMetadata"}
RULE_FIELDS = {"names", "name", "action", "errnoRet", "args", "includes", "excludes",
               "comment"}
ARG_FIELDS = {"index", "value", "valueTwo", "op"}
FILTER_FIELDS = {"caps", "arches", "minKernel"}

# Classic BPF (<linux/filter.h>)
LD_ABS = 0x20          # BPF_LD | BPF_W | BPF_ABS
AND_K = 0x54           # BPF_ALU | BPF_AND | BPF_K
JA = 0x05              # BPF_JMP | BPF_JA
JEQ = 0x15             # BPF_JMP | BPF_JEQ | BPF_K
JGT = 0x25
JGE = 0x35
RET_K = 0x06           # BPF_RET | BPF_K
NR, ARCH, ARGS = 0, 4, 16          # offsets in struct seccomp_data

# ------------------------------------------------------------ the default

# Calls no capability brings back. The names cover both architectures; a
# name an architecture lacks is skipped there.
REFUSED = """
    add_key keyctl request_key
    create_module get_kernel_syms query_module kexec_load kexec_file_load
    swapon swapoff nfsservctl uselib ustat sysfs _sysctl vm86 vm86old
    userfaultfd io_uring_setup io_uring_enter io_uring_register
    afs_syscall tuxcall security getpmsg putpmsg vserver
""".split()

# Calls that the given capability brings back, as Docker's profile does.
BY_CAPABILITY = {
    "SYS_ADMIN": """bpf fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount
                    mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd
                    setdomainname sethostname setns syslog umount umount2 unshare
                    pivot_root""",
    "SYS_BOOT": "reboot",
    "SYS_CHROOT": "chroot",
    "SYS_MODULE": "delete_module init_module finit_module",
    "SYS_PACCT": "acct",
    "SYS_PTRACE": "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev",
    "SYS_RAWIO": "iopl ioperm",
    "SYS_TIME": "settimeofday stime clock_settime clock_adjtime",
    "SYS_TTY_CONFIG": "vhangup",
    "SYS_NICE": "get_mempolicy mbind set_mempolicy set_mempolicy_home_node migrate_pages "
                "move_pages",
    "SYSLOG": "syslog",
    "BPF": "bpf",
    "PERFMON": "perf_event_open",
    "DAC_READ_SEARCH": "open_by_handle_at",
}

# clone(2)'s flags that make namespaces (<linux/sched.h>); its first
# argument on x86_64 and aarch64.
CLONE_NAMESPACES = 0x7E020000
# personality(2): PER_LINUX, PER_LINUX32, UNAME26, both, and the query.
PERSONAS = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)


def default_profile(caps=None):
    """unc's default profile for a container that keeps `caps` (numbers;
    default Docker's 14), in Docker's JSON shape."""
    from security import caps as capabilities
    from security.syscalls import AARCH64, X86_64
    caps = capabilities.DEFAULT if caps is None else caps
    held = {capabilities.NAMES[c] for c in caps}
    gated = set()
    for cap, calls in BY_CAPABILITY.items():
        gated.update(calls.split())
    granted = set()
    for cap, calls in BY_CAPABILITY.items():
        if cap in held:
            granted.update(calls.split())
    special = {"clone", "clone3", "personality"}
    allowed = (set(X86_64) | set(AARCH64)) - set(REFUSED) - (gated - granted) - special
    rules = [{"names": sorted(allowed), "action": "SCMP_ACT_ALLOW"}]
    rules += [{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": p, "op": "SCMP_CMP_EQ"}]} for p in PERSONAS]
    if "SYS_ADMIN" in held:
        rules.append({"names": ["clone", "clone3"], "action": "SCMP_ACT_ALLOW"})
    else:
        rules.append({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": CLONE_NAMESPACES, "valueTwo": 0,
                                "op": "SCMP_CMP_MASKED_EQ"}]})
        rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": errno.ENOSYS})
    return {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": errno.EPERM,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"], "syscalls": rules}


# ------------------------------------------------------------ reading

def read(path):
    """The profile in file `path`, as a dict; Fail when it is not one."""
    import json
    try:
        with open(path, "rb") as f:
            profile = json.loads(f.read())
    except OSError as e:
        raise Fail(f"cannot read --seccomp profile {path!r}: {e.strerror}") from None
    except ValueError as e:
        raise Fail(f"invalid --seccomp profile {path!r}: not JSON ({e})") from None
    if not isinstance(profile, dict):
        raise Fail(f"invalid --seccomp profile {path!r}: not a JSON object")
    return profile


def _bad(what):
    raise Fail(f"invalid seccomp profile: {what}")


def _unknown(fields, known, where):
    extra = sorted(set(fields) - known)
    if extra:
        _bad(f"unknown field {extra[0]!r} in {where} (unc knows {', '.join(sorted(known))})")


def _action(name, errno_ret, where, default_errno=errno.EPERM):
    if name == "SCMP_ACT_NOTIFY":
        _bad(f"{where}: SCMP_ACT_NOTIFY needs a seccomp agent, which unc does not run")
    if name not in RET:
        _bad(f"unknown action {name!r} in {where} (unc knows {', '.join(sorted(RET))})")
    if name in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        value = default_errno if errno_ret is None else errno_ret
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0xFFFF:
            _bad(f"errnoRet {value!r} in {where}: give a number from 0 to 65535")
        return RET[name] | value
    if errno_ret is not None:
        _bad(f"errnoRet in {where}: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one")
    return RET[name]


def _u64(value, where):
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 64:
        if isinstance(value, int) and not isinstance(value, bool) and -(1 << 63) <= value < 0:
            return value & 0xFFFFFFFFFFFFFFFF
        _bad(f"{where}: {value!r} is not a 64-bit number")
    return value


def _applies(rule, arch, caps, where):
    """Whether a rule's includes/excludes let it apply here (Docker's)."""
    from security import caps as capabilities
    held = {capabilities.NAMES[c] for c in caps}
    for key, wanted in (("includes", True), ("excludes", False)):
        cond = rule.get(key) or {}
        if not isinstance(cond, dict):
            _bad(f"{where}: {key} must be an object")
        _unknown(cond, FILTER_FIELDS, f"{where} {key}")
        names = [str(c).upper().removeprefix("CAP_") for c in cond.get("caps") or []]
        arches = cond.get("arches") or []
        if wanted:
            if names and not all(n in held for n in names):
                return False
            if arches and not set(arches) & (set(ARCH_NAMES[arch]) | {arch}):
                return False
            if cond.get("minKernel") and not _kernel_at_least(cond["minKernel"]):
                return False
        else:
            if names and any(n in held for n in names):
                return False
            if arches and set(arches) & (set(ARCH_NAMES[arch]) | {arch}):
                return False
            if cond.get("minKernel") and _kernel_at_least(cond["minKernel"]):
                return False
    return True


def _kernel_at_least(version):
    def numbers(text):
        out = []
        for part in str(text).split("-")[0].split(".")[:2]:
            digits = "".join(c for c in part if c.isdigit())
            out.append(int(digits or 0))
        return out
    return numbers(os.uname().release) >= numbers(version)


# ------------------------------------------------------------ compiling

def compile(profile, arch=None, caps=None):
    """A classic BPF program (struct sock_filter[] as bytes) for `profile`."""
    import struct
    from security import caps as capabilities
    from security import syscalls
    arch = arch or os.uname().machine
    if arch not in AUDIT_ARCH:
        raise Fail(f"seccomp: unc compiles filters for x86_64 and aarch64, not {arch}")
    table = getattr(syscalls, arch.upper())
    caps = capabilities.DEFAULT if caps is None else caps
    if not isinstance(profile, dict):
        _bad("not a JSON object")
    _unknown(profile, TOP_FIELDS, "the profile")
    if profile.get("listenerPath"):
        _bad("listenerPath: unc runs no seccomp agent")
    if "defaultAction" not in profile:
        _bad("no defaultAction")
    default = _action(profile["defaultAction"], profile.get("defaultErrnoRet"),
                      "defaultAction")
    arches = list(profile.get("architectures") or [])
    for entry in profile.get("archMap") or []:
        if not isinstance(entry, dict):
            _bad("archMap entries must be objects")
        _unknown(entry, {"architecture", "subArchitectures"}, "archMap")
        arches += [entry.get("architecture")] + list(entry.get("subArchitectures") or [])
    for name in arches:
        if name not in KNOWN_ARCHES:
            _bad(f"unknown architecture {name!r} (libseccomp's names: SCMP_ARCH_X86_64, "
                 "SCMP_ARCH_AARCH64, ...)")
    for flag in profile.get("flags") or []:
        if flag not in FLAGS:
            _bad(f"unknown flag {flag!r} (unc knows {', '.join(sorted(FLAGS))})")

    leaves = {}                     # number -> [(conditions, action)]
    rules = profile.get("syscalls") or []
    if not isinstance(rules, list):
        _bad("syscalls must be a list")
    for i, rule in enumerate(rules):
        where = f"syscalls[{i}]"
        if not isinstance(rule, dict):
            _bad(f"{where} must be an object")
        _unknown(rule, RULE_FIELDS, where)
        names = list(rule.get("names") or []) + ([rule["name"]] if rule.get("name") else [])
        if not names:
            _bad(f"{where} names no system call")
        if "action" not in rule:
            _bad(f"{where} has no action")
        action = _action(rule["action"], rule.get("errnoRet"), where)
        conditions = [_condition(arg, f"{where} args[{j}]")
                      for j, arg in enumerate(rule.get("args") or [])]
        if not _applies(rule, arch, caps, where):
            continue
        for name in names:
            if not isinstance(name, str):
                _bad(f"{where}: system call names must be strings")
            if name in table:
                leaves.setdefault(table[name], []).append((conditions, action))
            elif not any(name in getattr(syscalls, a.upper()) for a in AUDIT_ARCH):
                _bad(f"{where}: unknown system call {name!r}")

    newer = (default if default in (ALLOW, RET["SCMP_ACT_LOG"])
             else RET["SCMP_ACT_ERRNO"] | errno.ENOSYS)
    ranges = _ranges(leaves, default, max(table.values()) + 1, newer)
    program = [(LD_ABS, 0, 0, ARCH), (JEQ, 1, 0, AUDIT_ARCH[arch]), (RET_K, 0, 0, KILL_PROCESS),
               (LD_ABS, 0, 0, NR)] + _search(ranges, default)
    if len(program) > 4096:                 # BPF_MAXINSNS
        _bad(f"the filter takes {len(program)} instructions, more than the kernel's 4096")
    return b"".join(struct.pack("=HBBI", *insn) for insn in program)


def _condition(arg, where):
    if not isinstance(arg, dict):
        _bad(f"{where} must be an object")
    _unknown(arg, ARG_FIELDS, where)
    index = arg.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= 5:
        _bad(f"{where}: index {index!r} is not an argument (0 to 5)")
    op = arg.get("op")
    if op not in OPS:
        _bad(f"{where}: unknown op {op!r} (unc knows {', '.join(OPS)})")
    return (index, op, _u64(arg.get("value", 0), where), _u64(arg.get("valueTwo", 0), where))


def _ranges(leaves, default, end, newer):
    """[(first number, outcome)] covering 0 to 2**32, in order; an outcome
    is an action, or a number's rules (a list). Neighbours with one action
    merge into one range."""
    out = []
    for number in range(end):
        rules = leaves.get(number)
        if rules is None:
            outcome = default
        elif len(rules) == 1 and not rules[0][0]:
            outcome = rules[0][1]
        else:
            outcome = rules
        if out and _same(out[-1][1], outcome):
            continue
        out.append((number, outcome))
    if not _same(out[-1][1], newer):
        out.append((end, newer))
    return out


def _same(a, b):
    return not isinstance(a, list) and not isinstance(b, list) and a == b


def _search(ranges, default):
    """A binary search over `ranges` (the number is in the accumulator)."""
    if len(ranges) == 1:
        return _leaf(ranges[0][1], default)
    middle = len(ranges) // 2
    left, right = _search(ranges[:middle], default), _search(ranges[middle:], default)
    if len(left) <= 255:
        return [(JGE, len(left), 0, ranges[middle][0])] + left + right
    # Out of a conditional jump's reach: hop over an unconditional one.
    return [(JGE, 0, 1, ranges[middle][0]), (JA, 0, 0, len(left))] + left + right


def _leaf(outcome, default):
    if not isinstance(outcome, list):
        return [(RET_K, 0, 0, outcome)]
    code = []
    for conditions, action in outcome:
        block = []
        for index, op, value, two in conditions:
            block += _compare(index, op, value, two)
        block.append((RET_K, 0, 0, action))
        # "fail" jumps go to the next rule: right after this block.
        code += [(c, _fix(jt, block, n), _fix(jf, block, n), k)
                 for n, (c, jt, jf, k) in enumerate(block)]
    return code + [(RET_K, 0, 0, default)]


def _fix(target, block, n):
    return len(block) - n - 1 if target == "fail" else target


def _compare(index, op, value, two):
    """Instructions that fall through when argument `index` passes, and
    jump to "fail" (resolved by _leaf) when it does not."""
    lo, hi = ARGS + 8 * index, ARGS + 8 * index + 4      # little-endian halves
    vlo, vhi = value & 0xFFFFFFFF, value >> 32
    if op == "SCMP_CMP_EQ":
        return [(LD_ABS, 0, 0, hi), (JEQ, 0, "fail", vhi), (LD_ABS, 0, 0, lo),
                (JEQ, 0, "fail", vlo)]
    if op == "SCMP_CMP_NE":
        return [(LD_ABS, 0, 0, hi), (JEQ, 0, 2, vhi), (LD_ABS, 0, 0, lo),
                (JEQ, "fail", 0, vlo)]
    if op == "SCMP_CMP_MASKED_EQ":
        tlo, thi = two & 0xFFFFFFFF, two >> 32
        return [(LD_ABS, 0, 0, hi), (AND_K, 0, 0, vhi), (JEQ, 0, "fail", thi),
                (LD_ABS, 0, 0, lo), (AND_K, 0, 0, vlo), (JEQ, 0, "fail", tlo)]
    # Ordered: the high halves decide unless equal, then the low ones.
    if op in ("SCMP_CMP_GT", "SCMP_CMP_GE"):
        last = (JGT if op == "SCMP_CMP_GT" else JGE, 0, "fail", vlo)
        return [(LD_ABS, 0, 0, hi), (JGT, 3, 0, vhi), (JEQ, 0, "fail", vhi),
                (LD_ABS, 0, 0, lo), last]
    last = (JGE if op == "SCMP_CMP_LT" else JGT, "fail", 0, vlo)
    return [(LD_ABS, 0, 0, hi), (JGT, "fail", 0, vhi), (JEQ, 0, 2, vhi),
            (LD_ABS, 0, 0, lo), last]


# ------------------------------------------------------------ loading

def load(program):
    """Load `program` (compile's bytes) as this thread's filter."""
    import kernel
    kernel.seccomp_set_mode_filter(program)


def write_built(path):
    """Write the default filter of each architecture, compiled, as a module
    (build.sh: security/filter_built.py), so that a run only loads it."""
    lines = ['"""The default seccomp filter of each architecture, compiled at build time.', "",
             "Written by build.sh with security/seccomp.py's write_built(), from",
             "default_profile() with Docker's 14 capabilities; stages/harden.py loads",
             "these bytes with one seccomp(2) call, so a run with the default capabilities",
             'compiles nothing. Not in git: every build writes it again."""', "",
             "FILTERS = {"]
    for arch in AUDIT_ARCH:
        lines.append(f"    {arch!r}: {compile(default_profile(), arch)!r},")
    with open(path, "w") as f:
        f.write("\n".join(lines + ["}", ""]))
