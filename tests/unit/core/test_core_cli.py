"""core/cli.py: the usage text, parsing it, stage selection, main()."""

import os
import subprocess
import sys

import pytest
from docopt import DocoptExit

import unc
from core import cli, docopt_fast
from core import Fail
from stages import ORDER

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


# ---------------------------------------------------------------- usage text

def test_usage_text_is_a_constant_not_the_docstring():
    # python -OO strips docstrings; the parser must not depend on one.
    assert "Usage:" in cli.usage()
    assert "Usage:" not in (unc.__doc__ or "")
    assert "Usage:" not in (cli.__doc__ or "")


def test_usage_text_survives_stripped_docstrings():
    code = "from core import cli\nprint(cli.parse(['--stage=uts', 'true'])['--stage'])\n"
    out = subprocess.run([sys.executable, "-OO", "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "uts"


def test_usage_is_the_core_then_each_stages_options_in_order():
    text = cli.usage()
    assert text.startswith(cli.HEAD.split("{")[0])
    assert text.endswith(cli.TAIL)
    with_options = [s for s in cli.all_stages() if getattr(s, "OPTIONS", "")]
    assert {"uts", "mount", "net"} <= {s.NAME for s in with_options}
    heads = [text.index(cli.STAGE_HEAD.format(name=s.NAME)) for s in with_options]
    assert heads == sorted(heads)
    for stage in cli.all_stages():
        if getattr(stage, "OPTIONS", ""):
            assert stage.OPTIONS.strip("\n") in text
    assert "How far the container goes: " + ", ".join(ORDER) in text
    assert ("[-v SPEC]... [--tmpfs=DST]... [-p SPEC]... [--cap-add=CAP]... [--cap-drop=CAP]... "
            "[--ulimit=LIMIT]... [--] [COMMAND [ARG...]]") in text


def test_option_names_are_docopts_keys():
    core = cli.option_names(cli.HEAD)
    assert core[0] == "--stage" and core[-4:] == ["--trace", "--debug", "--help", "--version"]
    assert "--init" in core
    assert cli.CORE_OPTIONS == core
    text = "  -v SPEC, --volume=SPEC\n      text -x\n  -q  Quiet.\n  --flag  A flag.\n"
    assert cli.option_names(text) == ["--volume", "-q", "--flag"]
    assert cli.option_names("") == []


# ---------------------------------------------------------------- parsing

@pytest.mark.parametrize("argv, command", [
    (["sh", "-c", "echo $$"], ["sh", "-c", "echo $$"]),
    (["--trace", "ls", "--trace"], ["ls", "--trace"]),
    (["--", "stages"], ["stages"]),
    (["--", "-x"], ["-x"]),
])
def test_everything_after_the_command_belongs_to_it(argv, command):
    assert cli.parse(argv)["argv"] == command


def test_no_command_means_the_default_shell():
    assert "argv" not in cli.parse(["--trace"])


def test_repeatable_options_collect_in_order():
    opts = cli.parse(["-v", "/a:/b", "--volume=/c:/d:ro", "--tmpfs=/t", "--tmpfs", "/u", "true"])
    assert opts["--volume"] == ["/a:/b", "/c:/d:ro"]
    assert opts["--tmpfs"] == ["/t", "/u"]


def test_stages_subcommand():
    assert cli.parse(["stages"])["stages"] is True


def test_check_subcommand_and_a_command_named_check():
    assert cli.parse(["check"])["check"] is True
    assert cli.parse(["--", "check"])["argv"] == ["check"]


@pytest.mark.parametrize("argv", [["--bogus"], ["--stage"], ["-v"], ["-h", "x"]])
def test_usage_errors_are_failures_with_status_125(argv):
    with pytest.raises(Fail) as e:
        cli.parse(argv)
    assert e.value.status == 125
    assert "unc --help" in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("argv, message", [
    (["--bogus", "true"], "unknown, misplaced or repeated option --bogus; see 'unc --help'"),
    (["--trace", "--trace"], "unknown, misplaced or repeated option --trace; see 'unc --help'"),
    (["-h", "x"], "unknown, misplaced or repeated option --help; see 'unc --help'"),
    (["-v"], "-v requires an argument; see 'unc --help'"),
])
def test_usage_errors_say_what_is_wrong(argv, message):
    with pytest.raises(Fail) as e:
        cli.parse(argv)
    assert str(e.value) == message


def _leftovers(usage, argv):
    """docopt's leftover objects from a real failed parse."""
    with pytest.raises(DocoptExit) as e:
        docopt_fast.parse(usage, argv, options_first=True)
    assert e.value.left
    return e.value.left


SMALL = "Usage: prog [--flag]\n\nOptions:\n  --flag  A flag.\n"


def test_unmatched_names_the_offending_words():
    left = _leftovers(SMALL, ["--bogus", "extra"])
    assert [type(x).__name__ for x in left] == ["Option", "Argument"]
    assert cli.unmatched(left) == \
        "unknown, misplaced or repeated option --bogus, argument 'extra'"
    # An option with a short and a long name is said by its long name ...
    short = _leftovers(cli.usage(), ["-h", "x"])
    assert (short[0].short, short[0].longer) == ("-h", "--help")
    assert cli.unmatched(short) == "unknown, misplaced or repeated option --help"
    # ... and one with a short name only by that.
    only_short = _leftovers(SMALL, ["-q"])
    assert only_short[0].longer is None
    assert cli.unmatched(only_short) == "unknown, misplaced or repeated option -q"
    assert cli.unmatched([]) == "unknown, misplaced or repeated arguments"


# ---------------------------------------------------------------- stages

def test_stages_are_cumulative_in_order():
    for i, name in enumerate(ORDER):
        assert [s.NAME for s in cli.select_stages(name)] == ORDER[:i + 1]


def test_default_stage_is_the_last():
    assert [s.NAME for s in cli.select_stages(None)] == ORDER
    assert [s.NAME for s in cli.all_stages()] == ORDER


def test_unknown_stage_lists_the_valid_ones():
    with pytest.raises(Fail) as e:
        cli.select_stages("bogus")
    assert ", ".join(ORDER) in str(e.value)


def test_empty_stage_name_is_refused():
    with pytest.raises(Fail, match="unknown stage ''"):
        cli.select_stages("")


def test_every_stage_declares_name_summary_and_teaching_docstring():
    for stage in cli.all_stages():
        assert stage.NAME in ORDER
        assert stage.SUMMARY and "\n" not in stage.SUMMARY
        assert len(stage.__doc__) > 500, f"{stage.NAME} must teach its step"


def test_stage_options_need_their_stage():
    opts = cli.parse(["--stage=user_pid", "--hostname=x", "true"])
    with pytest.raises(Fail, match="--hostname needs --stage=uts"):
        cli.check_stage_options(opts, cli.select_stages("user_pid"))
    cli.check_stage_options(opts, cli.select_stages("uts"))


@pytest.mark.parametrize("argv, stage, needed", [
    (["-v", "/a:/b"], "uts", "--volume needs --stage=mount or a later stage"),
    (["--read-only"], "user_pid", "--read-only needs --stage=mount or a later stage"),
    (["-p", "1:2"], "mount", "--publish needs --stage=net or a later stage"),
    (["--net=none"], "uts", "--net needs --stage=net or a later stage"),
])
def test_every_stage_option_needs_its_stage(argv, stage, needed):
    opts = cli.parse([f"--stage={stage}", *argv, "true"])
    with pytest.raises(Fail) as e:
        cli.check_stage_options(opts, cli.select_stages(stage))
    assert str(e.value) == needed


def test_core_options_need_no_stage():
    opts = cli.parse(["--stage=user_pid", "--init", "--trace", "--debug", "true"])
    cli.check_stage_options(opts, cli.select_stages("user_pid"))


# ---------------------------------------------------------------- main and output

def test_main_prints_the_version_the_help_and_the_stages(capfd):
    assert cli.main(["--version"]) == 0
    assert capfd.readouterr().out == f"unc {cli.VERSION}\n"
    assert cli.main(["--help"]) == 0
    assert capfd.readouterr().out == cli.usage()
    assert cli.main(["stages"]) == 0
    lines = capfd.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ORDER
    assert all(s.SUMMARY in line for s, line in zip(cli.all_stages(), lines))


def test_main_says_a_usage_error_in_one_line_with_125(capfd):
    with pytest.raises(SystemExit) as e:
        cli.main(["--bogus"])
    assert e.value.code == 125
    out, err = capfd.readouterr()
    assert out == ""
    assert err == "unc: unknown, misplaced or repeated option --bogus; see 'unc --help'\n"


def test_write_out_refuses_a_closed_stdout(capfd):
    with pytest.raises(SystemExit) as e:
        cli.write_out("text\n", closed=(1,))
    assert e.value.code == 125
    assert capfd.readouterr() == ("", "unc: cannot write to stdout: it is closed\n")


def test_keep_std_fds_holds_closed_ones_with_dev_null():
    code = ("import os\n"
            "from core import cli\n"
            "closed = cli.keep_std_fds()\n"
            "print(closed, os.readlink('/proc/self/fd/0'), file=open('/dev/stderr', 'w'))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, check=True, close_fds=True)
    assert out.stderr.split() == ["()", "/dev/null"]
    closed0 = subprocess.run(["sh", "-c", f'exec "$0" -c "$1" <&-', sys.executable, code],
                             cwd=ROOT, capture_output=True, text=True, check=True)
    assert closed0.stderr.split() == ["(0,)", "/dev/null"]


# ---------------------------------------------------------------- unc check

def test_check_takes_json_after_its_word_or_before_it():
    for argv in (["check", "--json"], ["--json", "check"]):
        opts = cli.parse(argv)
        assert opts["check"] is True and opts["--json"] is True
    opts = cli.parse(["check"])
    assert opts["check"] is True and opts["--json"] is False


def test_json_is_check_s_option_only():
    for argv in (["--json", "true"], ["--json"]):
        with pytest.raises(Fail, match="unknown, misplaced or repeated option"):
            cli.parse(argv)
    with pytest.raises(Fail, match="^unc check takes no option '--trace'; see 'unc --help'$"):
        cli.parse(["check", "--trace"])
    with pytest.raises(Fail, match="^unc check takes no argument 'x'; see 'unc --help'$"):
        cli.parse(["check", "--json", "x"])
    # After the command's word, an option is the command's.
    opts = cli.parse(["--", "check", "--json"])
    assert opts["argv"] == ["check", "--json"]
