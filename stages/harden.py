"""Stage 5, harden: take away what a container's root can still do to the kernel.

What it adds
    After stage 4 the command is root in namespaces of its own. Those
    namespaces fence off what it can name (processes, mounts, the network),
    not what it can ask of the kernel: it still holds every capability of
    its user namespace, can make any system call, can gain privileges by
    running a setuid file of its --rootfs, reads /proc/kcore and
    /proc/timer_list, and inherits whatever file descriptors the caller had
    open. This stage applies the defaults of Docker and Podman:

      no_new_privs     execve(2) never raises privileges again: setuid and
                       setgid bits and file capabilities are ignored
      capabilities     the bounding, effective and permitted sets keep
                       Docker's 14 (CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD
                       NET_RAW SETGID SETUID SETFCAP SETPCAP
                       NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE); the
                       inheritable and ambient sets are empty, so a -u user
                       has none; --cap-add/--cap-drop change the set
      seccomp          a filter with the semantics of Docker's default
                       profile: the kernel keyring, bpf, perf_event_open,
                       userfaultfd, kexec, modules, mount, unshare, setns
                       and a few dozen others fail with EPERM, clone3 with
                       ENOSYS (security/seccomp.py lists them and why);
                       --seccomp=FILE takes a profile in Docker's JSON
      masked paths     /proc/kcore, /proc/keys, /proc/timer_list,
                       /sys/firmware... read empty; /proc/sys,
                       /proc/sysrq-trigger, /proc/irq, /proc/bus are
                       read-only (OCI's defaults, security/masks.py)
      descriptors      only 0, 1 and 2 reach the command, or with
                       --preserve-fds=N also 3 to N+2
      limits           --ulimit, and with a delegated cgroup v2 group
                       --pids-limit, --memory and --cpus

    --privileged turns the defaults off (the container is then as at stage
    4): for nesting, since unc inside unc must unshare and mount, which the
    defaults refuse; and for seeing what each default takes away.

Where each step runs, and why there
    Masks are mount operations: this stage adds them to the mount plan in
    prepare, after the fresh /proc and /sys (stage 3 mounts them for every
    run, with or without --rootfs). The cgroup is made on the host, once
    PID 1 exists. The rest happens in the process that will execve the
    command, in two hooks that core/run.py calls (and `unc exec` for a
    process it puts into a running container):

      command_setup  before -u, -w and -e are applied, while the process is
                     full root: PID 1 becomes non-dumpable, rlimits are
                     set, and the bounding set is cut. Dropping from it
                     needs CAP_SETPCAP; it limits what an execve may grant,
                     not what the process holds now, so the switch to a -u
                     user (setgroups, setgid, setuid) still works after.
      command_exec   last before execve: capset(2) lowers the effective and
                     permitted sets and empties the inheritable one (a
                     root's execve adds the inheritable set, bounding set
                     or not: CVE-2022-24769), the ambient set is cleared,
                     no_new_privs is set (which loading a filter requires
                     of a process without CAP_SYS_ADMIN), every descriptor
                     above the kept ones is marked close-on-exec, and the
                     filter is loaded, last, so unc's own steps before it
                     are not filtered.

    With --init both run in PID 1 before it forks the command: init and the
    command share one filter (inherited across fork), one set of
    capabilities and one no_new_privs, and init then closes every
    descriptor but 0 to 2 (it executes nothing, so close-on-exec would not
    close them).

    Descriptors are marked close-on-exec rather than closed: the pipe that
    reports a failed execve to unc (status 126 or 127) must work up to the
    execve, which then closes everything at once (security/fds.py).

PID 1 and the unc binary (runc's CVE-2019-5736)
    Without --init, PID 1 execs the command and /proc/1/exe is the
    command. With --init, PID 1 stays unc's own program, from your cache
    directory: a container root that could open /proc/1/exe for writing
    would change the program your next unc run executes. A non-dumpable
    process's /proc files are owned by root and its exe link can be
    followed only with CAP_SYS_PTRACE in the user namespace that owns its
    memory: unc's memory was made in the host's user namespace (the
    container's PID 1 is a fork, not an exec), so nobody in the container
    qualifies. PID 1 turns non-dumpable here (even with --privileged), after
    unc wrote the id maps on the host, which needs it dumpable; an execve
    makes it dumpable again, for the command's own sake.

The default filter is compiled once, when unc is built (build.sh writes
security/filter_built.py with security/seccomp.py's compiler), and loaded
with one seccomp(2) call: a run with the default capabilities compiles
nothing. --seccomp=FILE, or capabilities that change which calls the
profile allows, compile on the host before anything starts, so a bad
profile fails with 125 and nothing started.

Try it
    unc --trace grep -E 'NoNewPrivs|Cap(Bnd|Eff)|Seccomp:' /proc/self/status
    unc --privileged grep Cap /proc/self/status
"""

import os

import kernel
from core import Fail
from security import caps, fds

NAME = "harden"
SUMMARY = "Docker's defaults: capabilities, seccomp, no_new_privs, masked /proc, fds, limits"
OPTIONS = """
  --cap-add=CAP        Add a capability to the default 14 (capabilities(7)
                       names, with or without CAP_; ALL; repeatable).
  --cap-drop=CAP       Drop a capability (or ALL) from the set (repeatable).
  --seccomp=PROFILE    unconfined (no filter), or FILE: a seccomp profile in
                       Docker's JSON format instead of the default one.
  --ulimit=LIMIT       NAME=SOFT[:HARD], e.g. nofile=1024:2048 (Docker's
                       names; unlimited; repeatable).
  --pids-limit=N       At most N processes (needs a delegated cgroup v2).
  --memory=SIZE        At most SIZE of memory, e.g. 512m (cgroup v2).
  --cpus=N             At most N CPUs' time, e.g. 1.5 (cgroup v2).
  --preserve-fds=N     Pass file descriptors 3 to N+2 to COMMAND as well
                       (default: only 0, 1 and 2).
  --privileged         Turn the defaults off (capabilities, seccomp,
                       no_new_privs, masks, fds): needed to nest unc.
"""
REPEATABLE = ("--cap-add=CAP", "--cap-drop=CAP", "--ulimit=LIMIT")


class State:
    """What the command is left with."""

    def __init__(self):
        self.privileged = False
        self.caps = caps.DEFAULT      # the capability numbers kept
        self.filter = None            # the BPF program, None: unconfined
        self.rlimits = []             # (resource, soft, hard)
        self.cgroup = None            # security/limits.py's Cgroup, or None
        self.preserve = 0


def prepare(run, me):
    opts = run.opts
    me.privileged = bool(opts.get("--privileged"))
    given = [o for o in ("--cap-add", "--cap-drop", "--seccomp", "--preserve-fds")
             if opts.get(o) not in (None, [])]
    if me.privileged and given:
        raise Fail(f"--privileged turns every default off; {given[0]} would change one: "
                   "give one or the other")
    if opts.get("--ulimit") or any(opts.get(o) is not None
                                   for o in ("--pids-limit", "--memory", "--cpus")):
        _limits(run, me)
    if me.privileged:
        return
    me.preserve = _count(opts.get("--preserve-fds"), "--preserve-fds")
    me.caps = _capabilities(opts.get("--cap-add") or [], opts.get("--cap-drop") or [])
    caps.last_cap()                   # read here, where /proc/sys is the host's
    me.filter = _filter(opts.get("--seccomp"), me.caps)
    from security import masks
    masks.add(run.plan)


def _capabilities(add, drop):
    """Docker's rule: from the default 14 (none after --cap-drop=ALL), the
    added ones join and the dropped ones leave; a drop wins over an add."""
    whole = [n for n in drop if str(n).upper() in ("ALL", "CAP_ALL")]
    base = set() if whole else set(caps.DEFAULT)
    dropped = caps.parse([n for n in drop if n not in whole], "--cap-drop")
    return frozenset((base | caps.parse(add, "--cap-add")) - dropped)


def _filter(choice, kept):
    """The BPF program to load: the one built with unc where it fits."""
    if choice == "unconfined":
        return None
    if choice is None and kept == caps.DEFAULT:
        try:
            from security.filter_built import FILTERS
            return FILTERS[os.uname().machine]
        except (ImportError, KeyError):
            pass                      # a source tree that build.sh has not built
    from security import seccomp
    if choice is None:
        return seccomp.compile(seccomp.default_profile(kept), caps=kept)
    if not choice:
        raise Fail("invalid --seccomp '': give unconfined or a profile file")
    return seccomp.compile(seccomp.read(choice), caps=kept)


def _count(text, option):
    if text is None:
        return 0
    if not text.isdigit() or int(text) > 65536:
        raise Fail(f"invalid {option} {text!r}: give a number of descriptors, 0 to 65536")
    return int(text)


def _limits(run, me):
    from security import limits
    me.rlimits = [limits.parse_ulimit(spec) for spec in run.opts.get("--ulimit") or []]
    pids, memory, cpus = (run.opts.get(o) for o in ("--pids-limit", "--memory", "--cpus"))
    if pids is None and memory is None and cpus is None:
        return
    if pids is not None and (not pids.isdigit() or int(pids) == 0):
        raise Fail(f"invalid --pids-limit {pids!r}: give a number of processes, 1 or more")
    if memory is not None:
        memory = limits.parse_size(memory, "--memory")
    if cpus is not None:
        try:
            cpus = float(cpus)
        except ValueError:
            cpus = 0.0
        if not 0.01 <= cpus <= 1024:
            raise Fail(f"invalid --cpus {run.opts['--cpus']!r}: give a number of CPUs such "
                       "as 0.5 or 2")
    me.cgroup = limits.Cgroup(pids and int(pids), memory, cpus)
    me.cgroup.check()


def host_setup(run, me):
    if me.cgroup:
        try:
            me.cgroup.create(run.pid, run.trace)
        except OSError as e:
            raise Fail(f"cannot set up the container's cgroup in {me.cgroup.base}: "
                       f"{e.strerror}") from None


def command_setup(run, me):
    run.trace("prctl(PR_SET_DUMPABLE, 0): /proc/1/exe and /proc/1/mem closed to the container")
    kernel.prctl(kernel.PR_SET_DUMPABLE, 0)
    if me.rlimits:
        from security import limits       # imported by prepare
        limits.apply_rlimits(me.rlimits, run.trace)
    if me.privileged:
        run.trace("--privileged: every capability, no seccomp filter, no masks")
        return
    run.trace(f"prctl(PR_CAPBSET_DROP) but {' '.join(caps.names(me.caps)) or 'none'}")
    caps.apply(bounding=me.caps)


def command_exec(run, me):
    if me.privileged:
        return
    kept = me.caps if os.getuid() == 0 else ()
    run.trace(f"capset(effective=permitted={len(kept)} capabilities, inheritable=0); "
              "ambient cleared")
    caps.apply(effective=kept, permitted=kept, inheritable=(), ambient=())
    run.trace("prctl(PR_SET_NO_NEW_PRIVS, 1)")
    kernel.prctl(kernel.PR_SET_NO_NEW_PRIVS, 1)
    run.trace(f"close_range({3 + me.preserve}, ~0, CLOSE_RANGE_CLOEXEC)")
    fds.close_on_exec(me.preserve)
    if me.filter is None:
        run.trace("--seccomp=unconfined: no filter")
        return
    run.trace(f"seccomp(SECCOMP_SET_MODE_FILTER, {len(me.filter) // 8} instructions)")
    kernel.seccomp_set_mode_filter(me.filter)


def cleanup(run, me):
    if me.cgroup:
        me.cgroup.remove()
