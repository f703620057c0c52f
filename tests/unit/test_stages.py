"""Units of the stages that need no kernel: id maps, hostnames, diagnostics."""

import errno
from unittest import mock

import pytest
from hypothesis import given, strategies as st

import kernel
from stages import Fail, user_pid, uts


def test_id_map_line():
    assert user_pid.id_map(0, 1000) == "0 1000 1\n"
    assert user_pid.id_map(0, 100000, 65536) == "0 100000 65536\n"


def test_user_pid_flags():
    assert user_pid.CLONE_FLAGS == kernel.CLONE_NEWUSER | kernel.CLONE_NEWPID
    assert kernel.flag_names(user_pid.CLONE_FLAGS, kernel.CLONE_NAMES) == \
        "CLONE_NEWUSER|CLONE_NEWPID"


def _sysctls(values):
    return lambda name: values.get(name)


@pytest.mark.parametrize("values, err, words", [
    ({"user/max_user_namespaces": "0"}, errno.ENOSPC, "user.max_user_namespaces is 0"),
    ({"user/max_user_namespaces": "100", "kernel/unprivileged_userns_clone": "0"},
     errno.EPERM, "kernel.unprivileged_userns_clone is 0"),
    ({"user/max_user_namespaces": "5"}, errno.ENOSPC, "user.max_user_namespaces=5"),
    ({"user/max_user_namespaces": "5"}, errno.EPERM, "seccomp"),
])
def test_refused_unshare_names_the_setting(values, err, words):
    with mock.patch.object(user_pid, "_sysctl", _sysctls(values)):
        assert words in user_pid.why_unshare_failed(OSError(err, "x"))


def test_refused_map_names_apparmor():
    with mock.patch.object(user_pid, "_sysctl",
                           _sysctls({"kernel/apparmor_restrict_unprivileged_userns": "1"})):
        assert "kernel.apparmor_restrict_unprivileged_userns" in user_pid._why_maps_fail()


@pytest.mark.parametrize("name", ["unc", "a", "box-1.example.org", "x" * 64, "A9"])
def test_valid_hostnames(name):
    assert uts.valid_hostname(name)


@pytest.mark.parametrize("name", ["", "x" * 65, "-a", "a-", ".a", "a.", "a..b",
                                  "a_b", "a b", "a\nb", "é", "a\udcff"])
def test_invalid_hostnames(name):
    assert not uts.valid_hostname(name)


@given(st.text(max_size=80))
def test_hostname_check_never_accepts_what_the_kernel_would_refuse(name):
    if uts.valid_hostname(name):
        assert 0 < len(name.encode()) <= 64
        assert name.isascii() and "\0" not in name and "/" not in name


def test_invalid_hostname_is_a_125_failure():
    class Run:
        opts = {"--hostname": "bad name"}
    with pytest.raises(Fail) as e:
        uts.prepare(Run())
    assert e.value.status == 125
