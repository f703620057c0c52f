"""Stage 4, net: a network stack of the container's own, with or without root.

What it adds
    A network namespace: the container has its own interfaces, addresses,
    routes and ports. --net=MODE says how it reaches the outside:

      none         the default: only the loopback interface lo, up
      slirp4netns  user-mode networking by slirp4netns (no root needed)
      pasta        user-mode networking by pasta (no root needed)
      bridge       root only: a veth pair on the bridge unc0, as the tutorial
      host         no network namespace: the host's interfaces and ports
      auto         pasta where the host has a default route, else
                   slirp4netns, else none; --trace says which and why

    The default is none, or auto when -p asks for published ports: a
    container reaches no network unless asked, like `unshare -n` and
    `bwrap --unshare-net`, and a start costs no helper (a helper adds
    30 to 60 ms to every start, mostly the kernel removing its TAP).

    -p [IP:]HOSTPORT:CONTAINERPORT[/tcp|/udp] publishes a port of the
    container on the host (all the host's addresses unless IP is given).

The network namespace (network_namespaces(7))
    unshare(CLONE_NEWNET) gives a network stack with one interface, lo, and
    that one down. Bringing it up needs CAP_NET_ADMIN in the user namespace
    that owns the network namespace, which the container's root has since
    stage 1: PID 1 does it itself, with the SIOCSIFFLAGS ioctl on an ordinary
    socket (what `ifconfig lo up` does), in every mode but host.

Why a user cannot plug a cable in
    A link to the outside has two ends, and one must be in the host's
    network namespace, which the host's (initial) user namespace owns.
    Creating a veth pair there, adding it to a bridge, giving it an address:
    each needs CAP_NET_ADMIN over the host's network namespace, i.e. root.
    Capabilities in the container's user namespace count only for what that
    user namespace owns. So the tutorial shipped a setuid-root helper, unet:
    it created the bridge unc0 with 10.100.42.1/24 (once), a veth pair, moved
    one end into the container's namespace by PID, and gave that end an
    address of the subnet and a default route via the bridge. --net=bridge
    does the same when unc runs as root.

User-mode networking
    Without root, the container gets a TAP device instead: a virtual network
    card whose other end is a file descriptor, not an interface. The
    container's user namespace owns its network namespace, so a TAP can be
    created in there. A helper program on the host holds the descriptor,
    reads the Ethernet frames the container sends and replays what they
    carry with ordinary sockets, as the user: a TCP connection of the
    container becomes a connect(2) of the helper. Nothing on the host
    changes. The price: every packet crosses user space, and the container
    reaches the world with the host's address. This is how rootless Podman
    and RootlessKit do it.
    unc knows two such helpers: slirp4netns (libslirp, the TCP/IP stack of
    QEMU's user networking; network/slirp4netns.py) and pasta (passt's,
    which copies the host's address and routes; network/pasta.py).
    Both open /dev/net/tun, which an ordinary Debian host makes mode 0666
    (a udev rule); where it is 0600 only root may, and unc says so. Both
    also let the container reach services that listen only on the host's
    127.0.0.1, which is convenient and worth knowing (slirp4netns
    --disable-host-loopback and pasta --no-map-gw would forbid it).

How unc runs the helper
    unc stays in the host's namespaces. Once the container's namespaces
    exist, and before PID 1 may exec the command, unc starts the helper with
    PID 1's host pid; the helper joins the container's user and network
    namespaces through /proc/PID/ns/, creates and configures the TAP and
    says it is done: slirp4netns writes "1" to its --ready-fd, pasta writes
    its pid to the file -P names (here /proc/self/fd/3, a pipe to unc). Only
    then does unc let the command start, so it never sees a network that is
    not configured yet. Nothing of this is on disk but the API socket of
    slirp4netns, which unc removes as soon as the ports are published. The
    helper dies with unc, however unc ends (network/helpers.py says how).

The bridge (root)
    What unet did, done with ip(8), which --trace shows: the bridge unc0
    (it stays, like docker0), a veth pair with one end in the container as
    eth0, the address 10.100.42.N/24 and a default route via 10.100.42.1.
    There is no NAT: the container reaches the host, not the world, unless
    the administrator routes 10.100.42.0/24 (network/bridge.py).

Published ports
    Checked before anything starts (network/ports.py): the host port must
    be free, so unc binds it once and lets go. slirp4netns and pasta then
    bind it themselves; in bridge mode a forwarder, a child of unc, relays
    to the container's address (network/forwarder.py).

DNS
    With slirp4netns and pasta the container gets its own /etc/resolv.conf,
    bound over the root's through the mount plan (network/dns.py); the
    root's file is never changed.

Where the machinery is
    Ports: network/ports.py; what the host offers: network/host.py; the
    helper processes: network/helpers.py; one module per backend:
    network/slirp4netns.py, pasta.py, bridge.py (with forwarder.py);
    DNS: network/dns.py. This file chooses the mode, hands the host side to
    the backend, and brings lo up inside.

Try it
    unc --net=none ip link
    unc --net=slirp4netns --trace -p 127.0.0.1:8080:80 --rootfs R httpd -f -p 80
"""

import fcntl
import os
import struct

# The C module under socket.py, for the one call the container side makes:
# socket.py converts its constants into enums at import, 1.5 ms of every
# start.
import _socket

from core import Fail
from core.execvp import which
from kernel import CLONE_NEWNET

NAME = "net"
SUMMARY = "own network stack: lo, user-mode or bridge networking, ports (--net, -p)"
CLONE_FLAGS = CLONE_NEWNET
OPTIONS = """
  --net=MODE           Network: none, slirp4netns, pasta, bridge (root), host,
                       or auto: pasta, else slirp4netns, else none (default:
                       none, or auto with -p).
  -p SPEC, --publish=SPEC
                       Publish a container port on the host:
                       [IP:]HOSTPORT:CONTAINERPORT[/tcp|/udp] (repeatable;
                       not with --net=none or host).
"""
REPEATABLE = ("-p SPEC",)

MODES = ("auto", "none", "slirp4netns", "pasta", "bridge", "host")
DEFAULT_MODE = "none"
PUBLISH_MODE = "auto"             # the default when -p is given
CHECK_OPTIONS = ("--net=none",)   # `unc check` runs that, then tries each of AUTO_ORDER
AUTO_ORDER = ("pasta", "slirp4netns")
# The module of each mode that needs work on the host, imported only when
# that mode is used, and the programs it runs.
BACKENDS = {"slirp4netns": ("network.slirp4netns", ("slirp4netns",)),
            "pasta": ("network.pasta", ("pasta",)),
            "bridge": ("network.bridge", ("ip", "nsenter"))}

# <linux/sockios.h>, <net/if.h>
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IFREQ = "16sh22x"                # struct ifreq: name, then ifr_flags in a 24-byte union


class State:
    """The mode chosen, why auto passed over the others, and its backend."""

    def __init__(self):
        self.mode = DEFAULT_MODE
        self.reasons = []
        self.backend = None
        self.ports = []          # the -p values (network/ports.py Publish)


def choose_mode(run, requested):
    """The mode to use for --net=requested, and why auto passed over others."""
    if requested in ("none", "host"):
        return requested, []
    # Only the modes that need the host's help look at what it offers.
    from network import host
    from network.host import NO_ROUTE, PROGRAMS, TUN
    if requested == "auto":
        reasons = []
        problem = host.tun_problem()
        for mode in AUTO_ORDER:
            program, package = PROGRAMS[mode]
            path = which(program)
            if path is None:
                reasons.append(f"{program} is not installed (Debian package {package})")
            elif problem:
                said = any(TUN in r for r in reasons)
                reasons.append(f"{program} needs it too" if said
                               else f"{program} needs {TUN}, {problem}")
            elif mode == "pasta" and not host.default_route():
                reasons.append(NO_ROUTE)
            else:
                found = f"{program} found at {path} and {TUN} can be opened"
                run.trace(f"--net=auto: {'; '.join(reasons + [found])}: using {mode}")
                return mode, reasons
        run.trace(f"--net=auto: {'; '.join(reasons)}: using none")
        return "none", reasons
    if requested in AUTO_ORDER:
        host.need_program(requested, requested)
        problem = host.tun_problem()
        if problem:
            raise Fail(f"--net={requested} needs {TUN}, {problem}")
        if requested == "pasta" and not host.default_route():
            raise Fail(f"--net=pasta cannot work here: {NO_ROUTE}; use --net=slirp4netns")
    if requested == "bridge" and os.geteuid() != 0:
        raise Fail("--net=bridge needs root: it creates a bridge and a veth pair in "
                   "the host's network namespace; as a user, use --net=slirp4netns "
                   "or --net=pasta")
    return requested, []


def prepare(run, me):
    requested = run.opts.get("--net")
    if requested is not None and requested not in MODES:
        raise Fail(f"invalid --net {requested!r}: use one of {', '.join(MODES)}")
    ports = []
    if run.opts.get("--publish"):
        from network.ports import check_host_port, parse_publishes
        ports = me.ports = parse_publishes(run.opts["--publish"])
    if requested is None:
        requested = PUBLISH_MODE if ports else DEFAULT_MODE
    me.mode, me.reasons = choose_mode(run, requested)
    if me.mode == "host":
        # No network namespace: the one flag this stage added goes again.
        run.flags &= ~CLONE_NEWNET
    if ports and me.mode in ("none", "host"):
        if requested == "auto":
            raise Fail("--publish needs pasta or slirp4netns, and neither can run here: "
                       + "; ".join(me.reasons))
        raise Fail(f"--publish cannot work with --net={me.mode}: "
                   + ("the container uses the host's ports directly"
                      if me.mode == "host" else "the container has no link to the host")
                   + "; use --net=pasta or --net=slirp4netns")
    if me.mode not in BACKENDS:
        return
    from network.host import need_program
    module, programs = BACKENDS[me.mode]
    paths = {name: need_program(me.mode, name) for name in programs}
    for p in ports:
        check_host_port(p)
    me.backend = __import__(module, fromlist=["Backend"]).Backend(ports, paths)
    from network import dns
    covered = run.plan.user_mount_over(dns.RESOLV_CONF) if run.plan else None
    if covered:
        run.trace(f"{dns.RESOLV_CONF}: left to the user's {covered}")
        return
    text = me.backend.resolv_conf(dns.read())
    if text is not None and run.plan is not None:
        run.plan.add(dns.ResolvConf(text))


def host_setup(run, me):
    if me.backend:
        me.backend.start(run)


def container_setup(run, me):
    if me.mode != "host":
        loopback_up(run)


def loopback_up(run):
    """ifconfig lo up: read the flags of lo, set them again with IFF_UP."""
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        request = struct.pack(IFREQ, b"lo", 0)
        flags = struct.unpack(IFREQ, fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, request))[1]
        if flags & IFF_UP:
            # slirp4netns and pasta configure lo along with their TAP.
            run.trace(f'ioctl(SIOCGIFFLAGS, "lo") -> {flags:#x}: up already')
            return
        run.trace(f'ioctl(SIOCSIFFLAGS, "lo", {flags:#x}|IFF_UP)')
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP))
    finally:
        s.close()


def status(run, me):
    """What --json-status-fd reports of this stage once the command runs."""
    return {"net": me.mode,
            "ports": [{"host-ip": p.host_ip, "host-port": p.host_port,
                       "container-port": p.port, "protocol": p.proto} for p in me.ports]}


def cleanup(run, me):
    if me.backend:
        me.backend.stop(run)


def checked(run, me, attempt):
    """What `unc check` says of this stage, whose container ran with
    --net=none: which user-mode modes work, each tried in a container of its
    own (attempt(OPTION) runs one: its status, or Fail), and why the others
    do not. None of them working fails the check: -p needs one, and so do
    the modes a user asks for by name."""
    works, said = ["--net=none"], []
    for mode in AUTO_ORDER:
        option = f"--net={mode}"
        try:
            status = attempt(option)
            why = None if status == 0 else f"{option}: true exited {status}"
        except Fail as e:
            why = str(e)
        if why is None:
            works.append(mode)
            continue
        # The same cause as the mode before (an unusable /dev/net/tun): once.
        for other, text in said:
            if why.startswith(option + " needs ") and why[len(option):] == text[len(other):]:
                why = f"{option} needs it too"
        said.append((option, why))
    reasons = "; ".join(why for _, why in said)
    if len(works) == 1:
        raise Fail(f"-p, {' and '.join(option for option, _ in said)} cannot work here, "
                   f"only --net=none: {reasons}")
    verdict = f"{', '.join(works[:-1])} and {works[-1]} work"
    return f"{verdict}; {reasons}" if reasons else verdict


def facts(attempt):
    """What `unc check` reports of what this stage needs (docs/check.md):
    the tun device, and pasta and slirp4netns with their versions and
    whether a container with each works (attempt, as for checked)."""
    from network import facts
    return facts.facts(attempt, AUTO_ORDER)
