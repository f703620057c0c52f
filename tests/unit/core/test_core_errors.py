"""core/__init__.py: Fail and the one-line error contract."""

import os

import pytest

import core as errors
from core import Fail


def test_fail_carries_a_status_125_unless_said():
    assert Fail("x").status == 125 == errors.FAILED
    assert Fail("x", errors.NOT_FOUND).status == 127
    assert errors.CANNOT_EXECUTE == 126
    assert str(Fail("what to do")) == "what to do"


@pytest.mark.parametrize("text, line", [
    ("plain", "plain"),
    ("a\nb", "a\\nb"),
    ("tab\there", "tab\\there"),
    ("bad\udcffbyte", "bad\\xffbyte"),
    ("caf\u00e9", "caf\u00e9"),
])
def test_one_line_escapes_what_would_break_a_line(text, line):
    assert errors.one_line(text) == line


def test_die_prints_one_line_and_exits_with_the_status(capfd):
    with pytest.raises(SystemExit) as e:
        errors.die("two\nlines", 126)
    assert e.value.code == 126
    assert capfd.readouterr().err == "unc: two\\nlines\n"


def test_report_sends_status_and_one_line():
    r, w = os.pipe()
    errors.report(w, 127, "'x': not\nfound")
    os.close(w)
    assert os.read(r, 100) == b"127 'x': not\\nfound\n"
    os.close(r)


def test_warnings_and_q(capfd, monkeypatch):
    import core
    monkeypatch.setattr(core, "quiet", False)
    core.warn("a thing\nwith a newline")
    assert capfd.readouterr().err == "unc: warning: a thing\\nwith a newline\n"
    monkeypatch.setattr(core, "quiet", True)
    core.warn("hidden")
    assert capfd.readouterr().err == ""


def test_q_is_accepted_and_sets_quiet(monkeypatch):
    import core
    from core import cli
    monkeypatch.setattr(core, "quiet", False)
    for flag in ("-q", "--quiet"):
        assert cli.parse([flag, "true"])["--quiet"] is True
