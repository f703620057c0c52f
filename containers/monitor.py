"""-d/--detach: the unc process that runs the container stays as its monitor.

Used by core/cli.py for a run with -d, and by core/run.py through the
Run's `monitor` (running(), serve()). The processes:

    unc -d (the command line)
     └─ monitor: setsid, stdio to the container's log; core/run.py's host
        process from here on (it writes the id maps, starts the network's
        helpers, forwards signals, cleans up) and then some: it records
        the state, and serves `unc exec`
         └─ unsharer ─ PID 1 of the container, as for any run

The command line forks the monitor before anything is set up, and waits on
a pipe: once the command runs (it was executed), the monitor writes "ok"
and the command line prints the id and exits 0; if the setup fails, the
monitor removes the container's directory and sends unc's error and status,
which the command line prints and exits with, as a foreground run would.

The monitor is a session leader with no terminal (setsid(2)), so that the
caller's terminal closing (SIGHUP) or its ^C (SIGINT to the foreground
process group) does not reach it. The container's PID 1 dies with it (its
parent-death signal, core/run.py): a monitor killed with SIGKILL leaves no
container behind, only a state that `unc ps` shows as exited.
"""

import os
import sys

from core import FAILED, Fail, one_line
from containers import state


def detach(opts, stages):
    """Start the container under a monitor of its own; return 0 once the
    command runs, with its id on stdout."""
    from core import run as runs
    container = state.create(opts.get("--name"), opts.get("argv") or [])
    ready_r, ready_w = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        _monitor(opts, stages, container, ready_w, runs)
    os.close(ready_w)
    # One line: the container's processes inherit ready_w, and an --init
    # that does not exec holds it open, so its end is no answer.
    answer = b""
    while not answer.endswith(b"\n") and (chunk := os.read(ready_r, 4096)):
        answer += chunk
    os.close(ready_r)
    answer = answer.rstrip(b"\n")
    if answer == b"ok":
        os.write(1, container.id.encode() + b"\n")
        return 0
    code, _, text = answer.decode(errors="replace").partition(" ")
    if not code:
        container.remove()
        raise Fail("the container's monitor died before its command started")
    raise Fail(text, int(code))


def _monitor(opts, stages, container, ready_w, runs):
    status = FAILED
    monitor = Monitor(container, ready_w)
    try:
        os.setsid()
        _stdio(container, opts.get("--json-status-fd"))
        run, status = runs.container(opts, stages, monitor=monitor)
    except Fail as e:
        status = e.status
        if monitor.ready_w is not None:
            container.remove()
            monitor.tell(f"{e.status} {one_line(str(e))}")
        else:
            os.write(2, b"unc: " + one_line(str(e)).encode() + b"\n")
    except BaseException as e:
        message = f"internal error: {e.__class__.__name__}: {one_line(str(e))}"
        if monitor.ready_w is not None:
            container.remove()
            monitor.tell(f"{FAILED} {message}; rerun with --debug and report it")
        elif opts.get("--debug"):
            import traceback
            traceback.print_exc()
    monitor.finish(status, remove=bool(opts.get("--rm")))
    os._exit(status)


def _stdio(container, status_fd):
    """stdin from /dev/null; stdout and stderr to the log; no other
    descriptor of the caller's (a test harness waits for its pipes to close)."""
    null = os.open("/dev/null", os.O_RDONLY)
    log = os.open(container.path("log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    for fd in (null, log):
        os.close(fd)
    # unc's own descriptors are close-on-exec (Python makes them so); an
    # inheritable one came from the caller, but for --json-status-fd's.
    keep = {0, 1, 2}
    if status_fd is not None and status_fd.isdigit():
        keep.add(int(status_fd))
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if fd not in keep and os.get_inheritable(fd):
                os.close(fd)
        except OSError:
            pass                                   # listdir's own, closed


class Monitor:
    """What core/run.py calls of a detached run, and the exec server."""

    def __init__(self, container, ready_w):
        self.container = container
        self.ready_w = ready_w
        self.sock = None
        self.handlers = set()
        self.namespaces = []      # (setns flag, fd) of PID 1's, from attach()

    def tell(self, text):
        """Answer the waiting command line, once."""
        if self.ready_w is not None:
            try:
                os.write(self.ready_w, text.encode() + b"\n")
            except OSError:
                pass
            os.close(self.ready_w)
            self.ready_w = None

    def attach(self, run):
        """PID 1 exists: hold its namespaces for exec (containers/enter.py).

        A non-dumpable process's /proc/PID/ns files (and setns(2) on its
        pidfd) need ptrace access that the user lacks: the harden stage makes
        PID 1 so, and an --init PID 1 stays so. Opened now, before it starts
        its setup, they stay usable for the container's life.
        """
        self.namespaces = open_namespaces(run.pid)

    def running(self, run):
        """The command runs: record it, open the exec socket, answer."""
        # _socket, not socket: socket.py imports enum, milliseconds that the
        # command line would wait for; the handlers import it, later.
        import _socket
        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        where = os.open(self.container.dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            # A unix socket's path is at most 107 bytes: through the
            # directory's descriptor, however long $XDG_RUNTIME_DIR is.
            self.sock.bind(f"/proc/self/fd/{where}/exec.sock")
        finally:
            os.close(where)
        self.sock.listen(16)
        self.container.save(status="running", pid=run.pid, monitor=os.getpid(),
                            **{"pid-start": state.start_time(run.pid),
                               "monitor-start": state.start_time(os.getpid()),
                               "stage": run.stages[-1].NAME})
        self.tell("ok")
        # After the answer, not to delay it: what exec needs in the
        # container's root, where the frozen build cannot import.
        from containers import enter
        enter.preload(run)

    def serve(self, run):
        """Serve `unc exec` until the container's PID 1 has exited (it is
        left unreaped for core/run.py to collect)."""
        from containers import enter
        wake = enter.ChildWake()
        wake.watch(self.sock.fileno())
        try:
            while not _exited(run.pid):
                self._reap(os.WNOHANG)
                _reap_strays(run.pid)
                if wake.wait():
                    self._accept(run)
        finally:
            wake.close()
            self.sock.close()
            try:
                os.unlink(self.container.path("exec.sock"))
            except OSError:
                pass

    def _accept(self, run):
        fd, _ = self.sock._accept()
        try:
            pid = os.fork()
        except OSError:
            os.close(fd)
            return
        if pid == 0:
            import socket
            from containers import enter
            self.sock.close()
            enter.serve_one(run, socket.socket(fileno=fd))       # never returns
        os.close(fd)
        self.handlers.add(pid)

    def _reap(self, flags):
        for pid in list(self.handlers):
            try:
                done, _ = os.waitpid(pid, flags)
            except ChildProcessError:
                done = pid
            if done:
                self.handlers.discard(pid)

    def finish(self, code, remove=False):
        """The container has ended and every stage cleaned up: wait for the
        exec handlers (their commands died with the PID namespace), record
        the status, or with --rm remove the container."""
        self._reap(0)
        if self.ready_w is None and os.path.isdir(self.container.dir):
            if remove:
                self.container.remove()
                return
            import time
            self.container.save(status="exited", **{"exit-status": code, "finished": time.time()})


def _reap_strays(pid1):
    """Reap an exec'd command whose handler was killed before it could.

    An orphan comes to the nearest subreaper among its ancestors, the
    monitor, even from inside the container's PID namespace; unreaped, it
    would keep PID 1 from ever ending (the kernel's PID 1 of a namespace
    waits for all of its processes, zombies too). Such a process has a pid
    in both namespaces (NSpid); the network's helpers, the stages' to reap,
    have one."""
    while True:
        try:
            found = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if found is None or found.si_pid == pid1:
            return
        try:
            with open(f"/proc/{found.si_pid}/status") as f:
                nspid = next((line.split()[1:] for line in f if line.startswith("NSpid:")), [])
        except OSError:
            return
        if len(nspid) < 2:
            return
        os.waitpid(found.si_pid, 0)


def _exited(pid):
    """Whether our child `pid` has exited, without reaping it."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


# /proc/PID/ns/NAME and the flags of setns(2), the user namespace first.
NAMESPACES = (("user", 0x10000000), ("mnt", 0x00020000), ("uts", 0x04000000),
              ("ipc", 0x08000000), ("net", 0x40000000), ("pid", 0x20000000),
              ("cgroup", 0x02000000))


def open_namespaces(pid):
    """[(setns flag, fd)] of every namespace of `pid` that differs from
    ours, the user namespace first (Monitor.attach). Here, not in
    enter.py: its imports (json, socket) would delay every -d start."""
    held = []
    for name, flag in NAMESPACES:
        try:
            fd = os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue                # a kernel without that namespace
        theirs, ours = os.fstat(fd), os.stat(f"/proc/self/ns/{name}")
        if (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino):
            os.close(fd)
        else:
            held.append((flag, fd))
    return held
