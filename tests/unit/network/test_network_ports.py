"""network/ports.py: -p values, parsed and checked before anything starts."""

import errno
import os
import socket

import pytest
from hypothesis import given, strategies as st

from core import Fail
from network import ports


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("spec, expected", [
    ("8080:80", ("0.0.0.0", 8080, 80, "tcp")),
    ("127.0.0.1:18080:80", ("127.0.0.1", 18080, 80, "tcp")),
    ("127.0.0.1:5353:53/udp", ("127.0.0.1", 5353, 53, "udp")),
    ("1:65535/tcp", ("0.0.0.0", 1, 65535, "tcp")),
])
def test_good_publish(spec, expected):
    p = ports.parse_publish(spec)
    assert (p.host_ip, p.host_port, p.port, p.proto) == expected
    assert p.spec == spec


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
        ports.parse_publish(spec)
    assert f"invalid --publish {spec!r}" in str(e.value)
    assert words in str(e.value)
    assert e.value.status == 125


@given(st.text(max_size=30))
def test_publish_parser_accepts_only_valid_ports(spec):
    try:
        p = ports.parse_publish(spec)
    except Fail:
        return
    assert 1 <= p.host_port <= 65535 and 1 <= p.port <= 65535
    assert p.proto in ("tcp", "udp")
    socket.inet_pton(socket.AF_INET, p.host_ip)


def test_the_same_host_port_twice_is_refused():
    with pytest.raises(Fail, match="already published by --publish '8080:81'"):
        ports.parse_publishes(["8080:81", "127.0.0.1:8080:80"])
    # Other protocol, or two distinct addresses: fine.
    assert len(ports.parse_publishes(["8080:80", "8080:80/udp"])) == 2
    assert len(ports.parse_publishes(["127.0.0.1:8080:80", "127.0.0.2:8080:80"])) == 2


def test_a_taken_host_port_is_refused_naming_it():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = ports.parse_publish(f"127.0.0.1:{port}:80")
        with pytest.raises(Fail) as e:
            ports.check_host_port(p)
    assert f"host port {port}/tcp is already in use" in str(e.value)


def test_a_taken_udp_port_is_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with pytest.raises(Fail, match=f"{port}/udp is already in use"):
            ports.check_host_port(ports.parse_publish(f"127.0.0.1:{port}:53/udp"))


def test_a_free_port_passes_and_stays_free():
    port = free_port()
    ports.check_host_port(ports.parse_publish(f"127.0.0.1:{port}:80"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_bind_host_port_gives_a_bound_socket_of_the_protocol():
    port = free_port(socket.SOCK_DGRAM)
    with ports.bind_host_port(ports.parse_publish(f"127.0.0.1:{port}:53/udp")) as s:
        assert s.type == socket.SOCK_DGRAM and s.getsockname() == ("127.0.0.1", port)


def test_a_foreign_address_is_refused():
    # 192.0.2.0/24 is TEST-NET-1: never an address of this host.
    with pytest.raises(Fail, match="192.0.2.55 is not an address of this host"):
        ports.check_host_port(ports.parse_publish(f"192.0.2.55:{free_port()}:80"))


@pytest.mark.parametrize("err, words", [
    (errno.EACCES, "ip_unprivileged_port_start"),
    (errno.EADDRINUSE, "already in use"),
    (errno.EADDRNOTAVAIL, "not an address of this host"),
    (errno.EINVAL, "Invalid argument"),
])
def test_publish_errors_say_what_to_do(err, words):
    p = ports.parse_publish("127.0.0.1:80:80")
    assert words in ports.publish_error(p, OSError(err, os.strerror(err)))
