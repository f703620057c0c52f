"""identity/passwd.py: -u USER[:GROUP] against a container's user database."""

import ctypes
import json
import os

import pytest

from core import Fail

from identity import passwd
from identity.passwd import User, resolve

PASSWD = """\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
_apt:x:42:65534::/nonexistent:/usr/sbin/nologin
alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
noshell:x:1001:1001::/home/noshell:
nohome:x:1002:1002:::/bin/sh
# a comment
broken:x:abc:1:::
+nisplus::::::
alice:x:2000:2000:second alice:/elsewhere:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""

GROUP = """\
root:x:0:
daemon:x:1:
adm:x:4:alice
audio:x:29:bob, alice
alice:x:1000:
staff:x:50:alice,alice
users:x:100:
nogroup:x:65534:
broken:x:x:alice
"""


def r(spec):
    return resolve(spec, passwd=PASSWD, group=GROUP)


def test_name_with_groups_from_membership():
    assert r("alice") == User("alice", 1000, 1000, [1000, 4, 29, 50], "/home/alice",
                              "/bin/bash")


def test_first_entry_wins():
    assert r("alice").uid == 1000


def test_number_with_an_entry_is_that_user():
    assert r("1000") == r("alice")
    assert r("42") == User("_apt", 42, 65534, [65534], "/nonexistent",
                           "/usr/sbin/nologin")


def test_number_without_an_entry_gets_runcs_defaults():
    assert r("1234") == User(None, 1234, 0, [0], "/", None)
    assert resolve("0", passwd="", group="") == User(None, 0, 0, [0], "/root", None)


def test_no_spec_is_root():
    assert r(None) == User("root", 0, 0, [0], "/root", "/bin/bash")
    assert resolve(None, passwd="", group="").home == "/root"


def test_explicit_group_replaces_the_supplementary_ones():
    assert r("alice:users") == User("alice", 1000, 100, [100], "/home/alice", "/bin/bash")
    assert r("alice:7") == User("alice", 1000, 7, [7], "/home/alice", "/bin/bash")
    assert r("1234:audio") == User(None, 1234, 29, [29], "/", None)


def test_empty_home_and_shell():
    assert r("noshell").shell is None
    assert r("nohome").home == "/"


@pytest.mark.parametrize("spec, words", [
    ("bob", "-u bob: no user bob in the container's /etc/passwd; give a number"),
    ("alice:wheel", "-u alice:wheel: no group wheel in the container's /etc/group"),
    ("", "expected USER or USER:GROUP"),
    (":users", "expected USER or USER:GROUP"),
    ("alice:", "expected USER or USER:GROUP"),
    ("a:b:c", "expected USER or USER:GROUP"),
    ("4294967295", "beyond the largest id, 4294967294"),
    ("1:4294967296", "beyond the largest id"),
    ("al\0ice", "NUL byte"),
    ("broken", "no user broken"),
    ("+nisplus", "no user +nisplus"),
])
def test_bad_user_is_one_clear_line(spec, words):
    with pytest.raises(Fail) as e:
        r(spec)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_names_need_the_files():
    with pytest.raises(Fail, match="the container has no /etc/passwd"):
        resolve("alice", root="/nonexistent")
    with pytest.raises(Fail, match="the container has no /etc/group"):
        resolve("0:staff", passwd=PASSWD, root="/nonexistent")
    assert resolve("5:6", root="/nonexistent") == User(None, 5, 6, [6], "/", None)


def test_reads_the_files_under_root(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text(PASSWD)
    (tmp_path / "etc/group").write_text(GROUP)
    assert resolve("alice", root=str(tmp_path)) == r("alice")


def test_a_fifo_does_not_hang(tmp_path):
    (tmp_path / "etc").mkdir()
    os.mkfifo(tmp_path / "etc/passwd")
    with pytest.raises(Fail, match="/etc/passwd is not a regular file"):
        resolve("alice", root=str(tmp_path))


def test_huge_file_is_refused(tmp_path, monkeypatch):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text(PASSWD * 10)
    monkeypatch.setattr(passwd, "MAX_DB_SIZE", 1000)
    with pytest.raises(Fail, match="larger than"):
        resolve("alice", root=str(tmp_path))


def test_unreadable_file(tmp_path):
    (tmp_path / "etc/passwd").mkdir(parents=True)
    with pytest.raises(Fail, match="passwd is not a regular file|Is a directory"):
        resolve("alice", root=str(tmp_path))


# ------------------------------------------------------------ switch_user

def in_child(body):
    """Run body() in a forked child; its JSON-able result, or its error text."""
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            result = {"ok": body()}
        except BaseException as e:
            result = {"error": f"{e.__class__.__name__}: {e}"}
        os.write(wr, json.dumps(result).encode())
        os._exit(0)
    os.close(wr)
    data = b""
    while chunk := os.read(rd, 65536):
        data += chunk
    os.close(rd)
    os.waitpid(pid, 0)
    return json.loads(data)


def pdeathsig():
    value = ctypes.c_int(0)
    ctypes.CDLL(None).prctl(2, ctypes.byref(value), 0, 0, 0)
    return value.value


root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to change ids")


@root_only
def test_switch_user_sets_groups_gid_uid_and_keeps_the_death_signal():
    def body():
        ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)          # PR_SET_PDEATHSIG, SIGKILL
        seen = []
        passwd.switch_user(User("alice", 1000, 1000, [1000, 4, 29], "/", None),
                           setgroups=True, trace=seen.append)
        return [os.getresuid(), os.getresgid(), sorted(os.getgroups()), pdeathsig(), seen]

    got = in_child(body)["ok"]
    assert got == [[1000] * 3, [1000] * 3, [4, 29, 1000], 9,
                   ["setgroups 1000,4,29", "setgid 1000", "setuid 1000"]]


CLONE_NEWUSER = 0x10000000


def in_userns(uid_map, gid_map, setgroups, body):
    """body() in a child in a new user namespace with these maps, written
    by us (root) from outside."""
    rd, wr = os.pipe()
    go_r, go_w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(go_w)
        os.close(rd)
        os.close(ready_r)
        try:
            if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWUSER) != 0:
                raise OSError(ctypes.get_errno(), "unshare")
            os.close(ready_w)
            os.read(go_r, 1)
            result = {"ok": body()}
        except BaseException as e:
            result = {"error": f"{e.__class__.__name__}: {e}"}
        os.write(wr, json.dumps(result).encode())
        os._exit(0)
    os.close(go_r)
    os.close(wr)
    os.close(ready_w)
    os.read(ready_r, 1)                 # EOF: the child has its namespace
    os.close(ready_r)
    try:
        with open(f"/proc/{pid}/uid_map", "w") as f:
            f.write(uid_map)
        if setgroups == "deny":
            with open(f"/proc/{pid}/setgroups", "w") as f:
                f.write("deny")
        with open(f"/proc/{pid}/gid_map", "w") as f:
            f.write(gid_map)
    finally:
        os.write(go_w, b"g")
        os.close(go_w)
    data = b""
    while chunk := os.read(rd, 65536):
        data += chunk
    os.close(rd)
    os.waitpid(pid, 0)
    return json.loads(data)


@root_only
def test_unmapped_uid_is_explained():
    def body():
        passwd.switch_user(User("alice", 1000, 0, [0], "/", None), setgroups=True)

    got = in_userns("0 0 1\n", "0 0 1\n", "allow", body)
    assert got == {"error": "Fail: uid 1000 (of user alice) is not mapped in the "
                   "container: its uid map lacks it; use --map-auto, or "
                   "--map-users=1000:OUTER:1"}


@root_only
def test_unmapped_supplementary_gid_is_explained_with_the_callers_words():
    def body():
        passwd.switch_user(User("alice", 0, 0, [0, 4], "/", None), setgroups=True,
                           unmapped=lambda kind, n: f"{kind} {n} is not mapped, say I")

    assert in_userns("0 0 1\n", "0 0 1\n", "allow", body) == \
        {"error": "Fail: gid 4 is not mapped, say I"}


@root_only
def test_setgroups_denied_keeps_inherited_groups():
    def body():
        seen = []
        before = sorted(os.getgroups())
        passwd.switch_user(User("x", 0, 0, [0, 4], "/", None), trace=seen.append)
        return [before == sorted(os.getgroups()), os.getresgid(), seen]

    got = in_userns("0 0 1\n", "0 0 1\n", "deny", body)
    assert got == {"ok": [True, [0, 0, 0], [
        "setgroups is denied (the gid map is one line): the supplementary groups stay "
        "as inherited", "setgid 0", "setuid 0"]]}


@root_only
def test_setgroups_allowed_in_a_userns_with_the_groups_mapped():
    def body():
        passwd.switch_user(User("x", 5, 5, [5, 7], "/", None))
        return [os.getuid(), os.getgid(), sorted(os.getgroups())]

    assert in_userns("0 0 10\n", "0 0 10\n", "allow", body) == {"ok": [5, 5, [5, 7]]}
