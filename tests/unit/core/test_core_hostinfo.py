"""core/hostinfo.py: the kernel, cgroups and seccomp, for `unc check`."""

import errno
import os

from core import hostinfo

V1 = ("32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n")
V2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
HYBRID = V1 + "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_kernel():
    info = hostinfo.kernel()
    assert info["release"] == os.uname().release
    assert info["summary"] == f"Linux {os.uname().release} ({os.uname().machine})"


def test_cgroup_versions(tmp_path):
    cgroup = write(tmp_path, "cgroup", "1:cpu:/\n0::/user.slice/x\n")
    info = hostinfo.cgroup(write(tmp_path, "m1", V1), cgroup)
    assert info["version"] == "v1" and info["mount"] is None and not info["delegated"]
    assert "v1 only" in info["summary"]
    info = hostinfo.cgroup(write(tmp_path, "m2", HYBRID), cgroup)
    assert (info["version"], info["mount"], info["path"]) == (
        "hybrid", "/sys/fs/cgroup/unified", "/user.slice/x")
    info = hostinfo.cgroup(write(tmp_path, "m3", V2), cgroup)
    assert (info["version"], info["mount"]) == ("v2", "/sys/fs/cgroup")
    info = hostinfo.cgroup(write(tmp_path, "m4", ""), cgroup)
    assert info["version"] is None and "no cgroup" in info["summary"]


def test_a_delegated_cgroup_lists_its_controllers(tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    mine = tree / "user.slice" / "me"
    mine.mkdir(parents=True)
    (mine / "cgroup.controllers").write_text("cpu memory pids\n")
    (mine / "cgroup.procs").write_text("")
    mountinfo = write(tmp_path, "m", f"30 23 0:26 / {tree} rw - cgroup2 cgroup2 rw\n")
    cgroup = write(tmp_path, "cgroup", "0::/user.slice/me\n")
    info = hostinfo.cgroup(mountinfo, cgroup)
    assert info["controllers"] == ["cpu", "memory", "pids"]
    assert info["delegated"] is True
    assert info["delegated_controllers"] == ["cpu", "memory", "pids"]
    assert info["summary"] == f"v2 at {tree}; /user.slice/me is delegated to you (cpu memory pids)"
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    info = hostinfo.cgroup(mountinfo, cgroup)
    assert (info["delegated"], info["delegated_controllers"]) == (False, [])
    assert info["summary"].endswith("/user.slice/me is not delegated to you")


def test_seccomp(tmp_path):
    actions = write(tmp_path, "actions", "kill_process errno allow\n")
    info = hostinfo.seccomp(write(tmp_path, "s", "Name:\tx\nSeccomp:\t0\nSeccomp_filters:\t0\n"),
                            actions)
    assert (info["supported"], info["filters"], info["mode"], info["filtered"]) == (
        True, True, 0, False)
    assert info["summary"] == "filters supported; unc runs under no filter"
    info = hostinfo.seccomp(write(tmp_path, "s2", "Seccomp:\t2\nSeccomp_filters:\t3\n"),
                            actions)
    assert info["filtered"] and info["filter_count"] == 3
    assert "3 filter(s) already" in info["summary"]
    info = hostinfo.seccomp(write(tmp_path, "s3", "Name:\tx\n"), str(tmp_path / "none"))
    assert info["supported"] is False and "CONFIG_SECCOMP" in info["summary"]


def test_try_in_child_reports_the_refused_step():
    def steps(say):
        say("first")
        say("second")
        raise OSError(errno.EPERM, "no")
    step, err = hostinfo.try_in_child(steps)
    assert (step, err.errno, err.strerror) == ("second", errno.EPERM, os.strerror(errno.EPERM))
    assert hostinfo.try_in_child(lambda say: say("fine")) is None

    def buggy(say):
        say("third")
        raise KeyError("x")
    step, err = hostinfo.try_in_child(buggy)
    assert (step, err.errno, err.strerror) == ("third", 0, "KeyError: 'x'")


def test_try_in_child_changes_nothing_here():
    before = os.getcwd()
    assert hostinfo.try_in_child(lambda say: os.chdir("/")) is None
    assert os.getcwd() == before
