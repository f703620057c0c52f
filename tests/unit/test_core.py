"""Units of the core: CLI parsing, stage composition, exit statuses, env."""

import os

import pytest

import frozen
import unc
from stages import ORDER, Fail


def test_usage_text_is_a_constant_not_the_docstring():
    # python -OO strips docstrings; the parser must not depend on one.
    assert "Usage:" in unc.USAGE
    assert "Usage:" not in (unc.__doc__ or "")


@pytest.mark.parametrize("argv, command", [
    (["sh", "-c", "echo $$"], ["sh", "-c", "echo $$"]),
    (["--trace", "ls", "--trace"], ["ls", "--trace"]),
    (["--", "stages"], ["stages"]),
    (["--", "-x"], ["-x"]),
])
def test_everything_after_the_command_belongs_to_it(argv, command):
    assert unc.parse(argv)["argv"] == command


def test_no_command_means_the_default_shell():
    assert "argv" not in unc.parse(["--trace"])


def test_repeatable_options_collect_in_order():
    opts = unc.parse(["-v", "/a:/b", "--volume=/c:/d:ro", "--tmpfs=/t", "--tmpfs", "/u", "true"])
    assert opts["--volume"] == ["/a:/b", "/c:/d:ro"]
    assert opts["--tmpfs"] == ["/t", "/u"]


def test_stages_subcommand():
    assert unc.parse(["stages"])["stages"] is True


@pytest.mark.parametrize("argv", [["--bogus"], ["--stage"], ["-v"]])
def test_usage_errors_are_failures_with_status_125(argv):
    with pytest.raises(Fail) as e:
        unc.parse(argv)
    assert e.value.status == 125
    assert "unc --help" in str(e.value)
    assert "\n" not in str(e.value)


def test_stages_are_cumulative_in_order():
    for i, name in enumerate(ORDER):
        assert [s.NAME for s in unc.select_stages(name)] == ORDER[:i + 1]


def test_default_stage_is_the_last():
    assert [s.NAME for s in unc.select_stages(None)] == ORDER


def test_unknown_stage_lists_the_valid_ones():
    with pytest.raises(Fail) as e:
        unc.select_stages("bogus")
    assert ", ".join(ORDER) in str(e.value)


def test_every_stage_declares_name_summary_and_teaching_docstring():
    for stage in unc.all_stages():
        assert stage.NAME in ORDER
        assert stage.SUMMARY and "\n" not in stage.SUMMARY
        assert len(stage.__doc__) > 500, f"{stage.NAME} must teach its step"


def test_stage_options_need_their_stage():
    opts = unc.parse(["--stage=user_pid", "--hostname=x", "true"])
    with pytest.raises(Fail, match="--hostname needs --stage=uts"):
        unc.check_stage_options(opts, unc.select_stages("user_pid"))
    unc.check_stage_options(opts, unc.select_stages("uts"))


@pytest.mark.parametrize("status, code", [
    (0, 0), (7 << 8, 7), (255 << 8, 255), (9, 137), (15, 143), (11, 139), (2, 130),
])
def test_wait_status_maps_to_shell_status(status, code):
    assert unc.exit_status(status) == code


def test_clean_environ_restores_ld_library_path():
    env = {"LD_LIBRARY_PATH": "/tmp/_MEI1:/caller", "LD_LIBRARY_PATH_ORIG": "/caller",
           "_PYI_APPLICATION_HOME_DIR": "/tmp/_MEI1", "_MEIPASS2": "x", "HOME": "/h"}
    assert frozen.clean_environ(env, frozen=True) == {"LD_LIBRARY_PATH": "/caller", "HOME": "/h"}


def test_clean_environ_drops_the_launchers_path_when_caller_had_none():
    env = {"LD_LIBRARY_PATH": "/tmp/_MEI1", "PATH": "/bin"}
    assert frozen.clean_environ(env, frozen=True) == {"PATH": "/bin"}


def test_clean_environ_keeps_ld_library_path_unfrozen():
    env = {"LD_LIBRARY_PATH": "/mine"}
    assert frozen.clean_environ(env, frozen=False) == env


def test_clean_environ_does_not_change_the_input():
    env = {"LD_LIBRARY_PATH_ORIG": "/x"}
    frozen.clean_environ(env, frozen=True)
    assert env == {"LD_LIBRARY_PATH_ORIG": "/x"}


def test_trace_writes_to_stderr_only_when_asked(capfd):
    unc.Run({"--trace": True}, []).trace("unshare(CLONE_NEWUSER)")
    unc.Run({"--trace": False}, []).trace("hidden")
    out, err = capfd.readouterr()
    assert out == ""
    assert err == "+ unshare(CLONE_NEWUSER)\n"


@pytest.mark.parametrize("text, line", [
    ("plain", "plain"),
    ("a\nb", "a\\nb"),
    ("tab\there", "tab\\there"),
    ("bad\udcffbyte", "bad\\xffbyte"),
    ("caf\u00e9", "caf\u00e9"),
])
def test_one_line_escapes_what_would_break_a_line(text, line):
    assert unc.one_line(text) == line


def test_unmatched_names_the_offending_words():
    message = ("Warning: found unmatched (duplicate?) arguments "
               "[Option(None, '--bogus', 0, True), Argument(None, 'extra')]")
    assert unc.unmatched(message) == \
        "unknown, misplaced or repeated option --bogus, argument 'extra'"
    short = "Warning: found unmatched (duplicate?) arguments [Option('-v', '--volume', 1, 'c:d')]"
    assert unc.unmatched(short) == "unknown, misplaced or repeated option --volume"


@pytest.mark.parametrize("path, result", [
    (None, unc.DEFAULT_PATH),
    ("", unc.DEFAULT_PATH),
    ("/usr/bin:/bin", "/usr/bin:/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin"),
    ("/opt/x:/usr/sbin", "/opt/x:/usr/sbin:/usr/local/sbin:/usr/local/bin:/usr/bin:/sbin:/bin"),
])
def test_root_path_adds_the_standard_directories_last(path, result):
    assert unc.root_path(path) == result


def test_empty_stage_name_is_refused():
    with pytest.raises(Fail, match="unknown stage ''"):
        unc.select_stages("")


def test_check_subcommand_and_a_command_named_check():
    assert unc.parse(["check"])["check"] is True
    assert unc.parse(["--", "check"])["argv"] == ["check"]
