"""network/facts.py: the tun device and the helpers, for `unc check`."""

import os

from core import Fail
from network import facts

STATUS = """Package: other
Version: 1

Package: passt
Status: install ok installed
Version: 0.0~git20230309.7c7625d-1
Description: x

Package: slirp4netns
Version: 1.2.0-1
"""


def test_package_version(tmp_path):
    status = tmp_path / "status"
    status.write_text(STATUS)
    assert facts.package_version("passt", str(status)) == "0.0~git20230309.7c7625d-1"
    assert facts.package_version("other", str(status)) == "1"
    assert facts.package_version("slirp4netns", str(status)) == "1.2.0-1"
    assert facts.package_version("pass", str(status)) is None
    assert facts.package_version("passt", str(tmp_path / "none")) is None


def test_version_from_the_program_else_the_package(monkeypatch):
    said = {"slirp4netns": "slirp4netns version 1.2.0\ncommit: 656041d\n",
            "pasta": "pasta unknown version\nCopyright Red Hat\n", "new": None}
    monkeypatch.setattr(facts, "_output", lambda argv: said[os.path.basename(argv[0])])
    monkeypatch.setattr(facts, "package_version", lambda package: "9-1" if package == "passt"
                        else None)
    assert facts.version("slirp4netns", "/x/slirp4netns", "slirp4netns") == ("1.2.0", "program")
    assert facts.version("pasta", "/x/pasta", "passt") == ("9-1", "dpkg")
    assert facts.version("new", "/x/new", "new") == (None, None)


def test_output_of_a_real_program():
    assert facts._output(["/bin/echo", "hello"]) == "hello\n"
    assert facts._output(["/bin/false"]) is None
    assert facts._output(["/nonexistent/program"]) is None


def test_a_helper_that_works_and_one_that_does_not(monkeypatch):
    monkeypatch.setattr(facts, "version", lambda *a: ("1.2.0", "program"))
    monkeypatch.setattr("core.execvp.which", lambda name, path=None: f"/usr/bin/{name}")
    info = facts.helper("slirp4netns", lambda option: 0)
    assert (info["path"], info["works"], info["error"]) == ("/usr/bin/slirp4netns", True, None)
    assert info["summary"] == "/usr/bin/slirp4netns 1.2.0: works"

    def refused(option):
        assert option == "--net=pasta"
        raise Fail("--net=pasta needs /dev/net/tun")
    info = facts.helper("pasta", refused)
    assert info["works"] is False and info["package"] == "passt"
    assert info["summary"] == "/usr/bin/pasta 1.2.0: does not work: --net=pasta needs /dev/net/tun"
    monkeypatch.setattr("core.execvp.which", lambda name, path=None: None)
    info = facts.helper("pasta", refused)
    assert info["path"] is None and info["summary"] == "not installed (Debian package passt)"


def test_tun(monkeypatch):
    monkeypatch.setattr(facts, "tun_problem", lambda: None)
    info = facts.tun()
    assert info["usable"] is True and info["problem"] is None
    monkeypatch.setattr(facts, "tun_problem", lambda: "which you may not open")
    info = facts.tun()
    assert info["usable"] is False and info["summary"] == "/dev/net/tun, which you may not open"
