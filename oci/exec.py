"""`exec`: a new process in a running container (runc exec).

Used by cli.py. The process joins the namespaces of the container's PID 1
with setns(2): through a pidfd (Linux 5.8 and later take one for several
namespaces at once, atomically, and it cannot name a reused pid), else
one /proc/PID/ns file at a time, the user namespace first as it owns the
others. Joining a PID namespace moves only the children of the caller
(pid_namespaces(7)), so a first child joins and forks the process that
runs; joining the mount namespace puts that child in the container's
root. Everything the child imports is imported before it joins: the
frozen build loads its modules from the host.

Without --detach, unc waits for the process (as a subreaper, to which
the process comes once the first child exits) and exits with its status;
with --detach it writes --pid-file and exits, leaving the process to the
nearest subreaper above unc (conmon).
"""

import json
import os

import kernel
from core import FAILED, Fail, report
from oci.cli import preserve_fds
from oci import process as processes

# Namespace files below /proc/PID/ns, the user namespace first.
KINDS = (("user", kernel.CLONE_NEWUSER), ("mnt", kernel.CLONE_NEWNS),
         ("pid", kernel.CLONE_NEWPID), ("net", kernel.CLONE_NEWNET),
         ("ipc", kernel.CLONE_NEWIPC), ("uts", kernel.CLONE_NEWUTS),
         ("cgroup", kernel.CLONE_NEWCGROUP))


def read_process(container, args, command):
    path = args.get("--process") or args.get("-p")
    if path:
        try:
            with open(path) as f:
                proc = json.load(f)
        except (OSError, ValueError) as e:
            raise Fail(f"cannot read the process file {path}: {e}") from None
    else:
        if not command:
            raise Fail("exec needs --process FILE or a command")
        for option in ("--user", "-u", "--cap", "-c", "--no-new-privs", "--additional-gids",
                       "-g", "--process-label", "--apparmor"):
            if args.get(option):
                raise Fail(f"exec {option} is not supported by unc: give the process as "
                           "JSON with --process FILE")
        from oci import config
        proc = dict(config.load(container.record["bundle"]).process)
        proc["args"] = command
        proc["terminal"] = bool(args.get("--tty") or args.get("-t"))
        if args.get("--cwd"):
            proc["cwd"] = args.get("--cwd")
        env = list(proc.get("env") or [])
        env += args.opts.get("--env", []) + args.opts.get("-e", [])
        proc["env"] = env
    from oci import config
    return config.check_process(proc, "process")


def differing(pid):
    """(kind, flag) of the namespaces where `pid` is not where unc is."""
    kinds = []
    for kind, flag in KINDS:
        try:
            theirs = os.stat(f"/proc/{pid}/ns/{kind}")
            ours = os.stat(f"/proc/self/ns/{kind}")
        except FileNotFoundError:
            continue                      # a kernel without that namespace
        if (theirs.st_dev, theirs.st_ino) != (ours.st_dev, ours.st_ino):
            kinds.append((kind, flag))
    return kinds


def join(pid, kinds):
    flags = 0
    for _, flag in kinds:
        flags |= flag
    try:
        fd = kernel.pidfd_open(pid)
        try:
            kernel.setns(fd, flags)
            return
        finally:
            os.close(fd)
    except OSError as e:
        if e.errno not in (22, 38):       # EINVAL, ENOSYS: before Linux 5.8
            raise
    fds = [(kind, os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC))
           for kind, _ in kinds]
    for kind, fd in fds:
        kernel.setns(fd, 0)
        os.close(fd)


def run(container, args, command, debug):
    preserve_fds(args)                    # checked before anything starts
    status = container.status()
    if status == "stopped":
        raise Fail("cannot exec in a stopped container")
    if status == "created":
        # PID 1 is still unc's own binary, made non-dumpable so that nothing
        # reaches it through /proc (container.py): nor can unc join it.
        raise Fail("cannot exec in a container that has not started: start it first")
    proc = read_process(container, args, command)
    detach = args.get("--detach") or args.get("-d")
    tty = bool(proc.get("terminal"))
    socket_path = args.get("--console-socket")
    if tty and not socket_path and detach:
        raise Fail("cannot allocate tty if unc will detach without setting console socket")
    console = None
    if tty and socket_path:
        from oci import console as consoles
        console = consoles.connect(socket_path)
    pid = container.record["pid"]
    kinds = differing(pid)
    try:
        with open(os.path.join(container.dir, "seccomp.bpf"), "rb") as f:
            seccomp = f.read()
    except FileNotFoundError:
        seccomp = None
    trace = (lambda m: os.write(2, f"+ {m}\n".encode())) if debug else (lambda m: None)
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    if not detach:
        kernel.prctl(kernel.PR_SET_CHILD_SUBREAPER, 1)
    first = os.fork()
    if first == 0:
        _child(pid, kinds, proc, console, report_w, trace, seccomp, preserve_fds(args))
    os.close(report_w)
    if console is not None:
        console.close()
    reader = os.fdopen(report_r, "rb")
    line = reader.readline().decode(errors="replace")
    os.waitpid(first, 0)
    if not line.startswith("pid "):
        raise Fail(line.partition(" ")[2].strip() or "exec failed", int(line.split()[0])
                   if line[:1].isdigit() else FAILED)
    target = int(line.split()[1])
    problem = reader.read().decode(errors="replace")
    if problem:
        code, _, text = problem.partition(" ")
        if not detach:
            os.waitpid(target, 0)
        raise Fail(text.strip(), int(code) if code.isdigit() else FAILED)
    if args.get("--pid-file"):
        from oci.cli import write_pid_file
        write_pid_file(args.get("--pid-file"), target)
    if detach:
        return 0
    from core import signals
    _, status = os.waitpid(target, 0)
    return signals.exit_status(status)


def _child(pid, kinds, proc, console, report_w, trace, seccomp, preserve):
    """The first child: join, fork the process, report its pid, exit."""
    try:
        # unc's binary until the execve: out of the container's reach
        # (container.py, Handover.start).
        kernel.prctl(kernel.PR_SET_DUMPABLE, 0)
        join(pid, kinds)
        target = os.fork()
        if target:
            os.write(report_w, f"pid {target}\n".encode())
            os._exit(0)
        os.setsid()
        if console is not None:
            from oci import console as consoles   # imported by run() on the host
            consoles.hand_over(console, proc.get("consoleSize"))
        path = processes.prepare(proc)
        processes.apply(proc, trace, seccomp)
        processes.execute(proc, path, trace, preserve)
    except Fail as e:
        report(report_w, e.status, str(e))
    except OSError as e:
        report(report_w, FAILED, f"cannot join the container: {e}")
    os._exit(FAILED)
