"""Stage user_pid: id maps, and why the kernel refused a namespace."""

import errno
import os
from unittest import mock

import pytest

import kernel
from stages import user_pid


def test_id_map_line():
    assert user_pid.id_map(0, 1000) == "0 1000 1\n"
    assert user_pid.id_map(0, 100000, 65536) == "0 100000 65536\n"


def test_user_pid_flags():
    assert user_pid.CLONE_FLAGS == kernel.CLONE_NEWUSER | kernel.CLONE_NEWPID
    assert kernel.flag_names(user_pid.CLONE_FLAGS, kernel.CLONE_NAMES) == \
        "CLONE_NEWUSER|CLONE_NEWPID"


def test_prepare_maps_root_inside_to_the_caller(prepared):
    run, me = prepared("--stage=user_pid")
    assert (me.uid_map, me.gid_map) == (None, None)
    user_pid.prepare(run, me)
    assert me.uid_map == f"0 {os.geteuid()} 1\n"
    assert me.gid_map == f"0 {os.getegid()} 1\n"


def _sysctls(values):
    return lambda name: values.get(name)


@pytest.mark.parametrize("values, err, words", [
    ({"user/max_user_namespaces": "0"}, errno.ENOSPC, "user.max_user_namespaces is 0"),
    ({"user/max_user_namespaces": "100", "kernel/unprivileged_userns_clone": "0"},
     errno.EPERM, "kernel.unprivileged_userns_clone is 0"),
    ({"user/max_user_namespaces": "5"}, errno.ENOSPC, "user.max_user_namespaces=5"),
    ({"user/max_user_namespaces": "5"}, errno.EPERM, "seccomp"),
    ({"user/max_user_namespaces": "5"}, errno.EINVAL, "CONFIG_USER_NS"),
])
def test_refused_unshare_names_the_setting(values, err, words):
    with mock.patch.object(user_pid, "_sysctl", _sysctls(values)):
        assert words in user_pid.unshare_refused(OSError(err, "x"))


def test_refused_map_names_apparmor():
    with mock.patch.object(user_pid, "_sysctl",
                           _sysctls({"kernel/apparmor_restrict_unprivileged_userns": "1"})):
        assert "kernel.apparmor_restrict_unprivileged_userns" in user_pid._why_maps_fail()
    with mock.patch.object(user_pid, "_sysctl", _sysctls({})):
        assert "setuid" in user_pid._why_maps_fail()
