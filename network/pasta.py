"""The pasta backend: user-mode networking by passt's pasta.

Used by the net stage (stages/net.py) for --net=pasta (and auto). pasta
maps frames to sockets without a TCP stack of its own and copies the
host's address and routes into the namespace; the default gateway's
address leads to the host's 127.0.0.1. Published ports are its -t/-u
options. It says it is ready by writing its pid to the file -P names,
here a pipe to unc. (Debian 12's pasta, a 2023-03 snapshot, loses UDP
replies to clients on the host's loopback; TCP and the way in are fine.)
"""

import os

from network import dns
from network.helpers import spawn, stop, wait_ready

DNS = "169.254.1.1"              # an address pasta forwards to the host's resolver


class Backend:
    def __init__(self, ports, programs):
        self.ports, self.program = ports, programs["pasta"]
        self.dns_forward = None
        self.pid = None

    def resolv_conf(self, host_text):
        """The host's file when it names a nameserver off the host's
        loopback; else one that pasta forwards to the host's first
        nameserver (--dns-forward); None when the host names none."""
        servers = dns.nameservers(host_text)
        if not servers:
            return None
        if any(not dns.loopback(s) for s in servers):
            return host_text if host_text.endswith("\n") else host_text + "\n"
        # Only resolvers on the host's loopback (systemd-resolved, dnsmasq):
        # unreachable from the container as they are.
        self.dns_forward = DNS
        return dns.with_nameserver(DNS, host_text)

    def start(self, run):
        ready_r, ready_w = os.pipe()
        argv = ([self.program] + args(self.ports, self.dns_forward, os.geteuid() == 0)
                + ["-P", "/proc/self/fd/3", str(run.pid)])
        self.pid, log = spawn(run, argv, fds=(ready_w,))
        os.close(ready_w)
        try:
            data = wait_ready("pasta", self.pid, ready_r, log)
        finally:
            os.close(log)
        run.trace(f"pasta (pid {data}) is ready: the host's address and "
                  "routes copied; the gateway's address leads to the host's 127.0.0.1")

    def stop(self, run):
        if self.pid:
            run.trace(f"kill({self.pid}, SIGKILL)  # pasta")
            stop(self.pid)
            self.pid = None


def args(ports, dns_forward, as_root):
    """pasta's options for these published ports, before the target pid."""
    argv = ["-f", "-q", "--config-net"]
    if as_root:
        # Root's pasta would switch to "nobody": it could not join the
        # container's user namespace, and the parent-death signal would go.
        argv += ["--runas", "0"]
    if dns_forward:
        argv += ["--dns-forward", dns_forward]
    for flag, proto in (("-t", "tcp"), ("-u", "udp")):
        specs = [p for p in ports if p.proto == proto]
        if not specs:
            argv += [flag, "none"]
        for p in specs:
            address = "" if p.host_ip == "0.0.0.0" else f"{p.host_ip}/"
            argv += [flag, f"{address}{p.host_port}:{p.port}"]
    # Not the reverse: the host's ports would otherwise show up on the
    # container's own loopback.
    argv += ["-T", "none", "-U", "none"]
    return argv
