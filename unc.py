#!/usr/bin/env python3
"""unc: run a command in an unprivileged Linux container.

This file is the command line and the core. The core knows how to start a
container in general (unshare, fork PID 1, hand over, wait, pass the exit
status on); what the container consists of is said by the stage modules in
stages/, which the core runs in order. Read a stage module to learn what it
adds; read this file to learn how the pieces meet.

Processes, as the host sees them:

    unc (this process, stays on the host; a child subreaper; dist/unc
     │    execs it from its cache, see launcher/launcher.c)
     └─ unsharer: unshare(all namespaces), fork, exit
         └─ PID 1 of the container: stage setup, then exec COMMAND
            (re-parented to unc when the unsharer exits; with --init,
            pid1.py stays PID 1 and forks COMMAND as PID 2)

unc stays outside every namespace so that it can write the id maps of the
container from outside (as newuidmap does), start helpers such as slirp4netns
on the host, forward signals, and clean up.

Signals and the terminal, in short (README.md has the whole story):
  - unc passes FORWARDED signals to PID 1; where PID 1 has no handler, the
    kernel would drop them, and unc SIGKILLs the container and exits 128+N.
  - Every process of the chain has a parent-death signal, so nothing
    outlives a SIGKILLed unc.
  - On a terminal in the foreground, the command gets a process group of its
    own and the foreground; unc takes it back at the end.
"""

import os
import sys

# The signal module's functions and constants as plain ints (kernel.py).
import _signal as signal

if not getattr(sys, "frozen", False):
    # `python3 -I unc.py` leaves the script's directory out of sys.path.
    _here = os.path.dirname(os.path.realpath(__file__))
    if _here not in sys.path:
        sys.path.insert(0, _here)

import frozen  # noqa: E402  (found through the path above)

VERSION = "0.1.0"

USAGE = """\
unc - run a command in an unprivileged Linux container.

Usage:
  unc stages
  unc check
  unc [options] [-v SPEC]... [--tmpfs=DST]... [-p SPEC]... [--] [COMMAND [ARG...]]
  unc -h | --help
  unc --version

Runs COMMAND (default: $SHELL, else /bin/sh) as root and as PID 1 of a new
container (PID 2 with --init), with your stdin, stdout and stderr.
`unc stages` lists the stages. `unc check` starts a container at each stage on
this host and says what works (exit 0 if all do, else 125). A command named
stages or check runs after `--`.
Signals sent to unc (HUP INT QUIT TERM USR1 USR2 ALRM WINCH CONT) are passed
to the container; on a terminal, the container gets the foreground.

Options:
  --stage=NAME         How far the container goes: user_pid, uts, mount, net
                       (cumulative, in that order). Default: the last stage.
  --hostname=NAME      Hostname inside [stage uts; default: unc].
  --rootfs=DIR         Use DIR as the root filesystem [stage mount; default:
                       the host's / read-only, with its own /proc, /dev, /tmp].
  -v SPEC, --volume=SPEC
                       Bind mount SRC:DST[:ro|:rw] (repeatable) [stage mount].
  --tmpfs=DST          Mount an empty tmpfs on DST (repeatable) [stage mount].
  --read-only          Make the root filesystem read-only [stage mount].
  --bind-proc          Bind the host's /proc when a fresh procfs is refused
                       [stage mount].
  --net=MODE           Network: none, slirp4netns, pasta, bridge (root), host,
                       or auto: pasta, else slirp4netns, else none [stage net;
                       default: none, or auto with -p].
  -p SPEC, --publish=SPEC
                       Publish a container port on the host:
                       [IP:]HOSTPORT:CONTAINERPORT[/tcp|/udp] (repeatable)
                       [stage net; not with --net=none or host].
  --init               Run a small init as PID 1 that reaps zombies and
                       forwards signals; COMMAND then runs as PID 2, and
                       signals it has no handler for end it as on the host.
  --trace              Print each kernel-visible step to stderr.
  --debug              Show Python tracebacks on internal errors.
  -h, --help           Show this help.
  --version            Show the version.

Exit status: COMMAND's own; 128+N if it died from signal N; 125 if unc
failed; 126 if COMMAND cannot be executed; 127 if it was not found.
"""

# Signals unc passes on to the container. The first group terminates a
# process by default; WINCH and CONT do not.
FORWARDED = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM,
             signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM,
             signal.SIGWINCH, signal.SIGCONT)
HARMLESS = (signal.SIGWINCH, signal.SIGCONT, signal.SIGCHLD, signal.SIGURG)

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Run:
    """One container run: the options, the selected stages, and what the
    stages record for each other (hostname, id maps, mount plan, ...)."""

    def __init__(self, opts, stages):
        self.opts = opts
        self.stages = stages
        self.names = [s.NAME for s in stages]
        self.flags = 0
        self.pid = None          # the container's PID 1, as the host sees it
        self.tracing = bool(opts.get("--trace"))
        self.debug = bool(opts.get("--debug"))
        self.argv = opts.get("argv") or []
        self.tty = False         # stdin is our controlling terminal, in the foreground
        self.modes = None        # the terminal's modes when unc started (termios)
        self.ignored = frozenset()   # signals the caller left ignored
        self.killed_by = 0       # the signal for which unc SIGKILLed PID 1
        self.signaled = False    # PID 1 died from a signal
        self.reaped = False      # unc has collected PID 1's exit status

    def trace(self, message):
        if self.tracing:
            os.write(2, b"+ " + message.encode(errors="surrogateescape") + b"\n")


# ---------------------------------------------------------------- errors

def one_line(text):
    """`text` fit for one line of a terminal: control characters (a newline
    in a file name) and bytes that are not UTF-8 come out escaped."""
    raw = text.encode(errors="surrogateescape").decode(errors="backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in raw)


def die(message, status=125):
    try:
        os.write(2, b"unc: " + one_line(message).encode() + b"\n")
    except OSError:
        pass                              # stderr closed: the status must do
    sys.exit(status)


def write_out(text, closed=()):
    """Print what the user asked for (help, version, stages) on stdout."""
    if 1 in closed:
        die("cannot write to stdout: it is closed")
    try:
        os.write(1, text.encode())
    except BrokenPipeError:
        pass                              # `unc --help | head -1`
    except OSError as e:
        die(f"cannot write to stdout: {e.strerror}")


def keep_std_fds():
    """Hold 0, 1 and 2 open for as long as unc runs; return those that were
    closed when unc started.

    A closed standard fd would be reused by the next pipe unc makes, and
    the container's command would then write into unc's own pipe. They are
    held with /dev/null and closed again just before the command starts, so
    it sees them closed, as it would without unc.
    """
    closed = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.append(fd)
    for fd in closed:
        null = os.open("/dev/null", os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
    return closed


def exit_status(wait_status):
    """The shell's view of a wait status: the code, or 128+N for signal N."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


# ---------------------------------------------------------------- CLI

def parse(argv):
    """Parse the command line into a dict; raise Fail on a usage error."""
    import docopt_fast
    from docopt import DocoptExit
    from stages import Fail
    try:
        opts = docopt_fast.parse(USAGE, argv, options_first=True)
    except DocoptExit as e:
        first = str(e).splitlines()[0] if str(e) else "bad usage"
        if first.startswith("Warning: found unmatched"):
            first = unmatched(first)
        elif first.endswith(" requires argument"):          # docopt-ng's words
            first = first.replace(" requires argument", " requires an argument")
        raise Fail(f"{first}; see 'unc --help'")
    opts = dict(opts)
    if opts["COMMAND"] is not None:
        opts["argv"] = [opts["COMMAND"]] + opts["ARG"]
    return opts


def unmatched(message):
    """docopt's "found unmatched (duplicate?) arguments [Option(None,
    '--bogus', 0, True), Argument(None, 'x')]" said for people."""
    words = []
    for item in message.partition("[")[2].rstrip("]").split("), "):
        kind, _, fields = item.partition("(")
        parts = [f.strip(" )'\"") for f in fields.split(",")]
        if kind.strip() == "Option":
            words.append(f"option {parts[1] if parts[1] != 'None' else parts[0]}")
        elif len(parts) > 1:
            words.append(f"argument {parts[1]!r}")
    what = ", ".join(words) or "arguments"
    return f"unknown, misplaced or repeated {what}"


def select_stages(name):
    """The modules of every stage up to and including `name`."""
    from stages import ORDER, Fail
    if name is None:
        name = ORDER[-1]
    if name not in ORDER:
        raise Fail(f"unknown stage {name!r}; valid stages: {', '.join(ORDER)}")
    chosen = ORDER[:ORDER.index(name) + 1]
    return [__import__("stages." + n, fromlist=["NAME"]) for n in chosen]


def all_stages():
    from stages import ORDER
    return [__import__("stages." + n, fromlist=["NAME"]) for n in ORDER]


# Options of the core, owned by no stage.
CORE_OPTIONS = ("--stage", "--init", "--trace", "--debug", "--help", "--version")


def check_stage_options(opts, stages):
    """An option of a stage that is not selected would silently do nothing.

    Only an option that no selected stage owns can be misplaced, so the
    other stage modules are imported (a cost on every start) only then.
    """
    from stages import Fail
    chosen = {s.NAME for s in stages}
    owned = {option for s in stages for option in getattr(s, "OPTIONS", ())}
    if all(value in (None, False, []) for option, value in opts.items()
           if option.startswith("-") and option not in owned and option not in CORE_OPTIONS):
        return
    for stage in all_stages():
        for option in getattr(stage, "OPTIONS", ()):
            if opts.get(option) not in (None, False, []) and stage.NAME not in chosen:
                raise Fail(f"{option} needs --stage={stage.NAME} or a later stage")


# ---------------------------------------------------------------- the core

def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    # First of all: any file unc opens would otherwise take a closed 0, 1 or 2.
    closed = keep_std_fds()
    from stages import Fail
    debug = "--debug" in argv
    try:
        opts = parse(argv)
        if opts["--help"]:
            write_out(USAGE, closed)
            return 0
        if opts["--version"]:
            write_out(f"unc {VERSION}\n", closed)
            return 0
        if opts["stages"]:
            write_out("".join(f"{s.NAME:<10}{s.SUMMARY}\n" for s in all_stages()), closed)
            return 0
        if opts["check"]:
            return check(opts, closed)
        return container(opts, closed)[1]
    except Fail as e:
        die(str(e), e.status)
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if debug:
            import traceback
            traceback.print_exc()
        die(f"internal error: {e.__class__.__name__}: {e}; "
            + ("please report it" if debug else "rerun with --debug and report it"))


def container(opts, closed):
    """Compose the selected stages into one container and run it; return
    the Run and unc's exit status."""
    stages = select_stages(opts["--stage"])
    check_stage_options(opts, stages)
    run = Run(opts, stages)
    run.closed = closed
    for stage in stages:
        run.flags |= getattr(stage, "CLONE_FLAGS", 0)
    for stage in stages:
        if hasattr(stage, "prepare"):
            stage.prepare(run)
    return run, start(run)


def check(opts, closed):
    """unc check: start `true` at each stage, in turn, and say how it went.

    Nothing is guessed from settings: each line is a real container, so a
    host that passes runs unc. A stage may add what it chose (checked(run)).
    """
    from stages import ORDER, Fail
    failed = False
    for name in ORDER:
        stage = select_stages(name)[-1]
        argv = [f"--stage={name}", *getattr(stage, "CHECK_OPTIONS", ()), "--", "true"]
        try:
            run, status = container(parse(argv), closed)
            verdict = "ok" if status == 0 else f"FAILED: true exited {status}"
            if hasattr(stage, "checked"):
                verdict += f" ({stage.checked(run)})"
        except Fail as e:
            verdict = f"FAILED: {e}"
        failed = failed or not verdict.startswith("ok")
        write_out(f"{name:<10}{one_line(verdict)}\n", closed)
    return 125 if failed else 0


def start(run):
    """Start the container, hand it over, wait for it; return unc's exit status."""
    import kernel
    from stages import Fail

    check_proc()
    if run.opts.get("--init"):
        # Imported here, on the host: once the container's root has changed,
        # the frozen binary cannot import anything new.
        import pid1  # noqa: F401
    report_r, report_w = os.pipe()   # unsharer and PID 1 -> unc
    go_r, go_w = os.pipe()           # unc -> PID 1: "the host side is ready"
    run.ignored = ignored_signals()
    try:
        run.tty = os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        run.tty = False
    if run.tty:
        import termios
        run.modes = termios.tcgetattr(0)

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
        raise Fail(text or "the unsharer died", int(status or 125))
    run.pid = int(message.split()[1])

    installed = _forward_signals(run)
    done = []
    problem = None
    try:
        for stage in run.stages:
            done.append(stage)
            if hasattr(stage, "host_setup"):
                stage.host_setup(run)
        os.write(go_w, b"g")
        problem = reader.rest()
        status = _wait(run)
    except BaseException:
        _kill(run.pid)
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
        _restore_terminal(run)
        for stage in reversed(done):
            if hasattr(stage, "cleanup"):
                stage.cleanup(run)
        for signum, handler in installed:
            signal.signal(signum, handler)
    if problem:
        code, _, text = problem.partition(" ")
        raise Fail(text, int(code))
    return status


def check_proc():
    """unc finds its container's processes in /proc by the pids fork(2)
    returns; that /proc must show unc's own PID namespace."""
    from stages import Fail
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


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait(run):
    _, status = os.waitpid(run.pid, 0)
    run.reaped = True               # its pid may now be reused: no more kill()s
    run.signaled = os.WIFSIGNALED(status)
    if run.killed_by and run.signaled and os.WTERMSIG(status) == signal.SIGKILL:
        return 128 + run.killed_by
    return exit_status(status)


def ignored_signals():
    """The signals unc was started with ignored, as `nohup` leaves SIGHUP or
    a non-interactive shell leaves SIGINT and SIGQUIT for `cmd &`.

    A bare command would keep ignoring them (execve(2) keeps SIG_IGN), so unc
    does not forward them and the command inherits the ignore. SIGPIPE and
    SIGXFSZ are left out: Python ignores those itself at start.
    """
    python_own = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGKILL, signal.SIGSTOP)
    return frozenset(s for s in range(1, signal.NSIG)
                     if s not in python_own and signal.getsignal(s) == signal.SIG_IGN)


def _forward_signals(run):
    """Pass the signals unc gets on to the container's PID 1.

    The kernel drops a signal sent to a namespace's PID 1 unless PID 1 has a
    handler for it (SIGKILL and SIGSTOP from the host aside). A plain command
    as PID 1 rarely installs one, so `kill -TERM unc` would do nothing. Where
    PID 1 neither takes (catches or blocks) nor ignores a signal that would
    terminate an ordinary process, unc ends the container with SIGKILL and
    reports the status the command would have had: 128+N.
    """
    from kernel import signal_name

    def forward(signum, frame):
        if run.reaped:
            return
        name = signal_name(signum)
        if signum not in HARMLESS and not _handles(run.pid, signum):
            run.trace(f"{name}: PID 1 does not handle it; kill({run.pid}, SIGKILL)")
            run.killed_by = signum
            _kill(run.pid)
            return
        run.trace(f"kill({run.pid}, {name})")
        try:
            os.kill(run.pid, signum)
        except ProcessLookupError:
            pass

    return [(s, signal.signal(s, forward)) for s in FORWARDED if s not in run.ignored]


def _handles(pid, signum):
    """Whether `pid` will take `signum`, from /proc/PID/status: it catches
    it, ignores it, or blocks it to read it later (from a signalfd(2), as
    catatonit and systemd do; the kernel keeps a blocked signal pending even
    for PID 1).

    A program waiting in sigwait(2) cannot be told apart: for the length of
    the wait the kernel unblocks the awaited signals and keeps the real mask
    where /proc does not show it. unc's own --init therefore also installs
    handlers; a PID 1 like tini, which only waits, is ended with SIGKILL.
    """
    return signum in signal_masks(_status(pid))


def _status(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return f.read()
    except OSError:
        return ""


def signal_masks(status_text):
    """The signals a /proc/PID/status text says are caught, ignored or blocked."""
    signals = set()
    for line in status_text.splitlines():
        if line.startswith(("SigCgt:", "SigIgn:", "SigBlk:")):
            mask = int(line.split()[1], 16)
            signals.update(n for n in range(1, 65) if mask >> (n - 1) & 1)
    return signals


def _restore_terminal(run):
    """Give the terminal back to unc's process group; and its modes, when
    the container died from a signal, as a shell does for a killed job."""
    if run.tty:
        # A background process that changes the terminal gets SIGTTOU.
        old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        try:
            os.tcsetpgrp(0, os.getpgrp())
            if run.signaled and run.modes is not None:
                import termios
                termios.tcsetattr(0, termios.TCSADRAIN, run.modes)
        except OSError:
            pass
        signal.signal(signal.SIGTTOU, old)


# ------------------------------------------------- inside: the unsharer

def _unsharer(run, report_w, go_r):
    """Create every namespace in one unshare(2), fork PID 1, report, exit."""
    import kernel
    # Every run has stage 1, and a refused unshare is always about user
    # namespaces first: its module knows which setting to name.
    from stages import user_pid
    try:
        # Dies with unc; nothing setuid runs in this process afterwards.
        kernel.prctl(kernel.PR_SET_PDEATHSIG, signal.SIGKILL)
        run.trace(f"unshare({kernel.flag_names(run.flags, kernel.CLONE_NAMES)})")
        try:
            kernel.unshare(run.flags)
        except OSError as e:
            _report(report_w, 125, "cannot create the container's namespaces: "
                    + user_pid.why_unshare_failed(e))
            os._exit(125)
        pid = os.fork()
        if pid == 0:
            _pid1(run, report_w, go_r)
        run.trace(f"fork -> pid 1 in the new pid namespace (host pid {pid})")
        os.write(report_w, f"pid {pid}\n".encode())
        os._exit(0)
    except BaseException as e:
        _report(report_w, 125, f"unsharer failed: {e}")
        os._exit(125)


def _report(fd, status, message):
    os.write(fd, f"{status} {one_line(message)}\n".encode())


# ------------------------------------------------- inside: PID 1

def _pid1(run, report_w, go_r):
    from stages import Fail
    try:
        if run.debug:
            import traceback  # noqa: F401  (no import works after pivot_root)
        _default_signals(run.ignored)
        # A process group of its own: a signal to the caller's group (timeout,
        # a shell's `kill 0`) then reaches the container only through unc,
        # which passes it to PID 1 or ends the container, never half of it.
        os.setpgid(0, 0)
        if os.read(go_r, 1) != b"g":
            os._exit(125)                       # unc gave up before the start
        _die_with_unc(go_r)
        for stage in run.stages:
            if hasattr(stage, "container_setup"):
                stage.container_setup(run)
        env = frozen.clean_environ(os.environ, getattr(sys, "frozen", False))
        env["PATH"] = root_path(env.get("PATH"))
        argv = run.argv or [env.get("SHELL") or "/bin/sh"]

        def start_command():
            if run.tty:
                take_terminal()
            execute(run, argv, env, report_w, shell_fallback=not run.argv)

        if run.opts.get("--init"):
            import pid1               # already loaded by start(): no file access
            pid1.init(run, start_command, report_w)
        start_command()
    except Fail as e:
        _report(report_w, e.status, str(e))
        os._exit(e.status)
    except OSError as e:
        _report(report_w, 125, f"container setup failed: {e}")
        os._exit(125)
    except BaseException as e:
        if run.debug:
            import traceback
            traceback.print_exc()
        _report(report_w, 125, f"internal error in the container: "
                f"{e.__class__.__name__}: {e}; rerun with --debug and report it")
        os._exit(125)


def _default_signals(ignored):
    """Give the command the signal dispositions the caller gave unc.

    Python ignores SIGPIPE and SIGXFSZ, and ignored signals stay ignored
    across execve(2): back to the default with them. What the caller itself
    ignored (`ignored`, e.g. SIGHUP under nohup) stays ignored, as it would
    for the bare command. unc's own handlers are reset by execve anyway.
    """
    for signum in range(1, signal.NSIG):
        if signum in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(signum, signal.SIG_IGN if signum in ignored else signal.SIG_DFL)
        except (OSError, ValueError):
            pass                                   # 32, 33: glibc's own
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


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
            os._exit(125)
    except BlockingIOError:
        pass
    os.close(go_r)


def take_terminal():
    """Make our process group the terminal's foreground group, so that the
    keyboard's ^C and ^Z reach the container and not unc."""
    os.setpgid(0, 0)
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(0, os.getpgrp())
    finally:
        signal.signal(signal.SIGTTOU, old)


def root_path(path):
    """The command's PATH: the caller's, then the standard directories it
    lacks. The command runs as root, whose PATH has the sbin directories a
    user's lacks (Debian gives users none; busybox keeps ip and httpd there)."""
    dirs = [d for d in (path or "").split(":") if d]
    return ":".join(dirs + [d for d in DEFAULT_PATH.split(":") if d not in dirs])


def execute(run, argv, env, report_w, shell_fallback=False):
    """execve COMMAND as execvp(3) would, and report why it failed.

    Status 127 when no candidate exists, 126 when one exists but cannot be
    executed (EACCES, ENOEXEC, ...), like a shell.
    """
    command = argv[0]
    for fd in getattr(run, "closed", ()):
        os.close(fd)                  # closed when unc started: closed for COMMAND
    if not command:
        candidates = []
    elif "/" in command:
        candidates = [command]
    else:
        candidates = [os.path.join(d or ".", command)
                      for d in env.get("PATH", DEFAULT_PATH).split(":")]
    if shell_fallback and command != "/bin/sh":
        candidates.append("/bin/sh")
    found = None
    for path in candidates:
        try:
            os.stat(path)
        except OSError:
            continue                                # not there, or not visible
        run.trace(f"execve {path}")
        args = [command if path != "/bin/sh" or not shell_fallback else path] + argv[1:]
        try:
            os.execve(path, args, env)
        except OSError as e:
            if e.errno == 8:                  # ENOEXEC: no #! line; execvp(3) runs sh
                run.trace(f"execve /bin/sh {path} (no #! line)")
                try:
                    os.execve("/bin/sh", ["/bin/sh", path] + argv[1:], env)
                except OSError:
                    pass
            found = found or e
    if found is None:
        where = ("" if not command or "/" in command
                 else f"'s PATH ({env.get('PATH', DEFAULT_PATH)})")
        _report(report_w, 127, f"{command!r}: command not found in the container{where}"
                if not command else f"{command}: command not found in the container{where}")
        os._exit(127)
    if found.errno == 2:
        # The file is there, so what is missing is its #! interpreter or
        # its dynamic loader; a shell says 127 too.
        _report(report_w, 127, f"{command}: cannot execute: its interpreter (#! line) "
                "or dynamic loader is missing in the container")
        os._exit(127)
    _report(report_w, 126, f"{command}: cannot execute: {found.strerror}")
    os._exit(126)


def leave(status):
    """Exit with `status`, skipping the interpreter's teardown.

    unc's work is done when main() returns; freeing every module and object
    first, as sys.exit would, costs milliseconds on every start and changes
    nothing a caller can see. Only the buffered output must get out. atexit
    handlers and finalizers (a TemporaryDirectory left to the garbage
    collector) do not run: cleaning up is the stages' cleanup hooks' job."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:    # None: the fd was closed when unc started
                stream.flush()
        except (OSError, ValueError):
            pass                      # a reader that went away (`unc --help | true`)
    os._exit(status if isinstance(status, int) else 125)


if __name__ == "__main__":
    # docopt-ng's `re` and `typing` only when needed (docopt_fast.py).
    import docopt_fast
    docopt_fast.install()
    try:
        leave(main() or 0)
    except SystemExit as e:
        leave(e.code or 0)
