"""core/status.py: --json-status-fd's descriptor and the objects written to it."""

import fcntl
import json
import os

import pytest

from core import Fail
from core.status import StatusFd


@pytest.fixture
def pipe():
    r, w = os.pipe2(0)              # inheritable, as a caller's descriptor is
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


def lines(r, w):
    os.close(w)
    data = b""
    while chunk := os.read(r, 4096):
        data += chunk
    return [json.loads(line) for line in data.decode().splitlines()]


def test_the_objects(pipe):
    r, w = pipe
    status = StatusFd(str(w))
    status.running(42, "net", {"net": "none", "ports": []})
    status.ended(143, signaled=True)
    status.ended(7)
    status.ended(143)                  # a command's own exit 143: no signal
    status.ended(125, error="bad")
    assert lines(r, w) == [
        {"pid": 42, "stage": "net", "net": "none", "ports": []},
        {"exit-status": 143, "signal": 15, "signal-name": "SIGTERM"},
        {"exit-status": 7},
        {"exit-status": 143},
        {"exit-status": 125, "error": "bad"},
    ]


def test_the_command_does_not_inherit_it(pipe):
    _, w = pipe
    assert not fcntl.fcntl(w, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    StatusFd(str(w))
    assert fcntl.fcntl(w, fcntl.F_GETFD) & fcntl.FD_CLOEXEC


def test_refused_descriptors(pipe):
    r, w = pipe
    with pytest.raises(Fail, match="^invalid --json-status-fd '-1': give a file"):
        StatusFd("-1")
    with pytest.raises(Fail, match=f"^--json-status-fd {r}: it is open for reading only$"):
        StatusFd(str(r))
    os.close(w)
    with pytest.raises(Fail, match=f"^--json-status-fd {w}: it is not an open file descriptor"):
        StatusFd(str(w))


def test_a_reader_that_went_away_is_no_error(pipe):
    r, w = pipe
    status = StatusFd(str(w))
    os.close(r)
    status.running(1, "uts", {})           # EPIPE (SIGPIPE is ignored in Python)
    status.ended(0)


def test_an_internal_error_still_ends_the_status(pipe, monkeypatch):
    """unc's own bug during a run: the supervisor gets an end object with
    125 and the error, as for any failure, and the error goes on to main()."""
    from core import run as core_run
    r, w = pipe

    def broken(run):
        raise KeyError("oops")
    monkeypatch.setattr(core_run, "start", broken)
    with pytest.raises(KeyError):
        core_run.container({"--json-status-fd": str(w), "argv": ["true"]}, [])
    assert lines(r, w) == [{"exit-status": 125, "error": "internal error: KeyError: 'oops'"}]
