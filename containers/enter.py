"""`unc exec`'s other half: in the monitor, run a command inside a running
container, with the settings a run's command gets.

Used by containers/monitor.py, which forks a handler for each connection
to its exec socket and calls serve_one() there. The processes:

    monitor (outside every namespace, the parent of the container's PID 1)
     └─ handler: reads the request and the caller's stdin, stdout and
        stderr (SCM_RIGHTS); setns(2) into every namespace of PID 1 that
        differs from the monitor's; chroot to PID 1's root; waits, passing
        signals on, and sends the exit status back
         └─ the command: in the container's PID namespace (setns(2) of a
            PID namespace applies to the children created afterwards, so it
            takes one fork more); its settings, then execve

setns(2) into a user namespace comes first: it gives the handler the
capabilities it needs for the others, in the namespace that owns them. The
namespaces are files the monitor opened when PID 1 was new (monitor.py,
Monitor.attach): the files /proc/PID/ns/* of a non-dumpable process, as
the harden stage makes PID 1 and an --init PID 1 stays, need ptrace access
to it that the user lacks, and so does setns(2) on its pidfd. Held open,
they name the container's namespaces whatever becomes of the pid. Joining
the mount namespace puts the handler at its root mount, where pivot_root(2)
put the container's root; only when the mount stage had to chroot(2)
(mounts/plan.py) is PID 1's root elsewhere: the handler then chroots to
/proc/PID/root, which it can open once PID 1 has executed its command.

The command's environment, -u and -w go through core/execvp.py as PID 1's
command did (the run's -e/--env-file/--clearenv, then exec's own -e), and
every stage's hooks command_setup (before them) and command_exec (after
them, right before execve) run as they do for a run's command. The
command does not join the container's cgroup (the harden stage's limits):
not done yet.
"""

import json
import os
import socket

# The signal module's functions and constants as plain ints (kernel.py).
import _signal as signal

from core import FAILED, Fail, one_line

def preload(run):
    """Import, while the monitor can, what a command's setup needs: once
    inside the container's root, the frozen build cannot import."""
    import fcntl  # noqa: F401
    import termios  # noqa: F401
    import kernel  # noqa: F401
    from core import execvp  # noqa: F401
    from identity import environ, passwd, workdir  # noqa: F401


class ChildWake:
    """poll(2) that also wakes when a child ends: SIGCHLD's number is
    written to a pipe (the signal module's wakeup fd) that poll watches."""

    def __init__(self):
        import select
        self.r, self.w = os.pipe()
        for fd in (self.r, self.w):
            os.set_blocking(fd, False)
        self.old = signal.signal(signal.SIGCHLD, _nothing)
        signal.set_wakeup_fd(self.w)
        self.poll = select.poll()
        self.poll.register(self.r, select.POLLIN)

    def watch(self, fd):
        import select
        self.poll.register(fd, select.POLLIN)

    def forget(self, fd):
        self.poll.unregister(fd)

    def wait(self):
        """The fds that are ready (the wakeup pipe emptied, not among them)."""
        ready = []
        for fd, _ in self.poll.poll():
            if fd != self.r:
                ready.append(fd)
                continue
            try:
                while os.read(self.r, 64):
                    pass
            except BlockingIOError:
                pass
        return ready

    def close(self):
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, self.old)
        os.close(self.r)
        os.close(self.w)


def _nothing(signum, frame):
    pass


def serve_one(run, conn):
    """The handler: one exec request on `conn`, from start to exit status."""
    signal.set_wakeup_fd(-1)
    try:
        from core import signals
        signals.default_signals(run.ignored)
        run.tracing = False
        request, fds = _receive(conn)
        command = _enter(run, request, fds, conn)
        answer = _wait(command, conn)
    except Fail as e:
        answer = f"error {e.status} {one_line(str(e))}"
    except Exception as e:
        answer = (f"error {FAILED} exec failed in the monitor: {e.__class__.__name__}: "
                  f"{one_line(str(e))}; see 'unc logs'")
    try:
        conn.sendall(answer.encode() + b"\n")
    except OSError:
        pass                                     # `unc exec` went away
    os._exit(0)


def _receive(conn):
    import struct
    uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
    if uid not in (0, os.geteuid()):
        raise Fail("exec refused: the caller is another user")
    conn.settimeout(10)           # a caller that connects and says nothing
    data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
    while not data.endswith(b"\n"):
        more = conn.recv(1 << 20)
        if not more:
            raise Fail("exec: the request was cut short")
        data += more
    conn.settimeout(None)
    if len(fds) != 3:
        raise Fail("exec: the caller's stdin, stdout and stderr did not come along")
    return json.loads(data), fds


def _enter(run, request, fds, conn):
    """Join the container, fork the command; (pid, report pipe)."""
    import kernel
    pid = run.pid
    if _exited(pid):
        raise Fail("the container is not running")
    process = run.process
    process.changes = process.changes + [tuple(c) for c in request.get("env", ())]
    if request.get("user") is not None:
        process.user = request["user"]
    if request.get("workdir") is not None:
        from identity import workdir
        process.workdir = workdir.parse_workdir(request["workdir"])

    try:
        root = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except PermissionError:
        root = None                 # non-dumpable: setns(2) of its mount namespace gives it
    for flag, fd in run.monitor.namespaces:
        kernel.setns(fd, flag)
    if root is not None:
        os.fchdir(root)
        os.chroot(".")
        os.close(root)

    master = None
    if request.get("tty"):
        # Opened here, in the container's root: a terminal of its own
        # devpts (the mount stage's), which its /dev/pts shows, so that
        # tty(1) and ttyname(3) find it; the caller's is the host's.
        master, slave = os.openpty()
        if request.get("size"):
            import fcntl
            import termios
            fcntl.ioctl(master, termios.TIOCSWINSZ, bytes(request["size"]))
        fds = [slave] * 3
    report_r, report_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(report_r)
        _command(run, request, fds, report_w)
    os.close(report_w)
    for fd in set(fds):
        os.close(fd)
    if master is not None:
        socket.send_fds(conn, [b"pty\n"], [master])
        os.close(master)
    return child, report_r


def _exited(pid):
    from containers import state
    return state.start_time(pid) is None


def _command(run, request, fds, report_w):
    """In the container's PID namespace: the command's setup, then execve."""
    from core import execvp
    try:
        os.setsid()
        for number, fd in enumerate(fds):
            os.dup2(fd, number)
        for fd in set(fds):
            if fd > 2:
                os.close(fd)
        if request.get("tty"):
            import fcntl
            import termios
            # The pty's slave becomes the controlling terminal of the new
            # session, so ^C on it signals the command (tty_ioctl(4)).
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        for stage in run.stages:
            run.hook(stage, "command_setup")
        env = execvp.start(run, run.process)
        for stage in run.stages:
            run.hook(stage, "command_exec")
        execvp.execute(run, request["argv"], env, report_w)
    except BaseException as e:
        from core import run as runs
        runs.failed_inside(run, report_w, e, "exec setup in the container")


def _wait(command, conn):
    """Pass the caller's signals on until the command ends; its answer."""
    from core import signals
    pid, report_r = command
    wake = ChildWake()
    wake.watch(conn.fileno())
    buffer = b""
    status = None
    try:
        while status is None:
            done, wait_status = os.waitpid(pid, os.WNOHANG)
            if done:
                status = wait_status
                break
            if conn.fileno() in wake.wait():
                data = conn.recv(4096)
                if not data:
                    # `unc exec` is gone: so is the command, as with a run.
                    wake.forget(conn.fileno())
                    signals.kill(pid)
                    continue
                buffer += data
                while b"\n" in buffer:
                    line, _, buffer = buffer.partition(b"\n")
                    if line.startswith(b"signal ") and line[7:].isdigit():
                        signals.kill(pid, int(line[7:]))
    finally:
        wake.close()
    problem = b""
    while chunk := os.read(report_r, 4096):
        problem += chunk
    os.close(report_r)
    if problem:
        return "error " + problem.decode(errors="replace").splitlines()[0]
    return f"exit {signals.exit_status(status)}"
