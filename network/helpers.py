"""Helper processes on the host (slirp4netns, pasta, ip, the forwarder),
tied to unc's life.

Used by the backends (slirp4netns.py, pasta.py, bridge.py). A helper must
not outlive the container, however unc ends: it gets a parent-death
signal, the dispositions of a fresh process, only the fds it is given, and
none of PyInstaller's variables. Its output goes to a memfd that is read
only to explain a failure: the user's stderr gets one line from unc.

How a helper is kept from outliving the container:
  - it gets a parent-death signal, prctl(PR_SET_PDEATHSIG, SIGKILL), set
    between fork and exec, so it dies with unc even when unc is
    SIGKILLed. The kernel clears that signal when the process changes
    its uid: pasta run by root would switch to "nobody" (and then could
    not join the container's user namespace either), so unc gives it
    --runas 0;
  - slirp4netns also gets --exit-fd, a pipe whose other end only unc
    holds: the kernel closes it however unc ends, and slirp4netns exits;
  - unc kills and reaps it after the container ended. The container's
    network namespace would not end on its own: the helper holds it.
    The kernel takes a while (15 to 40 ms here) to remove the TAP when
    the helper's descriptor closes; unc waits for that, so that nothing
    of the container is left when unc returns.
"""

import fcntl
import os
import select
import sys

# The signal module's functions and constants as plain ints (kernel.py).
import _signal as signal

import kernel
from core import Fail
from core.execvp import clean_environ
from core.signals import default_signals
from network.host import TUN, tun_problem

READY_TIMEOUT = 30               # seconds a helper may take to configure


def fork_tied():
    """fork(); the child dies with unc, however unc dies, and starts with
    the signal dispositions of a fresh process. Returns fork()'s value."""
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            # The kernel would clear this on a setuid exec or a change of
            # uid; none of the helpers is setuid (see --runas for pasta).
            kernel.prctl(kernel.PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:
                os._exit(1)                     # unc died before the prctl
            default_signals()
        except BaseException:
            os._exit(127)
    return pid


def spawn(run, argv, fds=()):
    """fork and exec argv on the host; fds become its 3, 4, ...

    Returns (pid, log): log is a memfd that holds the program's stdout and
    stderr.
    """
    log = os.memfd_create("unc-net-log", os.MFD_CLOEXEC)
    pid = fork_tied()
    if pid == 0:
        try:
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100) for fd in fds]
            null = os.open("/dev/null", os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(log, 1)
            os.dup2(log, 2)
            for number, fd in enumerate(high, 3):
                os.dup2(fd, number)
            # Nothing else of unc's leaks into the helper (fd 3 of a bats
            # test, the container's pipes).
            os.closerange(3 + len(high), os.sysconf("SC_OPEN_MAX"))
            os.execve(argv[0], argv, clean_environ(
                os.environ, getattr(sys, "frozen", False)))
        except BaseException:
            os._exit(127)
    run.trace(f"{' '.join(argv)}  (host pid {pid})")
    return pid, log


def log_text(log):
    """What a helper printed, without the noise of a missing syslog."""
    text = os.pread(log, 65536, 0).decode(errors="replace")
    return [line.strip() for line in text.splitlines() if line.strip()
            and "to syslog" not in line]


def wait_ready(name, pid, fd, log):
    """The helper's ready message on fd (one write, so one read); Fail when
    the helper exits first, which closes its end."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    try:
        if not poller.poll(READY_TIMEOUT * 1000):
            stop(pid)
            raise Fail(f"{name} did not configure the network within {READY_TIMEOUT} s; "
                       "rerun with --trace")
        data = os.read(fd, 64)
    finally:
        os.close(fd)
    if data.strip():
        return data.decode(errors="replace").strip()
    stop(pid)
    lines = log_text(log)
    why = lines[-1] if lines else "it exited without a message"
    if "tun" in why.lower() and ("denied" in why.lower() or "permitted" in why.lower()):
        why += f"; it needs {TUN}, {tun_problem() or 'which it could not use'}"
    raise Fail(f"{name} could not set up the container's network: {why}")


def stop(pid):
    """SIGKILL a helper and reap it; no state of it outlives the process."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def private_dir():
    """A fresh directory only we can enter (for slirp4netns' API socket)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or ""
    # The socket's path must fit in sun_path (108 bytes).
    if not base.startswith("/") or not os.path.isdir(base) or len(base) > 60:
        base = "/tmp"
    path = f"{base}/unc-net-{os.urandom(6).hex()}"
    os.mkdir(path, 0o700)
    return path
