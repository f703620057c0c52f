"""network/forwarder.py: bridge mode's relay, on loopback sockets only."""

import os
import socket
import threading

from network import forwarder
from network.ports import parse_publish


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    p = parse_publish(f"127.0.0.1:{listener.getsockname()[1]}:{server.getsockname()[1]}")
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
    p = parse_publish(f"127.0.0.1:{listener.getsockname()[1]}:"
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
    p = parse_publish(f"127.0.0.1:{listener.getsockname()[1]}:{free_port()}")
    threading.Thread(target=forwarder.Forwarder([(listener, p)], "127.0.0.1").loop,
                     daemon=True).start()
    with socket.create_connection(listener.getsockname(), timeout=10) as c:
        assert c.recv(10) == b""
