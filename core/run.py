"""One container run: compose the stages, start the container, wait, clean up.

Used by core/cli.py (a run) and core/check.py (a run at each stage). This
is the only module that calls the stages' hooks (stages/__init__.py says
what each may do).

Processes, as the host sees them:

    unc (this process, stays on the host; a child subreaper; dist/unc
     │    execs it from its cache, see launcher/launcher.c)
     └─ unsharer: unshare(all namespaces), fork, exit
         └─ PID 1 of the container: stage setup, then exec COMMAND
            (re-parented to unc when the unsharer exits; with --init,
            core/init.py stays PID 1 and forks COMMAND as PID 2)

unc stays outside every namespace so that it can write the id maps of the
container from outside (as newuidmap does), start helpers such as slirp4netns
on the host, forward signals, and clean up.

A created run (run.handover set: the OCI runtime's `create`, oci/) leaves
earlier: the unsharer first joins the namespaces the run names
(run.handover.join), and once every stage's setup is done PID 1 hands over
to run.handover.start instead of executing COMMAND; unc returns as soon as
PID 1 says it is set up, leaving it alive, with no parent-death signal, for
the nearest subreaper above unc (conmon) to adopt.
"""

import os
import sys

# The signal module's functions and constants as plain ints (kernel.py).
import _signal as signal

from core import execvp, signals
from core import FAILED, Fail, one_line, report


class Run:
    """One container run: the options, the selected stages, their states,
    and what the stages may change of each other's work (flags, plan).

    Its attributes are declared (__slots__): a stage keeps what it needs in
    its own State object (states[NAME], passed to every hook as `me`), not
    here.
    """

    __slots__ = (
        # For the stages to read.
        "opts",        # the parsed command line (a dict)
        "argv",        # COMMAND and its arguments; [] for the default shell
        "pid",         # the container's PID 1 as the host sees it (host_setup on)
        "tracing",     # --trace
        "debug",       # --debug
        # What the stages may change of each other's work (stages/__init__.py).
        "flags",       # the clone flags unshared for the container
        "plan",        # the mount plan (mounts/plan.py) once a stage made one
        # The core's own.
        "stages", "states", "process", "closed", "tty", "modes", "ignored",
        "killed_by",   # the signal for which unc SIGKILLed PID 1
        "signaled",    # PID 1 died from a signal
        "reaped",      # unc has collected PID 1's exit status
        "status",      # --json-status-fd's writer (core/status.py), or None
        "handover",    # OCI create's hand-over (oci/container.py), or None
        "monitor",     # -d's monitor (containers/monitor.py), or None
    )

    def __init__(self, opts, stages, closed=()):
        self.opts = opts
        self.argv = opts.get("argv") or []
        self.pid = None
        self.tracing = bool(opts.get("--trace"))
        self.debug = bool(opts.get("--debug"))
        self.flags = 0
        self.plan = None
        self.stages = stages
        self.states = {s.NAME: s.State() if hasattr(s, "State") else None for s in stages}
        self.process = None      # the command's settings (core/execvp.py)
        self.closed = closed
        self.tty = False
        self.modes = None
        self.ignored = frozenset()
        self.killed_by = 0
        self.signaled = False
        self.reaped = False
        self.status = None
        self.handover = None
        self.monitor = None

    def trace(self, message):
        if self.tracing:
            os.write(2, b"+ " + message.encode(errors="surrogateescape") + b"\n")

    def hook(self, stage, name):
        """Call stage's hook `name` with (run, me), if the stage has one."""
        function = getattr(stage, name, None)
        if function is not None:
            return function(self, self.states[stage.NAME])
        return None


def container(opts, stages, closed=(), monitor=None):
    """Compose `stages` into one container and run it; return the Run and
    unc's exit status. With -d, `monitor` records the run and serves
    `unc exec` while the command runs (containers/monitor.py)."""
    run = Run(opts, stages, closed)
    run.monitor = monitor
    if opts.get("--json-status-fd") is not None:
        from core import status
        run.status = status.StatusFd(opts["--json-status-fd"])
    try:
        run.process = execvp.prepare(opts)
        for stage in stages:
            run.flags |= getattr(stage, "CLONE_FLAGS", 0)
        for stage in stages:
            run.hook(stage, "prepare")
        run.argv = run.process.command(run.argv)      # an image's Entrypoint and Cmd
        code = start(run)
    except Fail as e:
        if run.status:
            run.status.ended(e.status, error=one_line(str(e)))
        raise
    except Exception as e:
        # unc's own bug: main() says so on stderr; the supervisor reading FD
        # must still get an end object, or it waits for one forever.
        if run.status:
            run.status.ended(FAILED, error=one_line(
                f"internal error: {e.__class__.__name__}: {e}"))
        raise
    if run.status:
        run.status.ended(code, signaled=run.signaled)
    return run, code


def start(run):
    """Start the container, hand it over, wait for it; return unc's exit status."""
    import kernel

    check_proc()
    if run.opts.get("--init"):
        # Imported here, on the host: once the container's root has changed,
        # the frozen binary cannot import anything new.
        import core.init  # noqa: F401
    report_r, report_w = os.pipe()   # unsharer and PID 1 -> unc
    go_r, go_w = os.pipe()           # unc -> PID 1: "the host side is ready"
    run.ignored = signals.ignored_signals()
    if os.isatty(0) and not run.handover:
        from core import terminal
        run.tty, run.modes = terminal.foreground()

    # Orphans of our own subtree come to us instead of the host's init: the
    # container's PID 1 does, once the unsharer has exited.
    kernel.prctl(kernel.PR_SET_CHILD_SUBREAPER, 1)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    unsharer = os.fork()
    if unsharer == 0:
        os.close(report_r)
        os.close(go_w)
        _unsharer(run, report_w, go_r)

    os.close(report_w)
    os.close(go_r)
    reader = _Reader(report_r)
    message = reader.line()
    os.waitpid(unsharer, 0)
    if not message.startswith("pid "):
        status, _, text = message.partition(" ")
        raise Fail(text or "the unsharer died", int(status or FAILED))
    run.pid = int(message.split()[1])

    installed = signals.forward_signals(run) if not run.handover else []
    done = []
    problem = None
    try:
        if run.monitor:
            # Before PID 1 may turn non-dumpable (the harden stage): its
            # namespaces, for `unc exec`, are opened while its /proc files
            # are still the user's.
            run.monitor.attach(run)
        for stage in run.stages:
            done.append(stage)
            run.hook(stage, "host_setup")
        os.write(go_w, b"g")
        problem = reader.rest()
        if run.status and not problem:
            # The command runs: what each stage says of it, then wait.
            reported = {}
            for stage in run.stages:
                reported.update(run.hook(stage, "status") or {})
            run.status.running(run.pid, run.stages[-1].NAME, reported)
        if run.handover and not problem:
            # PID 1 is set up and waits for its start: it outlives unc.
            done = []
            return 0
        if run.monitor and not problem:
            run.monitor.running(run)
            run.monitor.serve(run)          # until PID 1 has exited
        status = _wait(run)
    except BaseException:
        signals.kill(run.pid)
        try:
            os.waitpid(run.pid, 0)
        except ChildProcessError:
            pass                                    # reaped already
        if not run.killed_by:
            raise
        # A signal ended the container while unc was setting it up, and the
        # setup failed for that reason: report the signal, as for a command.
        run.signaled = True
        status = 128 + run.killed_by
    finally:
        if run.tty:
            from core import terminal                 # loaded when run.tty was set
            terminal.give_back(run.modes if run.signaled else None)
        for stage in reversed(done):
            run.hook(stage, "cleanup")
        signals.restore(installed)
    if problem:
        code, _, text = problem.partition(" ")
        raise Fail(text, int(code))
    return status


def check_proc():
    """unc finds its container's processes in /proc by the pids fork(2)
    returns; that /proc must show unc's own PID namespace."""
    try:
        seen = os.readlink("/proc/self")
    except OSError as e:
        raise Fail(f"cannot read /proc/self ({e.strerror}): unc needs /proc mounted") from None
    if seen != str(os.getpid()):
        raise Fail("this /proc belongs to another PID namespace than unc's (inside a "
                   "container without a /proc of its own, such as unc --stage=uts), so "
                   "unc cannot find its container's processes there; nest unc in a "
                   "container with its own /proc (--stage=mount or later)")


class _Reader:
    """Lines from the report pipe: '<status> <message>' or 'pid N'."""

    def __init__(self, fd):
        self.fd, self.buf = fd, b""

    def line(self):
        while b"\n" not in self.buf:
            chunk = os.read(self.fd, 4096)
            if not chunk:
                break
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode(errors="replace")

    def rest(self):
        """The first line written before every writer closed (exec succeeded)."""
        text = self.line()
        os.close(self.fd)
        return text


def _wait(run):
    _, status = os.waitpid(run.pid, 0)
    run.reaped = True               # its pid may now be reused: no more kill()s
    run.signaled = os.WIFSIGNALED(status)
    if run.killed_by and run.signaled and os.WTERMSIG(status) == signal.SIGKILL:
        return 128 + run.killed_by
    return signals.exit_status(status)


# ------------------------------------------------- inside: the unsharer

def _unsharer(run, report_w, go_r):
    """Create every namespace in one unshare(2), fork PID 1, report, exit."""
    import kernel
    try:
        # Dies with unc; nothing setuid runs in this process afterwards.
        kernel.prctl(kernel.PR_SET_PDEATHSIG, signal.SIGKILL)
        if run.handover:
            run.handover.join(run)
        run.trace(f"unshare({kernel.flag_names(run.flags, kernel.CLONE_NAMES)})")
        try:
            kernel.unshare(run.flags)
        except OSError as e:
            report(report_w, FAILED, "cannot create the container's namespaces: "
                   + _why_unshare_failed(run, e))
            os._exit(FAILED)
        pid = os.fork()
        if pid == 0:
            _pid1(run, report_w, go_r)
        run.trace(f"fork -> pid 1 in the new pid namespace (host pid {pid})")
        os.write(report_w, f"pid {pid}\n".encode())
        os._exit(0)
    except BaseException as e:
        report(report_w, FAILED, f"unsharer failed: {e}")
        os._exit(FAILED)


def _why_unshare_failed(run, err):
    """The first stage that knows why the kernel refused (unshare_refused)."""
    for stage in run.stages:
        explain = getattr(stage, "unshare_refused", None)
        why = explain(err) if explain else None
        if why:
            return why
    return err.strerror


# ------------------------------------------------- inside: PID 1

def _pid1(run, report_w, go_r):
    try:
        if run.debug:
            import traceback  # noqa: F401  (no import works after pivot_root)
        signals.default_signals(run.ignored)
        # A process group of its own: a signal to the caller's group (timeout,
        # a shell's `kill 0`) then reaches the container only through unc,
        # which passes it to PID 1 or ends the container, never half of it.
        if run.handover:
            os.setsid()     # a session of its own: it may get a controlling terminal
        else:
            os.setpgid(0, 0)
        if os.read(go_r, 1) != b"g":
            os._exit(FAILED)                    # unc gave up before the start
        if run.handover:
            os.close(go_r)                      # it outlives unc: no death signal
        else:
            _die_with_unc(go_r)
        for stage in run.stages:
            run.hook(stage, "container_setup")
        if run.handover:
            run.handover.start(run, report_w)   # never returns
        for stage in run.stages:
            run.hook(stage, "command_setup")
        env = execvp.start(run, run.process)
        # Before --init forks: init and the command get the same limits.
        for stage in run.stages:
            run.hook(stage, "command_exec")
        # The default command: the SHELL the command gets, else the caller's,
        # which execute() replaces with /bin/sh, saying why under --trace.
        argv = run.argv or [env.get("SHELL") or run.process.caller.get("SHELL") or "/bin/sh"]

        def start_command():
            if run.tty:
                from core import terminal             # loaded when run.tty was set
                terminal.take()
            for fd in run.closed:
                os.close(fd)          # closed when unc started: closed for COMMAND
            execvp.execute(run, argv, env, report_w, shell_fallback=not run.argv)

        if run.opts.get("--init"):
            from core import init     # loaded by start(): no file access
            init.init(run, start_command, report_w)
        start_command()
    except BaseException as e:
        failed_inside(run, report_w, e)


def failed_inside(run, report_w, e, doing="container setup"):
    """Send unc the error `e` that ended a setup in the container, and exit
    (PID 1's, or containers/enter.py's for unc exec)."""
    if isinstance(e, Fail):
        status, text = e.status, str(e)
    elif isinstance(e, OSError):
        status, text = FAILED, f"{doing} failed: {e}"
    else:
        if run.debug:
            import traceback
            traceback.print_exc()
        status, text = FAILED, (f"internal error in the container: {e.__class__.__name__}: "
                                f"{one_line(str(e))}; rerun with --debug and report it")
    report(report_w, status, text)
    os._exit(status)


def _die_with_unc(go_r):
    """Die when unc dies: a parent-death signal, set once unc is the parent.

    Until the unsharer exited it was our parent, and its exit would have
    fired the signal. Setting it races with unc's own death, so look once
    more: unc holds the other end of go_r while it lives.
    """
    import kernel
    kernel.prctl(kernel.PR_SET_PDEATHSIG, signal.SIGKILL)
    os.set_blocking(go_r, False)
    try:
        if os.read(go_r, 1) == b"":
            os._exit(FAILED)
    except BlockingIOError:
        pass
    os.close(go_r)
