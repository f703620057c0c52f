"""identity/environ.py and identity/workdir.py: what the command gets."""

import os

import pytest

from core import Fail
from hypothesis import given, strategies as st

from identity import environ, workdir
from identity.environ import build, parse_env
from identity.passwd import User

CALLER = {"PATH": "/home/alice/bin:/usr/bin:/bin", "HOME": "/home/alice",
          "SHELL": "/bin/zsh", "TERM": "xterm", "LANG": "C.UTF-8", "EMPTY": ""}
ALICE = User("alice", 1000, 1000, [1000], "/home/alice", "/bin/bash")
ROOT = User("root", 0, 0, [0], "/root", "/bin/bash")
DAEMON = User("daemon", 1, 1, [1], "/nonexistent", "/usr/sbin/nologin")


def inside(*paths):
    """exists() for a container holding just these paths."""
    return lambda path: path in paths


# ------------------------------------------------------------ -e

@pytest.mark.parametrize("text, result", [
    ("A=1", ("A", "1")),
    ("A=", ("A", "")),
    ("A=b=c", ("A", "b=c")),
    ("A= spaced value ", ("A", " spaced value ")),
    ("LANG", ("LANG", "C.UTF-8")),
    ("EMPTY", ("EMPTY", "")),
    ("MISSING", ("MISSING", None)),
    ("weird.name-1", ("weird.name-1", None)),
])
def test_parse_env(text, result):
    assert parse_env(text, CALLER) == result


@pytest.mark.parametrize("text, words", [
    ("", "-e '': expected NAME=VALUE or NAME"),
    ("=x", "-e =x: expected NAME=VALUE or NAME (the name is missing before '=')"),
    ("A B=1", "the name 'A B' has white space"),
    ("A=x\0y", "-e A=x\\x00y: a NUL byte cannot be passed"),
])
def test_bad_env_is_one_clear_line(text, words):
    with pytest.raises(Fail) as e:
        parse_env(text, CALLER)
    assert str(e.value) == words or words in str(e.value)
    assert "\n" not in str(e.value)


def test_long_values_are_shortened_in_messages():
    with pytest.raises(Fail) as e:
        parse_env("=" + "x" * 200, CALLER)
    assert len(str(e.value)) < 150


# ------------------------------------------------------------ --env-file

def test_env_file(tmp_path):
    path = tmp_path / "env"
    path.write_bytes(b"# comment\n\n  A=1\nB=two words\r\nLANG\nMISSING\n"
                     b"  # indented comment\nQ=\"quoted\"\nX=caf\xe9\n")
    assert environ.read_env_file(str(path), CALLER) == [
        ("A", "1"), ("B", "two words"), ("LANG", "C.UTF-8"), ("MISSING", None),
        ("Q", '"quoted"'), ("X", "caf\udce9")]


def test_env_file_errors_name_file_and_line(tmp_path):
    path = tmp_path / "env"
    path.write_text("A=1\n=oops\n")
    with pytest.raises(Fail) as e:
        environ.read_env_file(str(path), CALLER)
    assert str(e.value) == (f"--env-file {path}:2: =oops: expected NAME=VALUE or NAME "
                            "(the name is missing before '=')")


def test_env_file_with_nul(tmp_path):
    path = tmp_path / "env"
    path.write_bytes(b"A=1\0\n")
    with pytest.raises(Fail, match=r":1: A=1\\x00: a NUL byte"):
        environ.read_env_file(str(path), CALLER)


def test_unreadable_env_file(tmp_path):
    with pytest.raises(Fail) as e:
        environ.read_env_file(str(tmp_path / "none"), CALLER)
    assert str(e.value) == (f"--env-file {tmp_path}/none: cannot read it: "
                            "No such file or directory")
    with pytest.raises(Fail, match="cannot read it: Is a directory"):
        environ.read_env_file(str(tmp_path), CALLER)


def test_settings_order_files_then_options(tmp_path):
    path = tmp_path / "env"
    path.write_text("A=file\nB=file\n")
    assert environ.parse_settings(CALLER, [str(path)], ["A=option", "LANG"]) == [
        ("A", "file"), ("B", "file"), ("A", "option"), ("LANG", "C.UTF-8")]


# ------------------------------------------------------------ build

def test_default_passes_the_caller_on_with_a_longer_path():
    env = build(CALLER, user=ROOT, exists=inside("/home/alice", "/bin/zsh"))
    assert env == dict(CALLER, PATH="/home/alice/bin:/usr/bin:/bin:/usr/local/sbin:"
                       "/usr/local/bin:/usr/sbin:/sbin")


def test_options_override_and_unset():
    settings = [("LANG", "fr_FR.UTF-8"), ("NEW", "1"), ("TERM", None)]
    env = build(CALLER, settings, user=ROOT, exists=inside("/home/alice", "/bin/zsh"))
    assert env["LANG"] == "fr_FR.UTF-8" and env["NEW"] == "1" and "TERM" not in env


def test_explicit_path_is_taken_as_given():
    env = build(CALLER, [("PATH", "/opt/bin")], user=ROOT, exists=inside())
    assert env["PATH"] == "/opt/bin"


def test_missing_caller_home_and_shell_are_replaced_and_said():
    seen = []
    env = build(CALLER, user=ROOT, exists=inside("/root", "/bin/bash"), trace=seen.append)
    assert env["HOME"] == "/root" and env["SHELL"] == "/bin/bash"
    assert seen == ["HOME=/home/alice does not exist in the container: HOME=/root "
                    "(user root's home)",
                    "SHELL=/bin/zsh does not exist in the container: SHELL=/bin/bash "
                    "(user root's shell)"]


def test_missing_shell_without_replacement_is_unset_and_said():
    seen = []
    env = build(CALLER, user=User(None, 0, 0, [0], "/root", None), exists=inside(),
                trace=seen.append)
    assert "SHELL" not in env and env["HOME"] == "/root"
    assert seen[-1] == ("SHELL=/bin/zsh does not exist in the container, and uid 0's "
                        "shell (none in /etc/passwd) does not exist there: SHELL unset")


def test_caller_without_home_or_shell():
    env = build({"PATH": "/bin"}, user=ROOT, exists=inside("/bin/bash"))
    assert env["HOME"] == "/root" and "SHELL" not in env


def test_user_given_follows_the_user():
    seen = []
    env = build(CALLER, user=ALICE, user_given=True,
                exists=inside("/home/alice", "/bin/zsh", "/bin/bash"), trace=seen.append)
    assert env["HOME"] == "/home/alice" and env["SHELL"] == "/bin/bash"
    assert seen == []


def test_user_given_with_passwd_home_that_does_not_exist():
    """Podman and login(1) keep passwd's word: daemons live in /nonexistent."""
    seen = []
    env = build(CALLER, user=DAEMON, user_given=True, exists=inside("/bin/zsh"),
                trace=seen.append)
    assert env["HOME"] == "/nonexistent" and "SHELL" not in env
    assert seen == ["SHELL=/bin/zsh is not user daemon's, and user daemon's shell "
                    "(/usr/sbin/nologin) does not exist there: SHELL unset"]


def test_explicit_home_wins_and_a_missing_one_is_said():
    seen = []
    env = build(CALLER, [("HOME", "/work")], user=ALICE, user_given=True, exists=inside(),
                trace=seen.append)
    assert env["HOME"] == "/work"
    assert seen[0] == "HOME=/work (as set by -e) does not exist in the container"


def test_e_home_without_caller_value_follows_the_user():
    env = build({}, [("HOME", None)], user=ALICE, user_given=True, exists=inside())
    assert env["HOME"] == "/home/alice"


def test_clearenv():
    env = build(CALLER, [("A", "1")], clearenv=True, user=ALICE, user_given=True,
                hostname="box", exists=inside("/home/alice", "/bin/bash"))
    assert env == {"PATH": environ.DEFAULT_PATH, "HOME": "/home/alice", "TERM": "xterm",
                   "HOSTNAME": "box", "container": "unc", "A": "1"}


def test_clearenv_without_term_or_hostname_as_root():
    env = build({"PATH": "/x"}, clearenv=True, user=None)
    assert env == {"PATH": environ.DEFAULT_PATH, "HOME": "/root", "container": "unc"}


def test_nul_in_the_callers_environment_cannot_reach_execve():
    with pytest.raises(Fail, match="holds a NUL byte"):
        build({"A": "x\0y"}, user=ROOT, exists=inside())


@given(st.dictionaries(st.text("ABCZ_", min_size=1, max_size=4), st.text(max_size=5),
                       max_size=5),
       st.lists(st.tuples(st.text("ABCZ_", min_size=1, max_size=4),
                          st.none() | st.text(max_size=5)), max_size=6))
def test_last_setting_wins(caller, settings):
    caller = {k: v.replace("\0", "") for k, v in caller.items()}
    settings = [(k, v.replace("\0", "") if v is not None else None) for k, v in settings]
    env = build(caller, settings, user=ROOT, exists=lambda path: True)
    last = dict(settings)
    for name, value in last.items():
        if name in ("HOME", "SHELL", "PATH"):
            continue
        if value is None:
            assert name not in env
        else:
            assert env[name] == value


# ------------------------------------------------------------ -w

@pytest.mark.parametrize("value, path", [
    ("/src", "/src"), ("/a/b/../c/", "/a/c"), ("//x//y", "/x/y"), ("/", "/"),
])
def test_parse_workdir(value, path):
    assert workdir.parse_workdir(value) == path


@pytest.mark.parametrize("value, words", [
    ("", "-w '': the working directory must be an absolute path"),
    ("src", "-w src: the working directory must be an absolute path"),
    ("/a\0b", "NUL byte"),
])
def test_bad_workdir(value, words):
    with pytest.raises(Fail, match=words.replace("(", r"\(")):
        workdir.parse_workdir(value)


@pytest.fixture
def cwd_back():
    here = os.getcwd()
    yield
    os.chdir(here)


def test_enter_workdir_creates_what_is_missing(tmp_path, cwd_back):
    (tmp_path / "a").mkdir()
    seen = []
    target = f"{tmp_path}/a/b/c"
    created = workdir.enter_workdir(target, trace=seen.append)
    assert created == [f"{tmp_path}/a/b", target]
    assert os.getcwd() == target
    assert seen == [f"mkdir {tmp_path}/a/b", f"mkdir {target}", f"chdir {target}"]
    assert oct(os.stat(target).st_mode & 0o777) == "0o755"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give directories away")
def test_enter_workdir_gives_new_directories_to_the_user(tmp_path, cwd_back):
    (tmp_path / "old").mkdir()
    workdir.enter_workdir(f"{tmp_path}/old/new", uid=1000, gid=1001)
    assert (os.stat(tmp_path / "old").st_uid, os.stat(tmp_path / "old/new").st_uid,
            os.stat(tmp_path / "old/new").st_gid) == (0, 1000, 1001)


def test_enter_workdir_through_a_file(tmp_path, cwd_back):
    (tmp_path / "file").write_text("")
    with pytest.raises(Fail, match="file exists in the container and is not a "
                       "directory"):
        workdir.enter_workdir(f"{tmp_path}/file/x")
