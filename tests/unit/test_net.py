"""Stage net: option checks, mode choice, helper arguments, DNS, and the
host-side pieces that need no namespace (loopback sockets only)."""

import errno
import os
import socket
import threading
from unittest import mock

import pytest
from hypothesis import given, strategies as st

import forwarder
import kernel
import unc
from stages import Fail, mount, net


class Run:
    def __init__(self, **opts):
        self.opts = {"--net": None, "--publish": []}
        self.opts.update({"--" + k: v for k, v in opts.items()})
        self.flags = net.CLONE_FLAGS | kernel.CLONE_NEWUSER
        self.plan = mount.Plan()
        self.traced = []

    def trace(self, message):
        self.traced.append(message)


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------- --publish

@pytest.mark.parametrize("spec, expected", [
    ("8080:80", ("0.0.0.0", 8080, 80, "tcp")),
    ("127.0.0.1:18080:80", ("127.0.0.1", 18080, 80, "tcp")),
    ("127.0.0.1:5353:53/udp", ("127.0.0.1", 5353, 53, "udp")),
    ("1:65535/tcp", ("0.0.0.0", 1, 65535, "tcp")),
])
def test_good_publish(spec, expected):
    p = net.parse_publish(spec)
    assert (p.host_ip, p.host_port, p.port, p.proto) == expected


@pytest.mark.parametrize("spec, words", [
    ("80", "two or three fields"),
    ("1:2:3:4", "two or three fields"),
    ("0:80", "host port must be a number from 1 to 65535, not '0'"),
    ("65536:80", "not '65536'"),
    ("8080:0", "container port"),
    ("8080:x", "not 'x'"),
    ("8080:-1", "not '-1'"),
    ("8080:٨٠", "container port"),
    ("localhost:8080:80", "'localhost' is not an IPv4 address"),
    ("1.2.3:8080:80", "not an IPv4 address"),
    ("127.1:8080:80", "not an IPv4 address"),
    ("[::1]:8080:80", "IPv6"),
    ("8080:80/sctp", "tcp or udp, not 'sctp'"),
    (":8080:80", "not an IPv4 address"),
])
def test_bad_publish_names_the_value(spec, words):
    with pytest.raises(Fail) as e:
        net.parse_publish(spec)
    assert f"invalid --publish {spec!r}" in str(e.value)
    assert words in str(e.value)
    assert e.value.status == 125


@given(st.text(max_size=30))
def test_publish_parser_accepts_only_valid_ports(spec):
    try:
        p = net.parse_publish(spec)
    except Fail:
        return
    assert 1 <= p.host_port <= 65535 and 1 <= p.port <= 65535
    assert p.proto in ("tcp", "udp")
    socket.inet_pton(socket.AF_INET, p.host_ip)


def test_the_same_host_port_twice_is_refused():
    with pytest.raises(Fail, match="already published by --publish '8080:81'"):
        net.parse_publishes(["8080:81", "127.0.0.1:8080:80"])
    # Other protocol, or two distinct addresses: fine.
    assert len(net.parse_publishes(["8080:80", "8080:80/udp"])) == 2
    assert len(net.parse_publishes(["127.0.0.1:8080:80", "127.0.0.2:8080:80"])) == 2


def test_a_taken_host_port_is_refused_naming_it():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = net.parse_publish(f"127.0.0.1:{port}:80")
        with pytest.raises(Fail) as e:
            net.check_host_port(p)
    assert f"host port {port}/tcp is already in use" in str(e.value)


def test_a_taken_udp_port_is_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with pytest.raises(Fail, match=f"{port}/udp is already in use"):
            net.check_host_port(net.parse_publish(f"127.0.0.1:{port}:53/udp"))


def test_a_free_port_passes_and_stays_free():
    port = free_port()
    net.check_host_port(net.parse_publish(f"127.0.0.1:{port}:80"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_a_foreign_address_is_refused():
    # 192.0.2.0/24 is TEST-NET-1: never an address of this host.
    with pytest.raises(Fail, match="192.0.2.55 is not an address of this host"):
        net.check_host_port(net.parse_publish(f"192.0.2.55:{free_port()}:80"))


@pytest.mark.parametrize("err, words", [
    (errno.EACCES, "ip_unprivileged_port_start"),
    (errno.EADDRINUSE, "already in use"),
    (errno.EADDRNOTAVAIL, "not an address of this host"),
    (errno.EINVAL, "Invalid argument"),
])
def test_publish_errors_say_what_to_do(err, words):
    p = net.parse_publish("127.0.0.1:80:80")
    assert words in net.publish_error(p, OSError(err, os.strerror(err)))


# ------------------------------------------------------------- modes

def test_flags_and_options():
    assert net.CLONE_FLAGS == kernel.CLONE_NEWNET
    assert net.OPTIONS == ("--net", "--publish")
    assert net.DEFAULT_MODE == "none" and net.AUTO_ORDER == ("pasta", "slirp4netns")
    assert net.PUBLISH_MODE == "auto"


@pytest.mark.parametrize("option", ["--net=MODE", "-p SPEC, --publish=SPEC", "[-p SPEC]..."])
def test_usage_names_the_options(option):
    assert option in unc.USAGE


def test_publish_is_repeatable_on_the_command_line():
    opts = unc.parse(["-p", "8080:80", "--publish=127.0.0.1:53:53/udp", "--net=pasta", "true"])
    assert opts["--publish"] == ["8080:80", "127.0.0.1:53:53/udp"]
    assert opts["--net"] == "pasta"


def test_unknown_mode_is_refused():
    with pytest.raises(Fail, match="invalid --net 'wifi': use one of auto, none"):
        net.prepare(Run(net="wifi"))


def test_host_mode_drops_the_network_namespace():
    run = Run(net="host")
    net.prepare(run)
    assert not run.flags & kernel.CLONE_NEWNET
    assert run.flags & kernel.CLONE_NEWUSER


@pytest.mark.parametrize("mode, words", [
    ("none", "no link to the host"),
    ("host", "uses the host's ports directly"),
])
def test_publish_needs_a_link(mode, words):
    with pytest.raises(Fail, match=words):
        net.prepare(Run(net=mode, publish=["8080:80"]))


def _programs(present):
    return lambda name, path=None: f"/usr/bin/{name}" if name in present else None


@pytest.mark.parametrize("present, tun, route, chosen", [
    ({"pasta", "slirp4netns"}, None, True, "pasta"),
    ({"slirp4netns"}, None, True, "slirp4netns"),
    (set(), None, True, "none"),
    ({"pasta", "slirp4netns"}, "which you may not open; chmod 666", True, "none"),
    ({"pasta", "slirp4netns"}, None, False, "slirp4netns"),
    ({"pasta"}, None, False, "none"),
])
def test_auto_prefers_pasta_then_slirp4netns_then_none(present, tun, route, chosen):
    run = Run()
    with mock.patch.object(net, "find_program", _programs(present)), \
            mock.patch.object(net, "default_route", lambda: route), \
            mock.patch.object(net, "tun_problem", lambda: tun):
        mode, path, _ = net.choose_mode(run, "auto")
    assert mode == chosen
    assert f"using {chosen}" in run.traced[-1]
    if tun:
        assert tun in run.traced[-1]
        # Said once, not once a helper.
        assert run.traced[-1].count("chmod") <= 1
    if not route and chosen == "none":
        assert "no default route" in run.traced[-1]


def test_explicit_pasta_without_a_default_route_suggests_slirp4netns():
    with mock.patch.object(net, "find_program", _programs({"pasta"})), \
            mock.patch.object(net, "tun_problem", lambda: None), \
            mock.patch.object(net, "default_route", lambda: False):
        with pytest.raises(Fail, match="no default route; use --net=slirp4netns"):
            net.choose_mode(Run(), "pasta")


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
        assert net.default_route() is expected


def test_auto_with_publish_and_no_helper_says_why():
    run = Run(publish=["8080:80"])
    with mock.patch.object(net, "find_program", _programs(set())), \
            mock.patch.object(net, "tun_problem", lambda: None):
        with pytest.raises(Fail, match="neither can run here: pasta is not installed "
                                       r"\(Debian package passt\)"):
            net.prepare(run)


@pytest.mark.parametrize("mode, package", [("slirp4netns", "slirp4netns"), ("pasta", "passt")])
def test_a_missing_helper_names_the_debian_package(mode, package):
    with mock.patch.object(net, "find_program", _programs(set())):
        with pytest.raises(Fail, match=f"install the Debian package {package} "):
            net.choose_mode(Run(), mode)


def test_an_unusable_tun_is_named_for_an_explicit_mode():
    with mock.patch.object(net, "find_program", _programs({"pasta"})), \
            mock.patch.object(os, "open", side_effect=PermissionError(13, "denied")), \
            mock.patch.object(net, "_mode", lambda path: "0600"):
        with pytest.raises(Fail) as e:
            net.choose_mode(Run(), "pasta")
    assert str(e.value) == ("--net=pasta needs /dev/net/tun, which you may not open (it is "
                            "mode 0600); as root, run chmod 666 /dev/net/tun, as Debian's "
                            "udev rules do on an ordinary host")


def test_a_missing_tun_says_how_to_get_one():
    with mock.patch.object(os, "open", side_effect=FileNotFoundError(2, "missing")):
        assert "modprobe tun" in net.tun_problem()


def test_bridge_needs_root():
    with mock.patch.object(os, "geteuid", lambda: 1000):
        with pytest.raises(Fail, match="--net=bridge needs root.*--net=slirp4netns or --net=pasta"):
            net.choose_mode(Run(), "bridge")


def test_bridge_as_root_needs_iproute2():
    with mock.patch.object(os, "geteuid", lambda: 0), \
            mock.patch.object(net, "find_program", _programs({"nsenter"})):
        with pytest.raises(Fail, match="Debian package iproute2"):
            net.choose_mode(Run(), "bridge")


def test_find_program_searches_path(tmp_path):
    program = tmp_path / "helper"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    (tmp_path / "plain").write_text("")
    assert net.find_program("helper", f"/nonexistent:{tmp_path}") == str(program)
    assert net.find_program("plain", str(tmp_path)) is None
    assert net.find_program("helper", "/nonexistent") is None


# ------------------------------------------------------------- DNS

HOST_PUBLIC = "# generated\nsearch example.org\nnameserver 192.0.2.53\noptions ndots:2\n"
HOST_STUB = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n"


def test_slirp4netns_dns_is_its_forwarder_with_the_host_search_list():
    text, forward = net.resolv_conf("slirp4netns", HOST_PUBLIC)
    assert text == "nameserver 10.0.2.3\nsearch example.org\noptions ndots:2\n"
    assert forward is None
    assert net.resolv_conf("slirp4netns", "")[0] == "nameserver 10.0.2.3\n"


def test_pasta_dns_is_the_hosts_file_when_reachable():
    assert net.resolv_conf("pasta", HOST_PUBLIC) == (HOST_PUBLIC, None)


def test_pasta_dns_forwards_when_the_host_has_only_a_loopback_resolver():
    text, forward = net.resolv_conf("pasta", HOST_STUB)
    assert forward == net.PASTA_DNS
    assert text.splitlines() == [f"nameserver {net.PASTA_DNS}", "options edns0 trust-ad",
                                 "search lan"]


@pytest.mark.parametrize("mode", ["none", "host", "bridge"])
def test_other_modes_leave_resolv_conf_alone(mode):
    assert net.resolv_conf(mode, HOST_PUBLIC) is None


def test_pasta_without_any_resolver_leaves_it_alone():
    assert net.resolv_conf("pasta", "# empty\n") is None


def test_resolv_conf_is_a_bind_from_the_staging_tmpfs_before_pivot_root():
    run = Run(net="slirp4netns")
    run.plan = mount.build_plan({"--rootfs": "/r"}, "/")
    with mock.patch.object(net, "find_program", _programs({"slirp4netns"})), \
            mock.patch.object(net, "tun_problem", lambda: None):
        net.prepare(run)
    ops = list(run.plan)
    op = next(o for o in ops if isinstance(o, net.ResolvConf))
    assert ops.index(op) < ops.index(next(o for o in ops if isinstance(o, mount.PivotRoot)))
    assert op.sources == ("/tmp/resolv.conf",) and op.dest == "/etc/resolv.conf"
    assert op.sources[0].startswith(mount.STAGING + "/")
    assert 'nameserver 10.0.2.3' in op.describe() and "MS_BIND" in op.describe()


# ------------------------------------------------------------- helpers

def test_pasta_arguments():
    ports = net.parse_publishes(["127.0.0.1:18080:80", "8443:443", "127.0.0.1:5353:53/udp"])
    args = net.pasta_args(ports, None, as_root=False)
    assert args[:3] == ["-f", "-q", "--config-net"]
    assert ["-t", "127.0.0.1/18080:80"] == args[3:5]
    assert ["-t", "8443:443"] == args[5:7]
    assert ["-u", "127.0.0.1/5353:53"] == args[7:9]
    assert args[-4:] == ["-T", "none", "-U", "none"]
    assert "--runas" not in args


def test_pasta_arguments_without_ports_forward_nothing():
    args = net.pasta_args([], "169.254.1.1", as_root=True)
    assert ["-t", "none"] == args[args.index("-t"):args.index("-t") + 2]
    assert ["-u", "none"] == args[args.index("-u"):args.index("-u") + 2]
    assert ["--runas", "0"] == args[args.index("--runas"):args.index("--runas") + 2]
    assert ["--dns-forward", "169.254.1.1"] == args[args.index("--dns-forward"):][:2]


def test_log_text_drops_syslog_noise():
    fd = os.memfd_create("t")
    os.write(fd, b"Failed to send 47 bytes to syslog\n\nCouldn't open tun: Permission denied\n")
    assert net.log_text(fd) == ["Couldn't open tun: Permission denied"]
    os.close(fd)


def test_spawn_and_wait_ready_report_a_helper_that_fails(tmp_path):
    run = Run()
    r, w = os.pipe()
    pid, log = net.spawn(run, ["/bin/sh", "-c", "echo 'open(\"/dev/net/tun\"): boom' >&2; exit 1"],
                         fds=(w,))
    os.close(w)
    with pytest.raises(Fail, match='pasta could not set up the container.s network: '
                                   'open\\("/dev/net/tun"\\): boom'):
        net.wait_ready("pasta", pid, r, log)
    os.close(log)
    assert "(host pid" in run.traced[-1]


def test_spawn_gives_fds_3_and_up_and_nothing_else():
    run = Run()
    r, w = os.pipe()
    stray = os.open("/dev/null", os.O_RDONLY)
    os.set_inheritable(stray, True)         # as a caller's leaked fd would be
    pid, log = net.spawn(run, ["/bin/sh", "-c", "ls /proc/$$/fd"], fds=(w,))
    os.close(w)
    os.waitpid(pid, 0)
    assert sorted(net.log_text(log), key=int) == ["0", "1", "2", "3"]
    os.close(log)
    os.close(r)
    os.close(stray)


def test_spawned_helpers_start_with_default_signals():
    run = Run()
    r, w = os.pipe()
    pid, log = net.spawn(run, ["/bin/sh", "-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status >&3"],
                         fds=(w,))
    os.close(w)
    out = b""
    while chunk := os.read(r, 4096):
        out += chunk
    os.close(r)
    os.waitpid(pid, 0)
    os.close(log)
    # Python ignores SIGPIPE (13); the helper must not inherit that.
    ignored = int(out.split()[1], 16)
    assert not ignored & (1 << (13 - 1))


# ------------------------------------------------------------- forwarder

def _echo_server(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    if kind == socket.SOCK_STREAM:
        s.listen()

        def serve():
            conn, _ = s.accept()
            with conn:
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
                conn.sendall(data[::-1])
    else:
        def serve():
            data, peer = s.recvfrom(65536)
            s.sendto(data.upper(), peer)
    threading.Thread(target=serve, daemon=True).start()
    return s


def test_forwarder_relays_tcp_both_ways_with_half_close():
    server = _echo_server(socket.SOCK_STREAM)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    p = net.parse_publish(f"127.0.0.1:{listener.getsockname()[1]}:{server.getsockname()[1]}")
    relay = forwarder.Forwarder([(listener, p)], "127.0.0.1")
    threading.Thread(target=relay.loop, daemon=True).start()
    payload = os.urandom(300000)
    with socket.create_connection(listener.getsockname(), timeout=10) as c:
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := c.recv(65536):
            got += chunk
    assert got == payload[::-1]
    server.close()


def test_forwarder_relays_udp():
    server = _echo_server(socket.SOCK_DGRAM)
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.setblocking(False)
    p = net.parse_publish(f"127.0.0.1:{listener.getsockname()[1]}:"
                          f"{server.getsockname()[1]}/udp")
    threading.Thread(target=forwarder.Forwarder([(listener, p)], "127.0.0.1").loop,
                     daemon=True).start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.settimeout(10)
        c.sendto(b"ping", listener.getsockname())
        assert c.recvfrom(100)[0] == b"PING"
    server.close()


def test_forwarder_closes_the_client_when_the_container_refuses():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    p = net.parse_publish(f"127.0.0.1:{listener.getsockname()[1]}:{free_port()}")
    threading.Thread(target=forwarder.Forwarder([(listener, p)], "127.0.0.1").loop,
                     daemon=True).start()
    with socket.create_connection(listener.getsockname(), timeout=10) as c:
        assert c.recv(10) == b""


# ------------------------------------------------------------- cleanup

def test_cleanup_tolerates_a_setup_that_never_started():
    run = Run()
    net.cleanup(run)                            # nothing recorded: nothing to do


def test_cleanup_kills_and_reaps_the_helper_and_closes_the_exit_fd(tmp_path):
    run = Run()
    pid = os.fork()
    if pid == 0:
        os.execv("/bin/sleep", ["sleep", "31337"])
    r, w = os.pipe()
    run.net_helper, run.net_exit_fd = pid, w
    run.net_dir = str(tmp_path / "d")
    os.mkdir(run.net_dir)
    net.cleanup(run)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    assert os.read(r, 1) == b""                 # the exit fd's other end saw EOF
    assert not os.path.exists(str(tmp_path / "d"))
    net.cleanup(run)                            # twice is harmless


@pytest.mark.parametrize("opts, covered", [
    ({"--tmpfs": ["/etc"]}, "--tmpfs /etc"),
    ({"--tmpfs": ["/etc/"]}, "--tmpfs /etc/"),
    ({"--volume": ["/etc/hosts:/etc/resolv.conf:ro"]}, "--volume /etc/hosts:/etc/resolv.conf:ro"),
    ({"--tmpfs": ["/etcetera", "/run"], "--volume": ["/tmp:/et"]}, None),
    ({}, None),
])
def test_the_users_mounts_win_over_resolv_conf(opts, covered):
    assert net.user_mount_over(opts, "/etc/resolv.conf") == covered


def test_no_resolv_conf_op_under_a_users_tmpfs_etc():
    run = Run(net="slirp4netns", tmpfs=["/etc"])
    with mock.patch.object(net, "find_program", _programs({"slirp4netns"})), \
            mock.patch.object(net, "tun_problem", lambda: None):
        net.prepare(run)
    assert not any(isinstance(op, net.ResolvConf) for op in run.plan)
    assert "left to the user's --tmpfs /etc" in run.traced[-1]


def test_slirp_sandbox_only_where_resolv_conf_stays_in_etc_or_run(tmp_path):
    elsewhere = tmp_path / "resolv.conf"
    elsewhere.write_text("nameserver 192.0.2.53\n")
    link = tmp_path / "link"
    link.symlink_to(elsewhere)
    assert not net.slirp_sandbox_works(str(link))
    assert net.slirp_sandbox_works("/etc/hostname")
    assert net.slirp_sandbox_works(str(tmp_path / "missing"))
