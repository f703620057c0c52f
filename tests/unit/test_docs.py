"""The manual page (docs/unc.1) and the bash completion (completion/unc.bash)
say what the usage text says: every option, the stages, the network modes."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from core import cli
from stages import ORDER, net

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MANPAGE = os.path.join(ROOT, "docs", "unc.1")
COMPLETION = os.path.join(ROOT, "completion", "unc.bash")

sys.path.insert(0, os.path.join(ROOT, "docs"))
import manpage  # noqa: E402


def usage_options():
    """{flag: takes an argument} for every flag of every option line of the
    usage text: `-u USER[:GROUP], --user=USER[:GROUP]` gives -u and --user."""
    found = {}
    for line in cli.usage().splitlines():
        if line.startswith("  -"):
            spec = line.strip().split("  ")[0]
            for part in spec.split(", "):
                flag, _, arg = part.replace("=", " ").partition(" ")
                found[flag] = bool(arg)
    return found


def completion_list(name):
    with open(COMPLETION) as f:
        text = f.read()
    value = re.search(rf'^{name}="([^"]*)"', text, re.M).group(1)
    return value.split()


def test_the_usage_text_has_the_options_we_expect():
    options = usage_options()
    assert options["--stage"] and options["-u"] and options["--json-status-fd"]
    assert not options["-q"] and not options["--quiet"] and not options["--json"]
    assert len(options) > 30


def test_the_manual_page_is_made_from_the_current_usage_text():
    with open(MANPAGE) as f:
        assert f.read() == manpage.manpage(), \
            "docs/unc.1 is stale: run python3 docs/manpage.py > docs/unc.1"


def test_every_option_is_in_the_manual_page():
    with open(MANPAGE) as f:
        page = f.read()
    for flag in usage_options():
        assert f"\\fB{flag.replace('-', chr(92) + '-')}\\fR" in page, flag


def test_every_stage_is_in_the_manual_page():
    with open(MANPAGE) as f:
        page = f.read()
    for stage in cli.all_stages():
        assert f".TP\n\\fB{stage.NAME}\\fR\n{stage.SUMMARY}" in page.replace("\\-", "-")


def test_every_option_is_in_the_completion_and_no_other():
    options = usage_options()
    with_arg = completion_list("_unc_opts_with_arg")
    flags = completion_list("_unc_opts_flags") + completion_list("_unc_check_opts")
    assert sorted(with_arg + flags) == sorted(options)
    assert sorted(with_arg) == sorted(f for f, arg in options.items() if arg)


def test_the_completion_knows_the_stages_and_the_network_modes():
    assert completion_list("_unc_stages") == ORDER
    assert sorted(completion_list("_unc_net_modes")) == sorted(net.MODES)


def complete(*words):
    """What the completion offers for the command line `words` (the last
    one being completed), as bash would call it."""
    script = (f"source {COMPLETION}\n"
              'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _unc\n'
              'printf "%s\\n" "${COMPREPLY[@]}"\n')
    out = subprocess.run(["bash", "--norc", "-c", script, "bash", *words],
                         capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_completion_in_bash(tmp_path):
    assert complete("unc", "--st") == ["--stage"]
    assert complete("unc", "--map-") == ["--map-users", "--map-groups", "--map-user",
                                         "--map-group", "--map-root-user", "--map-auto"]
    assert complete("unc", "--stage", "") == ORDER
    assert complete("unc", "--stage", "=", "") == ORDER      # --stage=<TAB>
    assert complete("unc", "--stage", "=", "u") == ["user_pid", "uts"]
    assert complete("unc", "--net", "=", "s") == ["slirp4netns"]
    assert complete("unc", "-q", "--net", "pa") == ["pasta"]
    assert complete("unc", "ch")[:1] == ["check"]
    assert "stages" not in complete("unc", "--", "sta")
    assert complete("unc", "check", "") == ["--json"]
    assert complete("unc", "--init", "-u", "roo") == ["root"]
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "rootfile").write_text("")
    assert complete("unc", "--rootfs", str(tmp_path / "root")) == [str(tmp_path / "rootfs")]
    assert complete("unc", "-v", str(tmp_path / "rootfi")) == [str(tmp_path / "rootfile")]
    # After COMMAND, COMMAND's words: never unc's options.
    assert "--stage" not in complete("unc", "--hostname", "x", "ls", "--st")
    assert complete("unc", "ls", str(tmp_path / "rootfi")) == [str(tmp_path / "rootfile")]


@pytest.mark.skipif(shutil.which("groff") is None, reason="needs groff")
def test_the_manual_page_renders_without_warnings():
    out = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", MANPAGE],
                         capture_output=True, text=True)
    assert out.returncode == 0 and out.stderr == ""
    out = subprocess.run(["groff", "-man", "-Tascii", MANPAGE], capture_output=True,
                         text=True, check=True)
    assert "--json-status-fd=FD" in re.sub(r".\x08", "", out.stdout)


@pytest.mark.skipif(shutil.which("man") is None, reason="needs man")
def test_man_reads_it():
    out = subprocess.run(["man", "-l", MANPAGE], capture_output=True, text=True,
                         env={**os.environ, "MANPAGER": "cat", "MANWIDTH": "80",
                              "LANG": "C.UTF-8"})
    assert out.returncode == 0, out.stderr
    assert "unc - run a command in an unprivileged Linux container" in out.stdout
