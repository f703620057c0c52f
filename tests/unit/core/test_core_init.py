"""core/init.py: the init of --init, run in a forked subreaper as PID 1 would."""

import os
import signal
import time

import pytest

from core import init, signals
from core.run import Run


def test_init_describes_statuses():
    assert init.describe(5 << 8) == "exit 5"
    assert init.describe(15) == "killed by SIGTERM"
    assert init.describe(40) == "killed by signal 40"


def _start_in_child(body):
    """Run body() in a forked child that is a subreaper (so that it gets
    orphans, as PID 1 would); return the child's pid."""
    pid = os.fork()
    if pid == 0:
        try:
            import kernel
            kernel.prctl(kernel.PR_SET_CHILD_SUBREAPER, 1)
            body()
        finally:
            os._exit(99)
    return pid


def _exit_code(pid):
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _init(argv, run=None):
    """A body that runs init.init with the command argv."""
    return lambda: init.init(run or Run({}, []), lambda: os.execvp(argv[0], argv),
                             os.pipe()[1])


def _wait_for(predicate):
    deadline = time.monotonic() + 10
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def _status(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return f.read()
    except OSError:
        return ""


def test_init_exits_with_the_commands_status():
    assert _exit_code(_start_in_child(_init(["sh", "-c", "exit 7"]))) == 7


def test_init_reports_a_signal_as_128_plus_n():
    assert _exit_code(_start_in_child(_init(["sh", "-c", "kill -SEGV $$"]))) == 139


def test_init_forwards_a_signal_to_the_command(tmp_path):
    ready = tmp_path / "ready"
    pid = _start_in_child(_init(["sh", "-c", f"trap 'exit 3' USR1; touch {ready}; sleep 30 & wait"]))
    assert _wait_for(ready.exists)
    os.kill(pid, signal.SIGUSR1)
    assert _exit_code(pid) == 3


def test_init_shows_handlers_in_proc_while_it_waits():
    # unc decides from /proc/PID/status whether PID 1 takes a signal; init
    # waits in sigwaitinfo, which hides its blocked mask, so it must show
    # handlers.
    pid = _start_in_child(_init(["sleep", "30"]))
    try:
        assert _wait_for(lambda: set(signals.FORWARDED) <= signals.signal_masks(_status(pid)))
        assert all(signals.handles(pid, s) for s in signals.FORWARDED)
    finally:
        os.kill(pid, signal.SIGTERM)
        assert _exit_code(pid) == 143


def test_reap_collects_every_ended_child_and_names_the_command():
    command = os.fork()
    if command == 0:
        os._exit(4)
    other = os.fork()
    if other == 0:
        os._exit(0)
    assert _wait_for(lambda: all(_is_zombie(p) for p in (command, other)))
    assert os.waitstatus_to_exitcode(init.reap(command)) == 4
    with pytest.raises(ChildProcessError):
        os.waitpid(other, os.WNOHANG)


def _is_zombie(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(") ", 1)[1][0] == "Z"


def test_init_keeps_ignored_signals_ignored_for_the_command(tmp_path):
    out = tmp_path / "out"
    run = Run({}, [])
    run.ignored = frozenset({signal.SIGHUP})

    def body():
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        _init(["sh", "-c", f"grep SigIgn /proc/self/status > {out}"], run)()
    assert _exit_code(_start_in_child(body)) == 0
    assert int(out.read_text().split()[1], 16) & 1
