"""core/check.py: `unc check`'s report, its table, its JSON and its keys,
which docs/check.md documents."""

import json
import os
import re

import pytest

from core import Fail, check

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def documented():
    """Every key named in the first column of docs/check.md's tables."""
    with open(os.path.join(ROOT, "docs", "check.md")) as f:
        text = f.read()
    keys = set()
    for cell in re.findall(r"^\| ([^|]+) \|", text, re.M):
        keys.update(re.findall(r"`([^`]+)`", cell))
    return keys


@pytest.fixture(scope="module")
def report():
    """One real `unc check --json` of this host, as this user."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, os.path.join(ROOT, "unc.py"), "check", "--json"],
                         capture_output=True, text=True)
    assert out.returncode in (0, 1), out.stderr
    assert out.stderr == ""
    return out.returncode, json.loads(out.stdout)


def test_the_exit_status_is_0_exactly_when_ok(report):
    status, data = report
    assert (status == 0) == data["ok"] == all(s["ok"] for s in data["stages"])


def test_every_key_is_documented(report):
    _, data = report
    keys = documented()
    assert set(data) <= keys, set(data) - keys
    for stage in data["stages"]:
        assert set(stage) <= keys
    for name in list(data)[5:]:
        assert isinstance(data[name]["summary"], str)
        assert set(data[name]) - {"summary"} <= keys, (name, set(data[name]) - keys)
    assert set(data["userns"]["sysctls"]) <= keys


def test_the_schema_and_the_order_of_the_entries(report):
    _, data = report
    assert data["schema"] == check.SCHEMA == 1
    assert list(data)[:5] == ["schema", "unc", "ok", "default_stage", "stages"]
    assert list(data)[5:] == ["kernel", "userns", "subids", "overlayfs", "tun", "pasta",
                              "slirp4netns", "cgroup", "seccomp"]
    assert [s["name"] for s in data["stages"]] == ["user_pid", "uts", "mount", "net", "harden"]


def test_the_doc_names_every_key_it_promises():
    keys = documented()
    for key in ("schema", "ok", "stages", "runs", "allowed", "setting", "uid_ranges",
                "map_auto", "unprivileged", "usable", "version", "version_from", "works",
                "delegated", "delegated_controllers", "filtered",
                "user.max_user_namespaces", "kernel.unprivileged_userns_clone",
                "kernel.apparmor_restrict_unprivileged_userns", "seccomp"):
        assert key in keys


def test_attempts_are_remembered(monkeypatch):
    calls = []

    def container(opts, stages, closed):
        calls.append(opts["--net"])
        if opts["--net"] == "pasta":
            raise Fail("no pasta")
        return "run", 0
    monkeypatch.setattr(check.run, "container", container)
    attempt = check._attempts("net", [], ())
    assert attempt("--net=none") == ("run", 0)
    assert attempt("--net=none") == ("run", 0)
    with pytest.raises(Fail, match="no pasta"):
        attempt("--net=pasta")
    with pytest.raises(Fail, match="no pasta"):
        attempt("--net=pasta")
    assert len(calls) == 2


def test_the_table():
    report = {"stages": [
        {"name": "user_pid", "ok": False, "error": "no userns"},
        {"name": "uts", "ok": False, "error": "no userns"},
        {"name": "mount", "ok": True, "summary": None, "error": None},
        {"name": "net", "ok": True, "summary": "--net=none works", "error": None}],
        "kernel": {"summary": "Linux 6.1"}, "slirp4netns": {"summary": "gone\nnext"}}
    assert check.table(report, ["kernel", "slirp4netns"]).splitlines() == [
        "user_pid  FAILED: no userns",
        "uts       FAILED: as above",
        "mount     ok",
        "net       ok (--net=none works)",
        "kernel    Linux 6.1",
        "slirp4netns gone\\nnext",
    ]


def test_a_stage_that_reports_a_key_twice_is_unc_s_own_failure(monkeypatch):
    import stages.uts as uts
    monkeypatch.setattr(uts, "facts", lambda attempt: {"kernel": {"summary": "x"}},
                        raising=False)
    monkeypatch.setattr(check.cli, "write_out", lambda *a: None)
    with pytest.raises(RuntimeError, match="reports 'kernel' again"):
        check.check(())
