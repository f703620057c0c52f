"""Stage net: option checks, mode choice, what it adds to the mount plan,
and its cleanup. Backends are exercised in tests/unit/network/."""

import contextlib
import os
import socket
import subprocess
import sys
from unittest import mock

import pytest

import kernel
from core import cli
from core import Fail
from mounts.plan import STAGING
from network import dns, host, slirp4netns
from stages import net

PIVOT = 'chdir("/tmp/newroot"); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir("/")'


def _programs(present):
    return lambda name, path=None: f"/usr/bin/{name}" if name in present else None


@contextlib.contextmanager
def Host(present, tun=None, route=True):
    """The host as the net stage sees it: these programs, this tun problem,
    a default route or not."""
    which = _programs(present)
    with mock.patch.multiple(host, which=which, tun_problem=lambda: tun,
                             default_route=lambda: route), \
            mock.patch.object(net, "which", which):
        yield


@pytest.fixture
def prepared(capfd):
    """The stages' make_run, stopped at this stage (harden comes after it)."""
    from tests.unit.stages.conftest import make_run

    def make(*argv):
        made = make_run("--stage=net", *argv)
        capfd.readouterr()
        return made
    return make


def resolv_lines(run):
    return [line for line in run.plan.describe() if "resolv.conf" in line]


# ------------------------------------------------------------- declarations

def test_flags_and_options():
    assert net.CLONE_FLAGS == kernel.CLONE_NEWNET
    assert cli.option_names(net.OPTIONS) == ["--net", "--publish"]
    assert net.REPEATABLE == ("-p SPEC",)
    assert net.DEFAULT_MODE == "none" and net.AUTO_ORDER == ("pasta", "slirp4netns")
    assert net.PUBLISH_MODE == "auto"
    assert net.MODES == ("auto", "none", "slirp4netns", "pasta", "bridge", "host")
    assert net.CHECK_OPTIONS == ("--net=none",)


def test_every_backend_is_a_module_with_a_backend_class():
    for mode, (module, programs) in net.BACKENDS.items():
        assert mode in net.MODES
        backend = __import__(module, fromlist=["Backend"]).Backend
        for method in ("resolv_conf", "start", "stop"):
            assert callable(getattr(backend, method))
        assert all(p in host.PROGRAMS for p in programs)


@pytest.mark.parametrize("option", ["--net=MODE", "-p SPEC, --publish=SPEC", "[-p SPEC]..."])
def test_usage_names_the_options(option):
    assert option in cli.usage()


def test_publish_is_repeatable_on_the_command_line():
    opts = cli.parse(["-p", "8080:80", "--publish=127.0.0.1:53:53/udp", "--net=pasta", "true"])
    assert opts["--publish"] == ["8080:80", "127.0.0.1:53:53/udp"]
    assert opts["--net"] == "pasta"


def test_state_starts_as_the_default_mode():
    me = net.State()
    assert (me.mode, me.reasons, me.backend) == ("none", [], None)


# ------------------------------------------------------------- modes

def test_unknown_mode_is_refused(prepared):
    run, me = prepared("--net=wifi")
    with pytest.raises(Fail, match="invalid --net 'wifi': use one of auto, none"):
        net.prepare(run, me)


def test_the_default_is_none_without_a_helper(prepared):
    run, me = prepared()
    net.prepare(run, me)
    assert me.mode == "none" and me.backend is None
    assert run.flags & kernel.CLONE_NEWNET
    assert resolv_lines(run) == []


def test_host_mode_drops_the_network_namespace(prepared):
    run, me = prepared("--net=host")
    net.prepare(run, me)
    assert not run.flags & kernel.CLONE_NEWNET
    assert run.flags & kernel.CLONE_NEWUSER
    assert me.mode == "host" and me.backend is None
    assert resolv_lines(run) == []


@pytest.mark.parametrize("mode, words", [
    ("none", "no link to the host"),
    ("host", "uses the host's ports directly"),
])
def test_publish_needs_a_link(mode, words, prepared):
    run, me = prepared(f"--net={mode}", "-p", "8080:80")
    with pytest.raises(Fail, match=words):
        net.prepare(run, me)


@pytest.mark.parametrize("present, tun, route, chosen", [
    ({"pasta", "slirp4netns"}, None, True, "pasta"),
    ({"slirp4netns"}, None, True, "slirp4netns"),
    (set(), None, True, "none"),
    ({"pasta", "slirp4netns"}, "which you may not open; chmod 666", True, "none"),
    ({"pasta", "slirp4netns"}, None, False, "slirp4netns"),
    ({"pasta"}, None, False, "none"),
])
def test_auto_prefers_pasta_then_slirp4netns_then_none(present, tun, route, chosen,
                                                       prepared, traced):
    run, me = prepared()
    with Host(present, tun, route):
        mode, reasons = net.choose_mode(run, "auto")
    assert mode == chosen
    said = traced()[-1]
    assert f"using {chosen}" in said
    assert all(reason in said for reason in reasons)
    if chosen == "none":
        assert len(reasons) == len(net.AUTO_ORDER)
    if tun:
        assert tun in said
        # Said once, not once a helper.
        assert said.count("chmod") <= 1
    if not route and chosen == "none":
        assert "no default route" in said


def test_explicit_pasta_without_a_default_route_suggests_slirp4netns(prepared):
    run, me = prepared()
    with Host({"pasta"}, route=False):
        with pytest.raises(Fail, match="no default route; use --net=slirp4netns"):
            net.choose_mode(run, "pasta")


def test_auto_with_publish_and_no_helper_says_why(prepared):
    run, me = prepared("-p", "8080:80")
    with Host(set()):
        with pytest.raises(Fail, match="neither can run here: pasta is not installed "
                                       r"\(Debian package passt\)"):
            net.prepare(run, me)


@pytest.mark.parametrize("mode, package", [("slirp4netns", "slirp4netns"), ("pasta", "passt")])
def test_a_missing_helper_names_the_debian_package(mode, package, prepared):
    run, me = prepared()
    with Host(set()):
        with pytest.raises(Fail, match=f"install the Debian package {package} "):
            net.choose_mode(run, mode)


def test_an_unusable_tun_is_named_for_an_explicit_mode(prepared):
    run, me = prepared()
    with mock.patch.object(host, "which", _programs({"pasta"})), \
            mock.patch.object(os, "open", side_effect=PermissionError(13, "denied")), \
            mock.patch.object(host, "mode_of", lambda path: "0600"):
        with pytest.raises(Fail) as e:
            net.choose_mode(run, "pasta")
    assert str(e.value) == ("--net=pasta needs /dev/net/tun, which you may not open (it is "
                            "mode 0600); as root, run chmod 666 /dev/net/tun, as Debian's "
                            "udev rules do on an ordinary host")


def test_bridge_needs_root(prepared):
    run, me = prepared()
    with mock.patch.object(os, "geteuid", lambda: 1000):
        with pytest.raises(Fail, match="--net=bridge needs root.*--net=slirp4netns or --net=pasta"):
            net.choose_mode(run, "bridge")


def test_bridge_as_root_needs_iproute2(prepared):
    run, me = prepared("--net=bridge")
    with mock.patch.object(os, "geteuid", lambda: 0), Host({"nsenter"}):
        with pytest.raises(Fail, match="Debian package iproute2"):
            net.prepare(run, me)


def test_bridge_as_root_leaves_resolv_conf_alone(prepared):
    run, me = prepared("--net=bridge")
    with mock.patch.object(os, "geteuid", lambda: 0), Host({"ip", "nsenter"}):
        net.prepare(run, me)
    assert me.mode == "bridge" and type(me.backend).__module__ == "network.bridge"
    assert (me.backend.ip_program, me.backend.nsenter) == ("/usr/bin/ip", "/usr/bin/nsenter")
    assert resolv_lines(run) == []


def test_a_taken_host_port_stops_the_preparation(prepared):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        run, me = prepared("--net=slirp4netns", "-p", f"127.0.0.1:{port}:80")
        with Host({"slirp4netns"}):
            with pytest.raises(Fail, match=f"host port {port}/tcp is already in use"):
                net.prepare(run, me)


# ------------------------------------------------------------- DNS

def test_resolv_conf_is_a_bind_from_the_staging_tmpfs_before_pivot_root(tmp_path, prepared):
    run, me = prepared("--net=slirp4netns", f"--rootfs={tmp_path}")
    with Host({"slirp4netns"}):
        net.prepare(run, me)
    assert isinstance(me.backend, slirp4netns.Backend)
    assert me.backend.program == "/usr/bin/slirp4netns"
    lines = run.plan.describe()
    expected = (f'write /tmp/resolv.conf ("nameserver 10.0.2.3", ...); '
                'mount("/tmp/resolv.conf", "/tmp/newroot/etc/resolv.conf", NULL, MS_BIND|MS_REC)')
    assert lines.index(expected) < lines.index(PIVOT)
    op = next(o for o in run.plan if isinstance(o, dns.ResolvConf))
    assert op.sources == ("/tmp/resolv.conf",) and op.dest == "/etc/resolv.conf"
    assert op.sources[0].startswith(STAGING + "/")
    assert 'nameserver 10.0.2.3' in op.describe() and "MS_BIND" in op.describe()


@pytest.mark.parametrize("mode", ["none", "host", "bridge"])
def test_other_modes_leave_resolv_conf_alone(mode, prepared):
    run, me = prepared(f"--net={mode}")
    with mock.patch.object(os, "geteuid", lambda: 0), Host({"ip", "nsenter"}):
        net.prepare(run, me)
    assert me.mode == mode
    assert not any(isinstance(op, dns.ResolvConf) for op in run.plan)
    assert resolv_lines(run) == []


def test_pasta_forwards_dns_when_the_host_has_only_a_loopback_resolver(prepared, monkeypatch):
    monkeypatch.setattr(dns, "read", lambda: "nameserver 127.0.0.53\n")
    run, me = prepared("--net=pasta")
    with Host({"pasta"}):
        net.prepare(run, me)
    assert me.backend.dns_forward == "169.254.1.1"
    assert resolv_lines(run)[0].startswith('write /tmp/resolv.conf ("nameserver 169.254.1.1"')


def test_no_resolv_conf_op_under_a_users_tmpfs_etc(prepared, traced):
    run, me = prepared("--net=slirp4netns", "--tmpfs=/etc")
    with Host({"slirp4netns"}):
        net.prepare(run, me)
    assert not any(isinstance(op, dns.ResolvConf) for op in run.plan)
    assert resolv_lines(run) == []
    assert "left to the user's --tmpfs /etc" in traced()[-1]


# ------------------------------------------------------------- cleanup, check

def test_cleanup_tolerates_a_setup_that_never_started(prepared):
    run, me = prepared()
    net.cleanup(run, me)                        # nothing recorded: nothing to do


def test_cleanup_kills_and_reaps_the_helper_and_closes_the_exit_fd(tmp_path, prepared):
    run, me = prepared("--net=slirp4netns")
    me.backend = slirp4netns.Backend([], {"slirp4netns": "/usr/bin/slirp4netns"})
    pid = os.fork()
    if pid == 0:
        os.execv("/bin/sleep", ["sleep", "31337"])
    r, w = os.pipe()
    me.backend.pid, me.backend.exit_fd = pid, w
    me.backend.dir = str(tmp_path / "d")
    os.mkdir(me.backend.dir)
    net.cleanup(run, me)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    assert os.read(r, 1) == b""                 # the exit fd's other end saw EOF
    assert not os.path.exists(str(tmp_path / "d"))
    net.cleanup(run, me)                        # twice is harmless


# ------------------------------------------------------------- unc check

TUN_0600 = ("needs /dev/net/tun, which you may not open (it is mode 0600); as root, run "
            "chmod 666 /dev/net/tun, as Debian's udev rules do on an ordinary host")


def _attempts(outcomes):
    """`unc check`'s attempt(OPTION): a status, or a Fail with that text."""
    tried = []

    def attempt(option):
        tried.append(option)
        outcome = outcomes[option]
        if isinstance(outcome, str):
            raise Fail(outcome)
        return outcome
    return attempt, tried


def test_check_runs_none_then_tries_each_user_mode_in_a_container(prepared):
    assert net.CHECK_OPTIONS == ("--net=none",)
    attempt, tried = _attempts({"--net=pasta": 0, "--net=slirp4netns": 0})
    assert net.checked(*prepared(), attempt) == "--net=none, pasta and slirp4netns work"
    assert tried == ["--net=pasta", "--net=slirp4netns"]


def test_check_says_what_cannot_work_when_one_mode_does(prepared):
    attempt, _ = _attempts({"--net=pasta": "--net=pasta cannot work here: no route",
                            "--net=slirp4netns": 0})
    assert net.checked(*prepared(), attempt) == ("--net=none and slirp4netns work; "
                                                 "--net=pasta cannot work here: no route")


def test_check_fails_naming_tun_when_no_user_mode_networking_can_work(prepared):
    attempt, _ = _attempts({"--net=pasta": "--net=pasta " + TUN_0600,
                            "--net=slirp4netns": "--net=slirp4netns " + TUN_0600})
    with pytest.raises(Fail) as e:
        net.checked(*prepared(), attempt)
    assert str(e.value) == ("-p, --net=pasta and --net=slirp4netns cannot work here, only "
                            "--net=none: --net=pasta " + TUN_0600
                            + "; --net=slirp4netns needs it too")


def test_check_fails_when_user_mode_containers_fail(prepared):
    attempt, _ = _attempts({"--net=pasta": 1, "--net=slirp4netns": "slirp4netns could not "
                            "set up the container's network: boom"})
    with pytest.raises(Fail, match=r"only --net=none: --net=pasta: true exited 1; "
                                   "slirp4netns could not set up the container's network: boom"):
        net.checked(*prepared(), attempt)


def test_host_setup_and_container_setup_without_a_backend_do_nothing_on_the_host(prepared):
    run, me = prepared("--net=host")
    net.prepare(run, me)
    net.host_setup(run, me)                     # no backend: nothing to start
    net.container_setup(run, me)                # host mode: lo is the host's, untouched


# The host as a backend mode sees it, made up in a fresh interpreter.
FAKE_HOST = (
    "import network.host\n"
    "network.host.which = net.which = lambda p, path=None: '/bin/' + p\n"
    "network.host.tun_problem = lambda: None\n"
    "network.host.default_route = lambda: True\n"
)


@pytest.mark.parametrize("mode, imported", [
    ("none", []),
    ("host", []),
    ("slirp4netns", ["network.dns", "network.helpers", "network.host", "network.slirp4netns"]),
    ("pasta", ["network.dns", "network.helpers", "network.host", "network.pasta"]),
])
def test_backends_are_imported_only_when_their_mode_is_used(mode, imported):
    code = ("import sys\n"
            "from core import cli, run\n"
            "from stages import net\n"
            + (FAKE_HOST if imported else "")
            + f"opts = cli.parse(['--net={mode}', 'true'])\n"
            "r = run.Run(opts, cli.select_stages(None))\n"
            "net.prepare(r, r.states['net'])\n"
            "print(sorted(m for m in sys.modules if m.startswith('network.')))\n")
    root = os.path.join(os.path.dirname(__file__), "..", "..", "..")
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == repr(imported)
