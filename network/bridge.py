"""The bridge backend (root only): what the tutorial's setuid helper unet did.

Used by the net stage (stages/net.py) for --net=bridge. ip(8) from
iproute2 makes the bridge unc0 (once; it stays, like docker0), a veth pair
whose host end is uncvN and whose other end is created directly in the
container's namespace as eth0, then, through nsenter(1), the address
10.100.42.N/24 and a default route via 10.100.42.1. Published ports go
through forwarder.py, a child of unc.

The name carries the address: the kernel refuses a second interface called
uncvN, so two containers starting at once can never get the same address,
and no lock file is needed (a lock file would outlive a SIGKILLed unc; the
interface does not: deleting a network namespace deletes its veth pairs, so
a dead container's address is free again).
"""

import os

# The signal module's functions and constants as plain ints (kernel.py).
import _signal as signal

from core import Fail
from network.helpers import fork_tied, log_text, spawn, stop
from network.ports import bind_host_port

BRIDGE = "unc0"
NET = "10.100.42"
ADDRESS = NET + ".1"
VETH_PREFIX = "uncv"             # uncvN is the host end for 10.100.42.N


class Backend:
    def __init__(self, ports, programs):
        self.ports = ports
        self.ip_program, self.nsenter = programs["ip"], programs["nsenter"]
        self.veth = None         # the host end, while it exists
        self.address = None      # the container's
        self.forwarder = None    # its pid

    def resolv_conf(self, host_text):
        return None              # the container uses the root's DNS setup

    def ip(self, run, *args, netns=None, check=True):
        """Run ip(8) on the host, or with nsenter in the container's network
        namespace."""
        argv = [self.ip_program, *args]
        if netns:
            argv = [self.nsenter, f"--net=/proc/{netns}/ns/net"] + argv
        pid, log = spawn(run, argv)
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        lines = log_text(log)
        os.close(log)
        if status != 0 and check:
            raise Fail(f"{' '.join(argv)} failed: {lines[-1] if lines else status}")
        return status, lines

    def start(self, run):
        if not os.path.exists(f"/sys/class/net/{BRIDGE}"):
            status, lines = self.ip(run, "link", "add", BRIDGE, "type", "bridge", check=False)
            # Another unc may have created it in between: fine.
            if status != 0 and not os.path.exists(f"/sys/class/net/{BRIDGE}"):
                raise Fail(f"cannot create the bridge {BRIDGE}: {lines[-1] if lines else status}")
        # Both idempotent, so concurrent uncs need no lock here either.
        self.ip(run, "addr", "replace", f"{ADDRESS}/24", "dev", BRIDGE)
        self.ip(run, "link", "set", BRIDGE, "up")
        for n in range(2, 255):
            veth = f"{VETH_PREFIX}{n}"
            if os.path.exists(f"/sys/class/net/{veth}"):
                continue
            status, lines = self.ip(run, "link", "add", veth, "type", "veth", "peer", "name",
                                    "eth0", "netns", str(run.pid), check=False)
            if status == 0:
                break
            if not any("exists" in line for line in lines):
                raise Fail(f"cannot create a veth pair: {lines[-1] if lines else status}")
            # Lost the race for this address to another unc: take the next one.
        else:
            raise Fail(f"no free address left in {NET}.0/24: 253 containers use "
                       f"{BRIDGE}; end some of them")
        self.veth, self.address = veth, f"{NET}.{n}"
        self.ip(run, "link", "set", veth, "master", BRIDGE, "up")
        self.ip(run, "addr", "add", f"{self.address}/24", "dev", "eth0", netns=run.pid)
        self.ip(run, "link", "set", "eth0", "up", netns=run.pid)
        self.ip(run, "route", "add", "default", "via", ADDRESS, netns=run.pid)
        if self.ports:
            self.start_forwarder(run)

    def start_forwarder(self, run):
        listeners = []
        for p in self.ports:
            s = bind_host_port(p)
            if p.proto == "tcp":
                s.listen(64)
            s.setblocking(False)
            listeners.append((s, p))
            run.trace(f"bind({p.host_ip}:{p.host_port}/{p.proto}) -> forward to "
                      f"{self.address}:{p.port}")
        pid = fork_tied()
        if pid == 0:
            try:
                # A peer that went away must not kill the forwarder on send().
                signal.signal(signal.SIGPIPE, signal.SIG_IGN)
                null = os.open("/dev/null", os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                keep = {s.fileno() for s, _ in listeners}
                for fd in os.listdir("/proc/self/fd"):
                    if int(fd) > 2 and int(fd) not in keep:
                        try:
                            os.close(int(fd))
                        except OSError:
                            pass
                from network import forwarder     # on the host, in the relay only
                forwarder.Forwarder(listeners, self.address).loop()
            finally:
                os._exit(0)
        for s, _ in listeners:
            s.close()
        self.forwarder = pid
        run.trace(f"port forwarder started (pid {pid})")

    def stop(self, run):
        if self.forwarder:
            run.trace(f"kill({self.forwarder}, SIGKILL)  # forwarder")
            stop(self.forwarder)
            self.forwarder = None
        if self.veth:
            # Deleting one end deletes the pair. When the container's
            # namespace is gone already, so is the pair: not an error.
            if os.path.exists(f"/sys/class/net/{self.veth}"):
                self.ip(run, "link", "del", self.veth, check=False)
            self.veth = None
