"""identity/idmap.py: maps written for real into a new user namespace.

The real tests need root: they run the writer as the unprivileged user
unc-test (created here as tests/run does, with a range in /etc/subuid and
/etc/subgid) and the real newuidmap/newgidmap of the Debian package uidmap.
"""

import ctypes
import json
import os
import pathlib
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile

import pytest

from core import Fail

from identity import idmap, subids
from identity.subids import Extent, IdMap

CLONE_NEWUSER = 0x10000000
TEST_USER = "unc-test"

root_only = pytest.mark.skipif(os.geteuid() != 0, reason=(
    "needs root: runs newuidmap as the unprivileged user unc-test, which it creates"))
helpers_installed = pytest.mark.skipif(
    not (shutil.which("newuidmap", path="/usr/bin:/usr/sbin")
         and shutil.which("newgidmap", path="/usr/bin:/usr/sbin")),
    reason="newuidmap/newgidmap missing: apt-get install uidmap")


def _userns_possible():
    """Whether this host lets us create a user namespace (in a child)."""
    pid = os.fork()
    if pid == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        os._exit(0 if libc.unshare(CLONE_NEWUSER) == 0 else 1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


userns = pytest.mark.skipif(not _userns_possible(), reason="user namespaces are off here")


class Waiting:
    """A child in a new user namespace, waiting until released, as the
    container's PID 1 waits for stage user_pid's host_setup."""

    def __enter__(self):
        ready_r, ready_w = os.pipe()
        self.go_r, self.go_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.close(ready_r)
                os.close(self.go_w)
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.unshare(CLONE_NEWUSER) != 0:
                    os._exit(1)
                os.write(ready_w, b"r")
                os.read(self.go_r, 1)
            finally:
                os._exit(0)
        os.close(ready_w)
        os.close(self.go_r)
        assert os.read(ready_r, 1) == b"r"
        os.close(ready_r)
        return self

    def read(self, name):
        with open(f"/proc/{self.pid}/{name}") as f:
            return f.read()

    def lines(self, name):
        return [" ".join(line.split()) for line in self.read(name).splitlines()]

    def __exit__(self, *exc):
        os.close(self.go_w)
        os.waitpid(self.pid, 0)


def as_user(user, body):
    """Run body() in a child with `user`'s ids (as newuidmap's callers run);
    return its JSON-able result or raise what it raised, as text."""
    pw = pwd.getpwnam(user)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            # Changing ids made us non-dumpable: /proc/PID of our children
            # would be root's, and newuidmap refuses a target owned by
            # another user. unc never changes its ids, so it is dumpable.
            ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)       # PR_SET_DUMPABLE
            result = {"ok": body(pw)}
        except BaseException as e:
            result = {"error": f"{e.__class__.__name__}: {e}"}
        os.write(w, json.dumps(result).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    result = json.loads(data)
    if "error" in result:
        raise AssertionError(result["error"])
    return result["ok"]


@pytest.fixture(scope="module")
def test_user():
    """unc-test with subordinate ranges, as tests/run makes it."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", TEST_USER],
                       check=True)
    for path in ("/etc/subuid", "/etc/subgid"):
        pw = pwd.getpwnam(TEST_USER)
        if not subids.ranges_of(subids.read_subids(path), TEST_USER, pw.pw_uid):
            subprocess.run(["usermod", "--add-subuids", "300000-365535",
                            "--add-subgids", "300000-365535", TEST_USER], check=True)
    return TEST_USER


@pytest.fixture
def world_dir():
    """A directory the test user can read (pytest's tmp_path is root's only)."""
    path = tempfile.mkdtemp(prefix="unc-idmap-test.")
    os.chmod(path, 0o755)
    yield pathlib.Path(path)
    shutil.rmtree(path)


def _error(call):
    try:
        call()
    except Fail as e:
        return str(e)
    raise AssertionError("no Fail")


# ------------------------------------------------------------ as root

@root_only
@userns
def test_root_writes_any_map_itself_and_keeps_setgroups():
    seen = []
    uid_map = IdMap("uid", [Extent(0, 0, 1), Extent(1, 200000, 1000)], 0, True)
    gid_map = IdMap("gid", [Extent(0, 0, 1), Extent(1, 200000, 1000)], 0, True)
    with Waiting() as child:
        state = idmap.write_maps(child.pid, uid_map, gid_map, env={}, trace=seen.append)
        assert child.lines("uid_map") == ["0 0 1", "1 200000 1000"]
        assert child.lines("gid_map") == ["0 0 1", "1 200000 1000"]
        assert state == "allow" and child.read("setgroups").strip() == "allow"
    assert seen == [f'write /proc/{child.pid}/uid_map "0 0 1\\n1 200000 1000"',
                    f'write /proc/{child.pid}/gid_map "0 0 1\\n1 200000 1000"']


@root_only
@userns
def test_kernel_refusal_as_root_is_one_line():
    bad = IdMap("uid", [Extent(0, 0, 10), Extent(5, 100, 10)], 0, True)
    good = IdMap("gid", [Extent(0, 0, 1)], 0, True)
    with Waiting() as child:
        text = _error(lambda: idmap.write_maps(child.pid, bad, good, env={}))
    assert text == (f"cannot write /proc/{child.pid}/uid_map: Invalid argument; the kernel "
                    "refused the map as invalid (overlapping ranges, or more lines than "
                    "it takes)")


# ------------------------------------------------------------ as a user

@root_only
@userns
@helpers_installed
def test_map_auto_through_newuidmap(test_user):
    def body(pw):
        seen = []
        uid_map = subids.plan("uid", os.getuid(), pw.pw_name, auto=True)
        gid_map = subids.plan("gid", os.getgid(), pw.pw_name, auto=True)
        with Waiting() as child:
            state = idmap.write_maps(child.pid, uid_map, gid_map,
                                     env={"PATH": "/usr/bin:/bin"}, trace=seen.append)
            return {"pid": child.pid, "uid_map": child.lines("uid_map"),
                    "gid_map": child.lines("gid_map"), "state": state,
                    "trace": seen, "want": [uid_map.text(), gid_map.text()]}

    got = as_user(test_user, body)
    pw = pwd.getpwnam(test_user)
    sub_u = subids.ranges_of(subids.read_subids("/etc/subuid"), test_user, pw.pw_uid)[0]
    sub_g = subids.ranges_of(subids.read_subids("/etc/subgid"), test_user, pw.pw_uid)[0]
    assert got["uid_map"] == [f"0 {pw.pw_uid} 1", f"1 {sub_u[0]} {sub_u[1]}"]
    assert got["gid_map"] == [f"0 {pw.pw_gid} 1", f"1 {sub_g[0]} {sub_g[1]}"]
    # A gid range from /etc/subgid: newgidmap leaves setgroups allowed.
    assert got["state"] == "allow"
    pid = got["pid"]
    assert got["trace"] == [
        f"newuidmap {pid} 0 {pw.pw_uid} 1 1 {sub_u[0]} {sub_u[1]}",
        f"newgidmap {pid} 0 {pw.pw_gid} 1 1 {sub_g[0]} {sub_g[1]}"]


@root_only
@userns
def test_user_writes_own_line_itself_and_setgroups_is_denied(test_user):
    def body(pw):
        seen = []
        uid_map = subids.plan("uid", os.getuid(), pw.pw_name)
        gid_map = subids.plan("gid", os.getgid(), pw.pw_name)
        with Waiting() as child:
            # No helper needed: PATH leads nowhere.
            state = idmap.write_maps(child.pid, uid_map, gid_map, env={"PATH": ""},
                                     dirs=(), trace=seen.append)
            return [child.pid, child.lines("uid_map"), child.lines("gid_map"), state,
                    seen]

    pid, uids, gids, state, seen = as_user(test_user, body)
    pw = pwd.getpwnam(test_user)
    assert uids == [f"0 {pw.pw_uid} 1"] and gids == [f"0 {pw.pw_gid} 1"]
    assert state == "deny"
    assert seen == [f'write /proc/{pid}/uid_map "0 {pw.pw_uid} 1"',
                    f'write /proc/{pid}/setgroups "deny"',
                    f'write /proc/{pid}/gid_map "0 {pw.pw_gid} 1"']


@root_only
@userns
@helpers_installed
def test_uid_ranges_with_own_gid_only(test_user):
    """--map-users with no gid ranges: newuidmap for uids, the one gid line
    written directly (setgroups denied first)."""
    def body(pw):
        uid_map = subids.plan("uid", os.getuid(), pw.pw_name, auto=True)
        gid_map = subids.plan("gid", os.getgid(), pw.pw_name)
        with Waiting() as child:
            state = idmap.write_maps(child.pid, uid_map, gid_map, env={})
            return [len(child.lines("uid_map")), child.lines("gid_map"), state]

    n, gids, state = as_user(test_user, body)
    assert n == 2 and gids == [f"0 {pwd.getpwnam(test_user).pw_gid} 1"]
    assert state == "deny"


@root_only
@userns
@helpers_installed
def test_helper_refuses_a_range_not_granted(test_user):
    def body(pw):
        # Past plan()'s own check, to see newuidmap's refusal explained.
        uid_map = IdMap("uid", [Extent(0, os.getuid(), 1), Extent(1, 7000000, 10)],
                        os.getuid())
        gid_map = subids.plan("gid", os.getgid(), pw.pw_name)
        with Waiting() as child:
            return _error(lambda: idmap.write_maps(child.pid, uid_map, gid_map, env={}))

    assert as_user(test_user, body) == (
        "newuidmap failed: uid range [1-11) -> [7000000-7000010) not allowed: "
        "/etc/subuid does not grant you these host uids (lines NAME:START:COUNT); "
        "ask root for a range")


@root_only
@userns
@helpers_installed
def test_helper_without_setuid_bit_is_explained(test_user, world_dir):
    copy = world_dir / "newuidmap"
    shutil.copy("/usr/bin/newuidmap", copy)
    os.chmod(copy, 0o755)

    def body(pw):
        uid_map = subids.plan("uid", os.getuid(), pw.pw_name, auto=True)
        gid_map = subids.plan("gid", os.getgid(), pw.pw_name)
        with Waiting() as child:
            return _error(lambda: idmap.write_maps(
                child.pid, uid_map, gid_map, env={"PATH": str(world_dir)}))

    assert as_user(test_user, body) == (
        f"newuidmap failed: write to uid_map failed: Operation not permitted; {copy} is "
        f"not setuid root: `ls -l {copy}` must show -rwsr-xr-x owned by root; as root: "
        f"apt-get install --reinstall uidmap (or chmod u+s {copy})")


# ------------------------------------------------------------ no kernel needed

def _ranges_map(kind="uid"):
    """A map that needs the helper: the own id and a subordinate range."""
    return IdMap(kind, [Extent(0, 1000, 1), Extent(1, 100000, 65536)], 1000)


def test_missing_helper_names_the_package(tmp_path):
    text = _error(lambda: idmap.require_helpers(
        _ranges_map(), _ranges_map("gid"), env={"PATH": str(tmp_path)},
        privileged=False, dirs=(str(tmp_path),)))
    assert text == (f"newuidmap is not installed (not on PATH nor in {tmp_path}); it "
                    "writes id ranges for users other than root: install the Debian "
                    "package uidmap (apt-get install uidmap)")


def test_no_helper_needed_for_root_or_own_line(tmp_path):
    own = IdMap("uid", [Extent(0, 1000, 1)], 1000)
    assert idmap.require_helpers(_ranges_map(), _ranges_map("gid"), env={},
                                 privileged=True, dirs=()) == {}
    assert idmap.require_helpers(own, IdMap("gid", [Extent(0, 5, 1)], 5), env={},
                                 privileged=False, dirs=()) == {}
    assert idmap.needs_helpers(own, _ranges_map("gid"), privileged=False) == ["gid"]
    # By default, as the maps were planned.
    planned_as_root = IdMap("uid", [Extent(0, 0, 1), Extent(1, 5, 5)], 0, privileged=True)
    assert idmap.needs_helpers(planned_as_root, planned_as_root) == []
    assert idmap.needs_helpers(_ranges_map(), _ranges_map("gid")) == ["uid", "gid"]


def test_helper_found_on_path_before_standard_dirs(tmp_path):
    fake = tmp_path / "newuidmap"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert idmap.find_helper("newuidmap", {"PATH": f"relative:{tmp_path}"}) == str(fake)
    assert idmap.find_helper("newuidmap", {"PATH": ""}, dirs=(str(tmp_path),)) == str(fake)
    assert idmap.find_helper("newuidmap", {}, dirs=()) is None


def fake_helper(tmp_path, script):
    for name in ("newuidmap", "newgidmap"):
        path = tmp_path / name
        path.write_text("#!/bin/sh\n" + script)
        path.chmod(0o755)
    return {"PATH": str(tmp_path)}


def test_helper_gets_only_the_given_environment(tmp_path):
    """The env parameter is all the helper sees: no _PYI_*/_MEI* of the
    frozen binary, whatever unc's own environment holds."""
    env = fake_helper(tmp_path, 'echo "$0 $* | $(/usr/bin/env | /usr/bin/sort | '
                      f'/usr/bin/tr "\\n" " ")" >> {tmp_path}/log\n')
    env["KEEP"] = "1"
    seen = []
    os.environ["_PYI_TEST_LEAK"] = "x"
    try:
        state = idmap.write_maps(999999999, _ranges_map(), _ranges_map("gid"), env=env,
                                 privileged=False, trace=seen.append)
    finally:
        del os.environ["_PYI_TEST_LEAK"]
    assert state is None                      # no such process to ask
    # The two helpers run at once: their lines may come in either order.
    log = sorted((tmp_path / "log").read_text().splitlines(), key=lambda l: "newgid" in l)
    assert log[0].startswith(f"{tmp_path}/newuidmap 999999999 0 1000 1 1 100000 65536 | ")
    assert log[1].startswith(f"{tmp_path}/newgidmap 999999999 0 1000 1 1 100000 65536 | ")
    assert all("KEEP=1" in line and "_PYI" not in line for line in log)
    assert seen == ["newuidmap 999999999 0 1000 1 1 100000 65536",
                    "newgidmap 999999999 0 1000 1 1 100000 65536"]


def test_default_environment_is_cleaned_of_the_bootloaders(tmp_path, monkeypatch):
    fake_helper(tmp_path, f'/usr/bin/env > {tmp_path}/env\n')
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("_PYI_ARCHIVE_FILE", "/x")
    monkeypatch.setenv("LD_LIBRARY_PATH", "/tmp/_MEI")
    monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", "/orig")
    helpers = idmap.require_helpers(_ranges_map(), _ranges_map("gid"), privileged=False)
    idmap.write_maps(999999999, _ranges_map(), _ranges_map("gid"), privileged=False,
                     helpers=helpers)
    env = (tmp_path / "env").read_text()
    assert "_PYI_" not in env and "LD_LIBRARY_PATH=/orig\n" in env


def test_helper_failure_is_one_line(tmp_path):
    env = fake_helper(tmp_path, 'echo "${0##*/}: first" >&2; echo second >&2; '
                      'echo "usage: x" >&2; printf "\\033[31mred\\n" >&2; exit 1\n')
    text = _error(lambda: idmap.write_maps(1, _ranges_map(), _ranges_map("gid"), env=env,
                                           privileged=False))
    assert text == "newuidmap failed: first; second; ?[31mred"


def test_helper_that_cannot_run(tmp_path):
    env = fake_helper(tmp_path, "")
    (tmp_path / "newuidmap").write_bytes(b"\x7fELF garbage")
    text = _error(lambda: idmap.write_maps(1, _ranges_map(), _ranges_map("gid"), env=env,
                                           privileged=False))
    assert text.startswith(f"newuidmap failed: cannot execute {tmp_path}/newuidmap: "
                           "Exec format error; reinstall")


def test_helper_that_hangs_is_killed(tmp_path, monkeypatch):
    env = fake_helper(tmp_path, "exec /bin/sleep 60\n")
    monkeypatch.setattr(idmap, "HELPER_TIMEOUT", 0.2)
    text = _error(lambda: idmap.write_maps(1, _ranges_map(), _ranges_map("gid"), env=env,
                                           privileged=False))
    assert text.startswith("newuidmap did not finish within 0.2 s")


@pytest.mark.parametrize("said, words", [
    ("newuidmap: uid range [1-2) -> [5-6) not allowed", "/etc/subuid does not grant"),
    ("newuidmap: Target process is owned by a different user: uid:1", "not dumpable"),
    ("newuidmap: Cannot determine your user name.", "no entry in the host's user database"),
    ("newuidmap: write to uid_map failed: Invalid argument", "overlapping ranges"),
    ("something new", "newuidmap failed: something new"),
    ("", "newuidmap failed: exit status 1"),
])
def test_explanations(said, words):
    text = idmap.explain_helper_failure("/usr/bin/newuidmap", 1, said, _ranges_map(),
                                        sysctl=lambda name: None)
    assert words in text and "\n" not in text


def test_apparmor_sysctl_is_named():
    text = idmap.explain_helper_failure(
        "/usr/bin/newuidmap", 1, "newuidmap: write to uid_map failed: Operation not "
        "permitted", _ranges_map(), sysctl=lambda name: "1")
    assert "kernel.apparmor_restrict_unprivileged_userns=1" in text


def test_nosuid_mount_is_named(monkeypatch):
    real = os.statvfs("/")

    class Vfs:
        f_flag = real.f_flag | os.ST_NOSUID
    monkeypatch.setattr(os, "statvfs", lambda path: Vfs)

    class Setuid:
        st_uid, st_mode = 0, stat.S_IFREG | 0o4755
    monkeypatch.setattr(os, "stat", lambda path: Setuid)
    text = idmap.why_helper_lacks_privilege("/usr/bin/newuidmap", lambda name: None)
    assert "mounted nosuid" in text


def test_unmapped_outside():
    m = IdMap("uid", [Extent(0, 0, 1), Extent(1, 100000, 65536)], 0, True)
    assert idmap.unmapped_outside(m, "0 0 4294967295\n") == ""
    assert idmap.unmapped_outside(m, "5 1000 1\n1 100000 1000\n") == "0, 100000-165535"


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
