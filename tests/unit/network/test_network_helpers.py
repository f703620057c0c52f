"""network/helpers.py: helper processes on the host, tied to unc's life."""

import os
import shutil
import stat
import tempfile

import pytest

from core import cli
from core import Fail
from core.run import Run
from network import helpers


def traced_run():
    return Run(cli.parse(["--trace", "true"]), [])


def test_log_text_drops_syslog_noise():
    fd = os.memfd_create("t")
    os.write(fd, b"Failed to send 47 bytes to syslog\n\nCouldn't open tun: Permission denied\n")
    assert helpers.log_text(fd) == ["Couldn't open tun: Permission denied"]
    os.close(fd)


def test_spawn_and_wait_ready_report_a_helper_that_fails(capfd):
    run = traced_run()
    r, w = os.pipe()
    pid, log = helpers.spawn(run, ["/bin/sh", "-c",
                                   "echo 'open(\"/dev/net/tun\"): boom' >&2; exit 1"], fds=(w,))
    os.close(w)
    with pytest.raises(Fail, match='pasta could not set up the container.s network: '
                                   'open\\("/dev/net/tun"\\): boom'):
        helpers.wait_ready("pasta", pid, r, log)
    os.close(log)
    assert "(host pid" in capfd.readouterr().err.splitlines()[-1]


def test_wait_ready_gives_the_ready_message():
    run = Run({}, [])
    r, w = os.pipe()
    pid, log = helpers.spawn(run, ["/bin/sh", "-c", "echo 1234 >&3; sleep 30"], fds=(w,))
    os.close(w)
    assert helpers.wait_ready("pasta", pid, r, log) == "1234"
    helpers.stop(pid)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    os.close(log)
    helpers.stop(pid)                       # gone already: harmless


def test_a_tun_refusal_says_what_is_wrong_with_tun(monkeypatch):
    monkeypatch.setattr(helpers, "tun_problem", lambda: "which you may not open")
    r, w = os.pipe()
    pid, log = helpers.spawn(Run({}, []), ["/bin/sh", "-c",
                                           "echo 'open tun: Permission denied' >&2"], fds=(w,))
    os.close(w)
    with pytest.raises(Fail) as e:
        helpers.wait_ready("slirp4netns", pid, r, log)
    os.close(log)
    assert str(e.value).endswith("Permission denied; it needs /dev/net/tun, which you may "
                                 "not open")


def test_spawn_gives_fds_3_and_up_and_nothing_else():
    run = Run({}, [])
    r, w = os.pipe()
    stray = os.open("/dev/null", os.O_RDONLY)
    os.set_inheritable(stray, True)         # as a caller's leaked fd would be
    pid, log = helpers.spawn(run, ["/bin/sh", "-c", "ls /proc/$$/fd"], fds=(w,))
    os.close(w)
    os.waitpid(pid, 0)
    assert sorted(helpers.log_text(log), key=int) == ["0", "1", "2", "3"]
    os.close(log)
    os.close(r)
    os.close(stray)


def test_spawned_helpers_start_with_default_signals():
    run = Run({}, [])
    r, w = os.pipe()
    pid, log = helpers.spawn(run, ["/bin/sh", "-c",
                                   "grep -E '^Sig(Ign|Blk)' /proc/self/status >&3"], fds=(w,))
    os.close(w)
    out = b""
    while chunk := os.read(r, 4096):
        out += chunk
    os.close(r)
    os.waitpid(pid, 0)
    os.close(log)
    # Python ignores SIGPIPE (13); the helper must not inherit that.
    ignored = int(out.split()[1], 16)
    assert not ignored & (1 << (13 - 1))


def test_spawned_helpers_get_no_pyinstaller_variables(monkeypatch):
    monkeypatch.setenv("_PYI_APPLICATION_HOME_DIR", "/tmp/_MEI1")
    monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", "/caller")
    monkeypatch.setenv("LD_LIBRARY_PATH", "/tmp/_MEI1:/caller")
    pid, log = helpers.spawn(Run({}, []), ["/usr/bin/env"])
    os.waitpid(pid, 0)
    env = helpers.log_text(log)
    os.close(log)
    assert "LD_LIBRARY_PATH=/caller" in env
    assert not any(line.startswith(("_PYI_", "LD_LIBRARY_PATH_ORIG=")) for line in env)


def test_private_dir_is_fresh_and_ours(monkeypatch):
    base = tempfile.mkdtemp(prefix="unc-t")          # short: sun_path is 108 bytes
    try:
        monkeypatch.setenv("XDG_RUNTIME_DIR", base)
        path = helpers.private_dir()
        assert os.path.dirname(path) == base
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
        assert helpers.private_dir() != path
        monkeypatch.setenv("XDG_RUNTIME_DIR", "relative")
        other = helpers.private_dir()
        assert other.startswith("/tmp/unc-net-")
        os.rmdir(other)
        monkeypatch.setenv("XDG_RUNTIME_DIR", "/" + "x" * 70)    # too long for the socket
        other = helpers.private_dir()
        assert other.startswith("/tmp/unc-net-")
        os.rmdir(other)
    finally:
        shutil.rmtree(base)
