"""Units of the signal side: /proc masks, inherited ignores, the --init loop."""

import os
import signal
import time

import pytest

import pid1
import unc


# ---------------------------------------------------------------- unc core

STATUS = """Name:\tsleep
SigQ:\t0/96365
SigPnd:\t0000000000000000
ShdPnd:\t0000000000000000
SigBlk:\t0000000000010000
SigIgn:\t0000000000000001
SigCgt:\t0000000000004002
"""


def test_signal_masks_reads_caught_ignored_and_blocked():
    # SigCgt: INT(2), TERM(15); SigIgn: HUP(1); SigBlk: CHLD(17).
    assert unc.signal_masks(STATUS) == {1, 2, 15, 17}


def test_signal_masks_of_a_gone_process_is_empty():
    assert unc.signal_masks("") == set()


def test_signal_masks_high_signals():
    assert unc.signal_masks("SigCgt:\t8000000000000000\n") == {64}


def test_handles_reads_our_own_status():
    old = signal.signal(signal.SIGUSR2, lambda *a: None)
    try:
        assert unc._handles(os.getpid(), signal.SIGUSR2)
    finally:
        signal.signal(signal.SIGUSR2, old)
    assert not unc._handles(os.getpid(), signal.SIGUSR2)


def test_ignored_signals_are_the_callers_not_pythons():
    old = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        ignored = unc.ignored_signals()
    finally:
        signal.signal(signal.SIGHUP, old)
    assert signal.SIGHUP in ignored
    # Python ignores these itself at start; the caller's choice is unknown.
    assert signal.SIGPIPE not in ignored and signal.SIGXFSZ not in ignored
    assert signal.SIGHUP not in unc.ignored_signals()


def test_run_starts_with_no_signal_state():
    run = unc.Run({}, [])
    assert run.ignored == frozenset() and run.killed_by == 0 and not run.signaled


# ---------------------------------------------------------------- --init

@pytest.mark.parametrize("status, code", [
    (0, 0), (3 << 8, 3), (15, 143), (11, 139), (9, 137), (0x86, 134),
])
def test_init_exit_code_is_the_shells_view(status, code):
    assert pid1.exit_code(status) == code


def test_init_describes_statuses():
    assert pid1.describe(5 << 8) == "exit 5"
    assert pid1.describe(15) == "killed by SIGTERM"
    assert pid1.describe(40) == "killed by signal 40"


class FakeRun:
    ignored = frozenset()

    def trace(self, message):
        pass


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
    """A body that runs pid1.init with the command argv."""
    return lambda: pid1.init(run or FakeRun(), lambda: os.execvp(argv[0], argv),
                             os.pipe()[1])


def _wait_for(predicate):
    deadline = time.monotonic() + 10
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


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
        assert _wait_for(lambda: set(pid1.FORWARDED) <= unc.signal_masks(unc._status(pid)))
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
    assert os.waitstatus_to_exitcode(pid1.reap(command)) == 4
    with pytest.raises(ChildProcessError):
        os.waitpid(other, os.WNOHANG)


def _is_zombie(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(") ", 1)[1][0] == "Z"


def test_init_keeps_ignored_signals_ignored_for_the_command(tmp_path):
    out = tmp_path / "out"

    class Run(FakeRun):
        ignored = frozenset({signal.SIGHUP})

    def body():
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        _init(["sh", "-c", f"grep SigIgn /proc/self/status > {out}"], Run())()
    assert _exit_code(_start_in_child(body)) == 0
    assert int(out.read_text().split()[1], 16) & 1
