"""network/host.py: what the host offers the network modes."""

import os
from unittest import mock

import pytest

from core import Fail
from network import host


@pytest.mark.parametrize("route, ipv6, expected", [
    ("eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n", "", True),
    ("eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n", "", False),
    ("", "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
         "fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0\n", True),
    ("", "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
         "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo\n", False),
])
def test_default_route_reads_proc(tmp_path, route, ipv6, expected):
    files = {"/proc/net/route": "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\t"
                                "Mask\tMTU\tWindow\tIRTT\n" + route,
             "/proc/net/ipv6_route": ipv6}
    real_open = open

    def fake_open(path, *args, **kw):
        if path in files:
            (tmp_path / "f").write_text(files[path])
            return real_open(tmp_path / "f", *args, **kw)
        return real_open(path, *args, **kw)
    with mock.patch("builtins.open", fake_open):
        assert host.default_route() is expected


def test_a_missing_tun_says_how_to_get_one():
    with mock.patch.object(os, "open", side_effect=FileNotFoundError(2, "missing")):
        assert "modprobe tun" in host.tun_problem()


def test_a_tun_one_may_not_open_names_its_mode():
    with mock.patch.object(os, "open", side_effect=PermissionError(13, "denied")), \
            mock.patch.object(host, "mode_of", lambda path: "0600"):
        assert host.tun_problem() == ("which you may not open (it is mode 0600); as root, "
                                      "run chmod 666 /dev/net/tun, as Debian's udev rules "
                                      "do on an ordinary host")


def test_mode_of(tmp_path):
    (tmp_path / "f").write_text("")
    (tmp_path / "f").chmod(0o640)
    assert host.mode_of(str(tmp_path / "f")) == "0640"
    assert host.mode_of(str(tmp_path / "missing")) == "unknown"


@pytest.mark.parametrize("name, package", [
    ("slirp4netns", "slirp4netns"), ("pasta", "passt"), ("ip", "iproute2"),
    ("nsenter", "util-linux"),
])
def test_a_missing_program_names_the_debian_package(name, package):
    with mock.patch.object(host, "which", lambda program, path=None: None):
        with pytest.raises(Fail) as e:
            host.need_program("bridge", name)
    assert str(e.value) == (f"--net=bridge needs the program {name}, which is not installed; "
                            f"install the Debian package {package} (apt-get install {package})")


def test_need_program_gives_its_path():
    with mock.patch.object(host, "which", lambda program, path=None: f"/opt/{program}"):
        assert host.need_program("pasta", "pasta") == "/opt/pasta"
