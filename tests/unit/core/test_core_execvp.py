"""core/execvp.py: the command's PATH, finding programs, executing COMMAND,
and the environment of every program unc starts."""

import os

import pytest

from core import execvp
from core.run import Run


@pytest.mark.parametrize("path, result", [
    (None, execvp.DEFAULT_PATH),
    ("", execvp.DEFAULT_PATH),
    ("/usr/bin:/bin", "/usr/bin:/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin"),
    ("/opt/x:/usr/sbin", "/opt/x:/usr/sbin:/usr/local/sbin:/usr/local/bin:/usr/bin:/sbin:/bin"),
])
def test_root_path_adds_the_standard_directories_last(path, result):
    assert execvp.root_path(path) == result


def test_which_searches_path(tmp_path):
    program = tmp_path / "helper"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    (tmp_path / "plain").write_text("")
    assert execvp.which("helper", f"/nonexistent:{tmp_path}") == str(program)
    assert execvp.which("plain", str(tmp_path)) is None
    assert execvp.which("helper", "/nonexistent") is None


# ---------------------------------------------------------------- environment
# What a PyInstaller build's bootloader added, undone (core/frozen.py before).

def test_clean_environ_restores_ld_library_path():
    env = {"LD_LIBRARY_PATH": "/tmp/_MEI1:/caller", "LD_LIBRARY_PATH_ORIG": "/caller",
           "_PYI_APPLICATION_HOME_DIR": "/tmp/_MEI1", "_MEIPASS2": "x", "HOME": "/h"}
    assert execvp.clean_environ(env, frozen=True) == {"LD_LIBRARY_PATH": "/caller", "HOME": "/h"}


def test_clean_environ_drops_the_launchers_path_when_caller_had_none():
    env = {"LD_LIBRARY_PATH": "/tmp/_MEI1", "PATH": "/bin"}
    assert execvp.clean_environ(env, frozen=True) == {"PATH": "/bin"}


def test_clean_environ_keeps_ld_library_path_unfrozen():
    env = {"LD_LIBRARY_PATH": "/mine"}
    assert execvp.clean_environ(env, frozen=False) == env


def test_clean_environ_does_not_change_the_input():
    env = {"LD_LIBRARY_PATH_ORIG": "/x"}
    execvp.clean_environ(env, frozen=True)
    assert env == {"LD_LIBRARY_PATH_ORIG": "/x"}


# ---------------------------------------------------------------- execute

def _execute(argv, env, shell_fallback=False):
    """execute() in a child: (exit code, what it reported)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            execvp.execute(Run({}, []), argv, env, w, shell_fallback)
        finally:
            os._exit(99)
    os.close(w)
    report = b""
    while chunk := os.read(r, 4096):
        report += chunk
    os.close(r)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), report.decode()


def test_a_missing_command_is_127_naming_the_path():
    code, report = _execute(["no-such-command"], {"PATH": "/nonexistent"})
    assert code == 127
    assert report == ("127 no-such-command: command not found in the container's PATH "
                      "(/nonexistent)\n")


def test_a_file_that_cannot_be_executed_is_126(tmp_path):
    (tmp_path / "data").write_text("")
    code, report = _execute([str(tmp_path / "data")], {"PATH": "/bin"})
    assert code == 126
    assert report.startswith(f"126 {tmp_path}/data: cannot execute: ")


def test_a_directory_is_126_is_a_directory(tmp_path):
    code, report = _execute([str(tmp_path)], {"PATH": "/bin"})
    assert (code, report) == (126, f"126 {tmp_path}: cannot execute: Is a directory\n")


def test_a_missing_interpreter_is_127(tmp_path):
    script = tmp_path / "script"
    script.write_text("#!/no/such/interpreter\n")
    script.chmod(0o755)
    code, report = _execute([str(script)], {"PATH": "/bin"})
    assert code == 127 and "interpreter (#! line) or dynamic loader is missing" in report


def test_a_command_is_executed_with_its_arguments_and_environment(tmp_path):
    out = tmp_path / "out"
    code, report = _execute(["sh", "-c", f'echo "$0 $1 $X" > {out}', "a", "b"],
                            {"PATH": "/usr/bin:/bin", "X": "y"})
    assert (code, report) == (0, "")
    assert out.read_text() == "a b y\n"


def test_a_missing_shell_falls_back_to_bin_sh():
    code, report = _execute(["/no/such/shell", "-c", "exit 3"], {"PATH": "/bin"},
                            shell_fallback=True)
    assert (code, report) == (3, "")
