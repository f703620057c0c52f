"""The port forwarder of `unc --net=bridge -p`: a relay on the host.

In bridge mode the container has an address on the host's bridge unc0, and
a published port must lead there. network/bridge.py binds the host ports, forks
a process tied to unc (it dies with unc, however unc ends) and runs this
relay in it: every TCP connection accepted on a published port is paired
with one to the container's address, and bytes go both ways with
half-closes kept; every UDP client gets a socket of its own towards the
container, so that replies find their way back. Rules in iptables or
nftables (DNAT) would forward faster, but need those tools, change the
host's firewall for everyone, do not apply to traffic to 127.0.0.1 without
the route_localnet sysctl, and would stay behind a SIGKILLed unc; this
process cannot.
"""

import select
import socket


class Forwarder:
    """Relay TCP connections and UDP datagrams to the container's address."""

    def __init__(self, listeners, address):
        self.address = address
        self.listeners = {s: p for s, p in listeners}
        self.peer = {}          # TCP socket -> the other end of its pair
        self.out = {}           # TCP socket -> bytes waiting to be sent to it
        self.eof = set()        # TCP sockets that will not send any more
        self.udp = {}           # (listener, client address) -> upstream socket
        self.udp_client = {}    # upstream socket -> (listener, client address)
        self.connecting = set()  # upstream TCP sockets whose connect() is pending

    def loop(self):
        while True:
            readers = list(self.listeners) + list(self.udp_client)
            readers += [s for s in self.peer
                        if s not in self.eof and not self.out[self.peer[s]]]
            writers = [s for s in self.peer if self.out[s] or s in self.connecting]
            readable, writable, _ = select.select(readers, writers, [])
            for s in writable:
                if s in self.peer:
                    self.flush(s)
            for s in readable:
                if s in self.listeners:
                    self.accept(s)
                elif s in self.udp_client:
                    self.udp_reply(s)
                elif s in self.peer:
                    self.receive(s)

    def accept(self, listener):
        p = self.listeners[listener]
        if p.proto == "udp":
            return self.udp_request(listener, p)
        try:
            client, _ = listener.accept()
        except OSError:
            return
        upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        client.setblocking(False)
        upstream.setblocking(False)
        upstream.connect_ex((self.address, p.port))
        self.connecting.add(upstream)
        for a, b in ((client, upstream), (upstream, client)):
            self.peer[a], self.out[a] = b, bytearray()

    def flush(self, s):
        if s in self.connecting:
            self.connecting.discard(s)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                return self.close(s)
        try:
            sent = s.send(self.out[s]) if self.out[s] else 0
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return self.close(s)
        del self.out[s][:sent]
        if not self.out[s] and self.peer[s] in self.eof:
            self.shut(s)

    def receive(self, s):
        try:
            data = s.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return self.close(s)
        other = self.peer[s]
        if data:
            self.out[other] += data
            return self.flush(other)
        self.eof.add(s)
        if not self.out[other]:
            self.shut(other)

    def shut(self, s):
        """No more data for s: half-close it; close the pair when both ended."""
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        if s in self.eof and self.peer[s] in self.eof:
            self.close(s)

    def close(self, s):
        for x in (s, self.peer.get(s)):
            if x is not None and x in self.peer:
                del self.peer[x], self.out[x]
                self.eof.discard(x)
                self.connecting.discard(x)
                x.close()

    def udp_request(self, listener, p):
        try:
            data, client = listener.recvfrom(65536)
        except OSError:
            return
        key = (listener, client)
        upstream = self.udp.get(key)
        if upstream is None:
            if len(self.udp) >= 256:            # forget the oldest client
                old_key = next(iter(self.udp))
                old = self.udp.pop(old_key)
                del self.udp_client[old]
                old.close()
            upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            upstream.connect((self.address, p.port))
            self.udp[key], self.udp_client[upstream] = upstream, key
        try:
            upstream.send(data)
        except OSError:
            pass

    def udp_reply(self, upstream):
        listener, client = self.udp_client[upstream]
        try:
            listener.sendto(upstream.recv(65536), client)
        except OSError:
            pass
