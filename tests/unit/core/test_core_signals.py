"""core/signals.py: /proc masks, inherited ignores, wait statuses."""

import os
import signal

import pytest

from core import signals

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
    assert signals.signal_masks(STATUS) == {1, 2, 15, 17}


def test_signal_masks_of_a_gone_process_is_empty():
    assert signals.signal_masks("") == set()


def test_signal_masks_high_signals():
    assert signals.signal_masks("SigCgt:\t8000000000000000\n") == {64}


def test_handles_reads_our_own_status():
    old = signal.signal(signal.SIGUSR2, lambda *a: None)
    try:
        assert signals.handles(os.getpid(), signal.SIGUSR2)
    finally:
        signal.signal(signal.SIGUSR2, old)
    assert not signals.handles(os.getpid(), signal.SIGUSR2)


def test_handles_a_gone_process_takes_nothing():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    assert not signals.handles(pid, signal.SIGTERM)


def test_ignored_signals_are_the_callers_not_pythons():
    old = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        ignored = signals.ignored_signals()
    finally:
        signal.signal(signal.SIGHUP, old)
    assert signal.SIGHUP in ignored
    # Python ignores these itself at start; the caller's choice is unknown.
    assert signal.SIGPIPE not in ignored and signal.SIGXFSZ not in ignored
    assert signal.SIGHUP not in signals.ignored_signals()


@pytest.mark.parametrize("status, code", [
    (0, 0), (7 << 8, 7), (255 << 8, 255), (9, 137), (15, 143), (11, 139), (2, 130),
])
def test_wait_status_maps_to_shell_status(status, code):
    assert signals.exit_status(status) == code


@pytest.mark.parametrize("status, code", [
    (0, 0), (3 << 8, 3), (15, 143), (11, 139), (9, 137), (0x86, 134),
])
def test_init_exit_code_is_the_shells_view(status, code):
    # core/init.py exits with exit_status() (pid1.exit_code before).
    assert signals.exit_status(status) == code


def test_default_signals_keeps_only_the_callers_ignores():
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
            signals.default_signals(frozenset({signal.SIGHUP}))
            with open("/proc/self/status") as f:
                os.write(w, f.read().encode())
        finally:
            os._exit(0)
    os.close(w)
    status = b""
    while chunk := os.read(r, 4096):
        status += chunk
    os.close(r)
    os.waitpid(pid, 0)
    fields = dict(line.split(":\t") for line in status.decode().splitlines() if ":\t" in line)
    assert int(fields["SigIgn"], 16) == 1 << (signal.SIGHUP - 1)    # not PIPE, XFSZ, INT
    assert int(fields["SigBlk"], 16) == 0


def test_forwarded_signals_are_the_documented_ones():
    assert [signal.Signals(s).name for s in signals.FORWARDED] == [
        "SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGALRM",
        "SIGWINCH", "SIGCONT"]
    assert signal.SIGWINCH in signals.HARMLESS and signal.SIGTERM not in signals.HARMLESS


def test_kill_does_not_mind_a_gone_process():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    signals.kill(pid)
