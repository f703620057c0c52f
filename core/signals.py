"""Signals: which ones reach the container, and what a wait status means.

Used by core/run.py (forwarding, the dispositions the command inherits),
core/init.py (the init of --init forwards the same list) and the network
helpers (a fresh disposition for each helper program).
"""

import os

# The signal module's functions and constants as plain ints (kernel.py).
import _signal as signal

# Signals unc passes on to the container. The first group terminates a
# process by default; WINCH and CONT do not.
FORWARDED = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM,
             signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM,
             signal.SIGWINCH, signal.SIGCONT)
# Signals whose default action leaves a process running.
HARMLESS = (signal.SIGWINCH, signal.SIGCONT, signal.SIGCHLD, signal.SIGURG)


def exit_status(wait_status):
    """The shell's view of a wait status: the code, or 128+N for signal N."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


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


def default_signals(ignored=frozenset()):
    """Give a program about to be executed the dispositions of a fresh
    process, but for the signals its caller ignored (`ignored`).

    Python ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored
    across execve(2) (pasta refuses to run so); what the caller itself
    ignored (SIGHUP under nohup) stays ignored, as for a bare command.
    Handlers are reset by execve anyway. The signal mask is inherited too:
    it is emptied.
    """
    for signum in range(1, signal.NSIG):
        if signum in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(signum, signal.SIG_IGN if signum in ignored else signal.SIG_DFL)
        except (OSError, ValueError):
            pass                                   # 32, 33: glibc's own
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def kill(pid, signum=signal.SIGKILL):
    """kill(2) that does not mind a process that is gone already."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def forward_signals(run):
    """Pass the signals unc gets on to the container's PID 1; return what
    to restore (signal, old handler) afterwards.

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
        if signum not in HARMLESS and not handles(run.pid, signum):
            run.trace(f"{name}: PID 1 does not handle it; kill({run.pid}, SIGKILL)")
            run.killed_by = signum
            kill(run.pid)
            return
        run.trace(f"kill({run.pid}, {name})")
        kill(run.pid, signum)

    return [(s, signal.signal(s, forward)) for s in FORWARDED if s not in run.ignored]


def restore(installed):
    for signum, handler in installed:
        signal.signal(signum, handler)


def handles(pid, signum):
    """Whether `pid` will take `signum`, from /proc/PID/status: it catches
    it, ignores it, or blocks it to read it later (from a signalfd(2), as
    catatonit and systemd do; the kernel keeps a blocked signal pending even
    for PID 1).

    A program waiting in sigwait(2) cannot be told apart: for the length of
    the wait the kernel unblocks the awaited signals and keeps the real mask
    where /proc does not show it. unc's own --init therefore also installs
    handlers; a PID 1 like tini, which only waits, is ended with SIGKILL.
    """
    try:
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
    except OSError:
        status = ""
    return signum in signal_masks(status)


def signal_masks(status_text):
    """The signals a /proc/PID/status text says are caught, ignored or blocked."""
    signals = set()
    for line in status_text.splitlines():
        if line.startswith(("SigCgt:", "SigIgn:", "SigBlk:")):
            mask = int(line.split()[1], 16)
            signals.update(n for n in range(1, 65) if mask >> (n - 1) & 1)
    return signals
