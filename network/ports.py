"""Published ports (-p [IP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]).

Used by the net stage (stages/net.py) to check every -p before anything
starts, and by the backends to publish them: slirp4netns and pasta bind
the host port themselves, the bridge's forwarder binds it here.
"""

import errno

# The C module under socket.py: socket.py converts its constants into enums
# at import, 1.5 ms of a start. The paths that need more import socket then.
import _socket

from core import Fail


class Publish:
    """One -p [IP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]."""

    def __init__(self, spec, host_ip, host_port, port, proto):
        self.spec, self.host_ip, self.host_port = spec, host_ip, host_port
        self.port, self.proto = port, proto

    def __repr__(self):
        return f"{self.host_ip}:{self.host_port}:{self.port}/{self.proto}"


def parse_publish(spec):
    """Parse one --publish value; raise Fail naming it when it is wrong."""
    def bad(why):
        return Fail(f"invalid --publish {spec!r}: {why}; use "
                    "[IP:]HOSTPORT:CONTAINERPORT[/tcp|/udp], e.g. 127.0.0.1:8080:80")
    text, proto = spec, "tcp"
    if "/" in spec:
        text, _, proto = spec.rpartition("/")
        if proto not in ("tcp", "udp"):
            raise bad(f"the protocol must be tcp or udp, not {proto!r}")
    if text.startswith("["):
        raise bad("IPv6 host addresses are not supported")
    parts = text.split(":")
    if len(parts) == 2:
        host_ip, host_port, port = "0.0.0.0", parts[0], parts[1]
    elif len(parts) == 3:
        host_ip, host_port, port = parts
    else:
        raise bad("expected two or three fields separated by ':'")
    try:
        _socket.inet_pton(_socket.AF_INET, host_ip)
    except OSError:
        raise bad(f"{host_ip!r} is not an IPv4 address") from None
    numbers = []
    for what, value in (("host port", host_port), ("container port", port)):
        if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 65535:
            raise bad(f"the {what} must be a number from 1 to 65535, not {value!r}")
        numbers.append(int(value))
    return Publish(spec, host_ip, numbers[0], numbers[1], proto)


def parse_publishes(specs):
    """Every -p, parsed; two that would bind the same host port are refused."""
    ports = [parse_publish(spec) for spec in specs]
    seen = {}
    for p in ports:
        for other in seen.get((p.host_port, p.proto), []):
            if "0.0.0.0" in (p.host_ip, other.host_ip) or p.host_ip == other.host_ip:
                raise Fail(f"invalid --publish {p.spec!r}: host port {p.host_port}/{p.proto} "
                           f"is already published by --publish {other.spec!r}")
        seen.setdefault((p.host_port, p.proto), []).append(p)
    return ports


def bind_host_port(p):
    """A socket bound to the published host port; Fail naming the port."""
    import socket
    kind = socket.SOCK_STREAM if p.proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET, kind)
    if p.proto == "tcp":
        # The helpers set SO_REUSEADDR too: a connection of an earlier
        # container in TIME_WAIT does not keep the port.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((p.host_ip, p.host_port))
    except OSError as e:
        s.close()
        raise Fail(publish_error(p, e)) from None
    return s


def check_host_port(p):
    """Bind the host port once, as the helper will, to fail early and clearly."""
    bind_host_port(p).close()


def publish_error(p, err):
    where = f"host port {p.host_port}/{p.proto}"
    if err.errno == errno.EADDRINUSE:
        return (f"cannot publish {p.spec}: {where} is already in use on the host; "
                "choose another HOSTPORT")
    if err.errno == errno.EACCES:
        return (f"cannot publish {p.spec}: {where} is below the first port a user may "
                "bind (sysctl net.ipv4.ip_unprivileged_port_start); choose a port "
                "from 1024, or as root lower that setting")
    if err.errno == errno.EADDRNOTAVAIL:
        return (f"cannot publish {p.spec}: {p.host_ip} is not an address of this host; "
                "use one of its addresses or leave IP out for all of them")
    return f"cannot publish {p.spec}: binding {where} failed: {err.strerror}"
