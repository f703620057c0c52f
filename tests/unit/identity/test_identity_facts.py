"""identity/facts.py: what `unc check` says of user namespaces and
subordinate ids."""

import errno
import os

import pytest

from core import Fail
from identity import facts
from stages import user_pid


@pytest.mark.parametrize("sentence, setting", [
    ("user namespaces are disabled: sysctl user.max_user_namespaces is 0; ...",
     "user.max_user_namespaces"),
    ("... sysctl kernel.unprivileged_userns_clone is 0; as root, set it: sysctl -w "
     "kernel.unprivileged_userns_clone=1", "kernel.unprivileged_userns_clone"),
    ("AppArmor restricts ... (sysctl kernel.apparmor_restrict_unprivileged_userns=1)",
     "kernel.apparmor_restrict_unprivileged_userns"),
    ("Operation not permitted; a seccomp filter may block unshare(2)", "seccomp"),
    ("the kernel does not support these namespaces (CONFIG_USER_NS)", None),
    (None, None),
])
def test_the_setting_is_the_one_the_sentence_names(sentence, setting):
    assert facts.named_setting(sentence) == setting


@pytest.mark.parametrize("values, err, setting", [
    ({"user/max_user_namespaces": "0"}, errno.ENOSPC, "user.max_user_namespaces"),
    ({"user/max_user_namespaces": "9", "kernel/unprivileged_userns_clone": "0"},
     errno.EPERM, "kernel.unprivileged_userns_clone"),
    ({"user/max_user_namespaces": "9"}, errno.EPERM, "seccomp"),
    ({"user/max_user_namespaces": "9"}, errno.EINVAL, None),
])
def test_a_refused_unshare_in_the_stages_words(monkeypatch, values, err, setting):
    monkeypatch.setattr(user_pid, "_sysctl", lambda name: values.get(name))
    monkeypatch.setattr(facts, "probe", lambda: ("unshare", OSError(err, os.strerror(err))))
    info = facts.userns(user_pid.unshare_refused, user_pid._why_maps_fail)
    assert info["allowed"] is False and info["step"] == "unshare"
    assert info["errno"] == errno.errorcode[err]
    assert info["error"] == user_pid.unshare_refused(OSError(err, os.strerror(err)))
    assert info["setting"] == setting
    assert info["summary"] == f"REFUSED (unshare: {os.strerror(err)}): {info['error']}"


def test_a_refused_map_names_apparmor(monkeypatch):
    monkeypatch.setattr(user_pid, "_sysctl", lambda name: "1" if "apparmor" in name else None)
    monkeypatch.setattr(facts, "probe", lambda: ("uid_map", OSError(errno.EPERM, "x")))
    info = facts.userns(user_pid.unshare_refused, user_pid._why_maps_fail)
    assert info["setting"] == "kernel.apparmor_restrict_unprivileged_userns"
    assert info["step"] == "uid_map"


def test_allowed_here():
    # The suite's hosts allow user namespaces (the end-to-end tests need them).
    info = facts.userns(user_pid.unshare_refused, user_pid._why_maps_fail)
    assert info["allowed"] is True and info["setting"] is None and info["error"] is None
    assert isinstance(info["sysctls"]["user.max_user_namespaces"], int)
    assert info["summary"].startswith("allowed (user.max_user_namespaces=")


def test_sysctl_values():
    assert facts.sysctl("kernel.ostype") == "Linux"
    assert facts.sysctl("kernel.no_such_setting") is None


def test_subids(monkeypatch, tmp_path):
    import pwd
    from identity import subids
    me = pwd.getpwuid(os.getuid()).pw_name
    (tmp_path / "subuid").write_text(f"{me}:100000:65536\nother:200000:10\n")
    (tmp_path / "subgid").write_text(f"{os.getuid()}:300000:5\n")
    monkeypatch.setattr(subids, "SUBID_FILES", {"uid": str(tmp_path / "subuid"),
                                                "gid": str(tmp_path / "subgid")})
    info = facts.subids(lambda *options: 0)
    assert info["user"] == me and info["map_auto"] is True and info["map_auto_error"] is None
    assert info["uid_ranges"] == [{"start": 100000, "count": 65536}]
    assert info["gid_ranges"] == [{"start": 300000, "count": 5}]
    assert info["summary"].startswith(f"{me}: uids 100000-165535, gids 300000-300004; ")

    def refused(*options):
        assert options == ("--map-auto",)
        raise Fail("--map-auto needs subordinate uids")
    info = facts.subids(refused)
    assert (info["map_auto"], info["map_auto_error"]) == (
        False, "--map-auto needs subordinate uids")
