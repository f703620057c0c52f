"""--init: a small init that runs as PID 1 of the container.

Without --init the command itself is PID 1, and PID 1 is special
(pid_namespaces(7)):

  - The kernel delivers it only the signals it has a handler for, whether
    they come from inside the container or from the host (SIGKILL and
    SIGSTOP from the host aside). `kill -TERM` does nothing to a `sleep`
    that is PID 1; unc makes up for it by ending the container itself.
  - Orphans are re-parented to it. A program that does not expect children
    it never started never wait(2)s for them: they stay zombies.
  - When it exits, the kernel kills every other process of the namespace.

With --init, PID 1 is this module instead and the command runs as PID 2,
an ordinary process:

    PID 1  init (this module; still the unc program, forked, not exec'd)
     └─ PID 2  COMMAND

init blocks the signals it handles and takes them one at a time with
sigwaitinfo(2), as tini and catatonit do. Blocked signals are never
dropped by the kernel, even for PID 1, and no signal can slip in between a
check and a wait. It also installs a handler for each of them, so that
anyone who looks at /proc/1/status (unc does) sees it takes them.

  - SIGCHLD: reap every child that has ended (waitpid(-1, WNOHANG) until
    none is left), orphans included; note PID 2's status when it is one.
    When the terminal's Ctrl-Z (SIGTSTP) stopped PID 2, continue it at
    once: unc cannot stop itself and hand the terminal back to your shell,
    so the terminal would hang on a stopped command. (Without --init the
    kernel ignores SIGTSTP for PID 1 anyway. A shell inside does its own job
    control: its jobs stop, it does not.)
  - SIGHUP SIGINT SIGQUIT SIGTERM SIGUSR1 SIGUSR2 SIGALRM SIGWINCH SIGCONT:
    pass it on to PID 2 with kill(2). Signals unc started with ignored (as
    `nohup` or a non-interactive shell's `cmd &` leave them) stay ignored,
    in init and in the command.

When PID 2 has ended, init kills what is left in the namespace
(kill(-1, SIGKILL) from PID 1 reaches every other process of the namespace
and nothing outside it), reaps it, and exits with PID 2's status: its exit
code, or 128+N when signal N killed it. PID 2 itself is an ordinary
process, so a signal sent from inside kills it as it would on the host
(`sh -c 'kill -SEGV $$'` gives 139).

This module runs after the container's root has changed: it imports
nothing but kernel.py and core/signals.py, which unc has loaded by then,
and core/run.py imports it before any stage's setup.
"""

import os

# The signal module's functions and constants as plain ints (kernel.py).
import _signal as signal

from core.signals import FORWARDED, exit_status
import kernel
from kernel import signal_name


def init(run, start_command, report_w):
    """Run as PID 1: fork start_command() as PID 2, reap, forward, exit.

    start_command execs the command or reports why it cannot and _exits,
    exactly as without --init; it never returns. Never returns either.
    """
    # init stays unc, the program in unc's cache, for the container's whole
    # life: its /proc/1/exe would lead the container's root, who owns that
    # file through the id map, to unc's own binary on the host, to open it
    # (or keep an O_PATH handle and write it once unc has exited: runc's
    # CVE-2019-5736). A process that is not dumpable has its /proc/PID
    # files owned by root of the user namespace its memory was made in (the
    # host's, where unc was executed), and /proc/PID/exe is then open only
    # to a caller with CAP_SYS_PTRACE there (ptrace(2), "Ptrace access
    # mode checking"). The id maps are written by now; the command (PID 2)
    # is dumpable again once it has executed its own program. The harden
    # stage does the same for every PID 1; this holds for --init at the
    # stages before it too (--stage=user_pid shows init in the host's /proc).
    kernel.prctl(kernel.PR_SET_DUMPABLE, 0)
    forwarded = [s for s in FORWARDED if s not in run.ignored]
    waited = forwarded + [signal.SIGCHLD]
    signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    for signum in forwarded:
        signal.signal(signum, _never_called)
    child = os.fork()
    if child == 0:
        # Dispositions back to default before the mask is lifted, or a
        # signal that arrived in between would run init's handler here.
        for signum in forwarded:
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        start_command()
        os._exit(125)
    # PID 2 holds the report pipe until its execve closes it; unc reads
    # until the last writer is gone. init itself executes nothing, so the
    # descriptors marked close-on-exec for the command (stages/harden.py)
    # would stay open here: it keeps none but 0, 1 and 2.
    os.close(report_w)
    os.closerange(3, 1 << 20)
    try:
        run.trace(f"init: fork -> pid {child}, forwarding "
                  + " ".join(signal_name(s) for s in forwarded))
        status = supervise(child, waited)
        run.trace(f"init: pid 2 ended ({describe(status)}); kill(-1, SIGKILL)")
        code = exit_status(status)
    except BaseException:
        # Nothing may propagate: this is a fork of unc, and unc's own code
        # further up the stack must not run a second time here.
        code = 125
    end_the_rest()
    os._exit(code)


def _never_called(signum, frame):
    """The signals are blocked and taken with sigwaitinfo; the handler only
    marks them as caught."""


def supervise(child, waited):
    """Forward signals to `child` and reap zombies until `child` has ended;
    return its wait status."""
    while True:
        signum = signal.sigwaitinfo(waited).si_signo
        if signum == signal.SIGCHLD:
            status = reap(child)
            if status is None:
                continue
            if not os.WIFSTOPPED(status):
                return status
            if os.WSTOPSIG(status) == signal.SIGTSTP:
                os.kill(child, signal.SIGCONT)
        else:
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass                # ended; its SIGCHLD is pending


def reap(child):
    """Collect every ended child; return `child`'s wait status if it was one
    of them or has stopped."""
    found = None
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG | os.WUNTRACED)
        except ChildProcessError:
            return found
        if pid == 0:
            return found
        if pid == child:
            found = status


def end_the_rest():
    """Kill every other process of the namespace and reap them."""
    if os.getpid() != 1:
        return                      # kill(-1) elsewhere would hit all our processes
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass                        # nothing left
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def describe(status):
    if os.WIFSIGNALED(status):
        return f"killed by {signal_name(os.WTERMSIG(status))}"
    return f"exit {os.WEXITSTATUS(status)}"


