"""The slirp4netns backend: user-mode networking by libslirp.

Used by the net stage (stages/net.py) for --net=slirp4netns (and auto).
The container gets 10.0.2.100/24 on tap0, the gateway 10.0.2.2 leads to
the host's 127.0.0.1 and 10.0.2.3 forwards DNS. Published ports are added
on its API socket, one JSON request a connection.
"""

import os

from core import Fail
from network import dns
from network.helpers import READY_TIMEOUT, private_dir, spawn, stop, wait_ready

ADDRESS = "10.0.2.100"
DNS = "10.0.2.3"


class Backend:
    def __init__(self, ports, programs):
        self.ports, self.program = ports, programs["slirp4netns"]
        self.pid = None          # the helper's
        self.exit_fd = None      # slirp4netns exits when this closes
        self.dir = None          # holds the API socket while ports are added

    def resolv_conf(self, host_text):
        return dns.with_nameserver(DNS, host_text)

    def start(self, run):
        ready_r, ready_w = os.pipe()
        exit_r, self.exit_fd = os.pipe()
        argv = [self.program, "--configure", "--mtu=65520", "--ready-fd=3", "--exit-fd=4"]
        if sandbox_works():
            # It parses the container's packets: let it see only /etc and
            # /run of the host, and only the system calls it needs.
            argv[2:2] = ["--enable-sandbox", "--enable-seccomp"]
        else:
            run.trace(f"slirp4netns without --enable-sandbox: {dns.RESOLV_CONF} leads "
                      "outside /etc and /run, which its sandbox would hide")
        if self.ports:
            self.dir = private_dir()
            argv.append(f"--api-socket={self.dir}/api.sock")
        argv += [str(run.pid), "tap0"]
        self.pid, log = spawn(run, argv, fds=(ready_w, exit_r))
        os.close(ready_w)
        os.close(exit_r)
        try:
            wait_ready("slirp4netns", self.pid, ready_r, log)
            run.trace(f"slirp4netns (pid {self.pid}) is ready: tap0 {ADDRESS}/24, "
                      f"gateway 10.0.2.2, DNS {DNS}")
            for p in self.ports:
                hostfwd(run, f"{self.dir}/api.sock", p)
        finally:
            os.close(log)
            self._remove_dir()

    def stop(self, run):
        if self.pid:
            run.trace(f"kill({self.pid}, SIGKILL)  # slirp4netns")
            stop(self.pid)
            self.pid = None
        if self.exit_fd is not None:
            os.close(self.exit_fd)
            self.exit_fd = None
        self._remove_dir()

    def _remove_dir(self):
        if self.dir:
            for remove, path in ((os.unlink, f"{self.dir}/api.sock"), (os.rmdir, self.dir)):
                try:
                    remove(path)
                except OSError:
                    pass
            self.dir = None


def sandbox_works(resolv_conf=dns.RESOLV_CONF):
    """slirp4netns' sandbox keeps only /etc and /run of the host, and fails
    to start when /etc/resolv.conf is a symlink to anywhere else."""
    real = os.path.realpath(resolv_conf)
    return real.startswith(("/etc/", "/run/")) or not os.path.exists(real)


def hostfwd(run, path, p):
    """Publish a port through slirp4netns' API socket."""
    import json     # only here, on the host: unc itself never changes its root
    import socket
    request = json.dumps({"execute": "add_hostfwd", "arguments": {
        "proto": p.proto, "host_addr": p.host_ip, "host_port": p.host_port,
        "guest_addr": ADDRESS, "guest_port": p.port}})
    reply = b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(READY_TIMEOUT)
        s.connect(path)
        s.sendall(request.encode())
        s.shutdown(socket.SHUT_WR)
        while chunk := s.recv(4096):
            reply += chunk
    run.trace(f"{path} <- {request} -> {reply.decode(errors='replace').strip()}")
    try:
        answer = json.loads(reply)
    except ValueError:
        answer = {"error": {"desc": reply.decode(errors="replace") or "no answer"}}
    if "error" in answer:
        desc = answer["error"].get("desc", answer["error"]) if isinstance(
            answer["error"], dict) else answer["error"]
        raise Fail(f"cannot publish {p.spec}: slirp4netns refused it: {desc}")
