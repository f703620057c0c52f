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
      - slirp4netns (Debian package slirp4netns) runs libslirp, the TCP/IP
        stack of QEMU's user networking. The container gets 10.0.2.100/24 on
        tap0; the gateway 10.0.2.2 leads to the host's 127.0.0.1, and
        10.0.2.3 forwards DNS. Published ports are added on its API socket
        ({"execute": "add_hostfwd", ...}).
      - pasta (Debian package passt) maps frames to sockets without a TCP
        stack of its own and copies the host's address and routes into the
        namespace; the default gateway's address leads to the host's
        127.0.0.1. Published ports are its -t/-u options.
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
    slirp4netns, which unc removes as soon as the ports are published.

    The helper must not outlive the container:
      - it gets a parent-death signal, prctl(PR_SET_PDEATHSIG, SIGKILL), set
        between fork and exec, so it dies with unc even when unc is
        SIGKILLed. The kernel clears that signal when the process changes
        its uid: pasta run by root would switch to "nobody" (and then could
        not join the container's user namespace either), so unc gives it
        --runas 0;
      - slirp4netns also gets --exit-fd, a pipe whose other end only unc
        holds: the kernel closes it however unc ends, and slirp4netns exits;
      - unc kills and reaps it after the container ended. The container's
        network namespace would not end on its own: the helper holds it.
        The kernel takes a while (15 to 40 ms here) to remove the TAP when
        the helper's descriptor closes; unc waits for that, so that nothing
        of the container is left when unc returns.

The bridge (root)
    unc runs what unet did with ip(8) from iproute2, which --trace shows:
    the bridge unc0 (created if missing; it stays, like docker0), a veth
    pair whose host end is named uncvN and whose other end is created
    directly in the container's namespace as eth0, then, through
    nsenter(1), the address 10.100.42.N/24 and a default route via
    10.100.42.1. The name carries the address: the kernel refuses a second
    interface called uncvN, so two containers starting at once can never
    get the same address, and no lock file is needed (a lock file would
    outlive a SIGKILLed unc; the interface does not: deleting a network
    namespace deletes its veth pairs, so a dead container's address is free
    again). There is no NAT: the container reaches the host, not the world,
    unless the administrator routes 10.100.42.0/24.

Published ports
    Checked before anything starts: ports 1-65535, an IPv4 address, and
    the host port must be free (unc binds it once and lets go, as the helper
    will bind it). slirp4netns and pasta bind the host port themselves. In
    bridge mode a small forwarder (forwarder.py), a child of unc with the
    same parent-death signal, accepts on the host port and relays to the
    container's address.
    Rules in iptables/nftables (DNAT) would forward faster, but need those
    tools, change the host's firewall for everyone, do not apply to traffic
    to 127.0.0.1 without the route_localnet sysctl, and would stay behind if
    unc were SIGKILLed; the forwarder cannot. (Debian 12's pasta, a 2023-03
    snapshot, loses UDP replies to clients on the host's loopback; TCP and
    the way in are fine.)

DNS
    With slirp4netns and pasta the container gets its own /etc/resolv.conf,
    bind-mounted over the root's (whose file is never changed): nameserver
    10.0.2.3 for slirp4netns; for pasta the host's own file when it names a
    nameserver that is not on the host's loopback, else an address that
    pasta forwards to the host's first nameserver (--dns-forward). The file
    is written on the mount stage's private staging tmpfs, so nothing is
    left on the host either. A root without /etc/resolv.conf gets an empty
    mount point, like any other mount destination; where that cannot be
    created (the host's / read-only, a rootfs of another user), the
    container runs with the root's DNS setup and --trace says so.

Try it
    unc --net=none ip link
    unc --net=slirp4netns --trace -p 127.0.0.1:8080:80 --rootfs R httpd -f -p 80
"""

import errno
import fcntl
import os
import select
import struct

# The signal module's functions and constants as plain ints (kernel.py).
import _signal as signal

# The C module under socket.py, for the two calls the container side makes:
# socket.py converts its constants into enums at import, 1.5 ms of every
# start. The host-side paths that need more import socket when they run.
import _socket
import sys

import kernel
import frozen
from kernel import CLONE_NEWNET
from stages import Fail, mount

NAME = "net"
SUMMARY = "own network stack: lo, user-mode or bridge networking, ports (--net, -p)"
CLONE_FLAGS = CLONE_NEWNET
OPTIONS = ("--net", "--publish")

MODES = ("auto", "none", "slirp4netns", "pasta", "bridge", "host")
DEFAULT_MODE = "none"
PUBLISH_MODE = "auto"             # the default when -p is given
CHECK_OPTIONS = ("--net=auto",)   # `unc check` tries the best mode there is
AUTO_ORDER = ("pasta", "slirp4netns")

# The program each helper mode runs, and the Debian package that has it.
PROGRAMS = {"slirp4netns": ("slirp4netns", "slirp4netns"),
            "pasta": ("pasta", "passt"),
            "ip": ("ip", "iproute2"),
            "nsenter": ("nsenter", "util-linux")}
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TUN = "/dev/net/tun"

SLIRP_ADDRESS = "10.0.2.100"
SLIRP_DNS = "10.0.2.3"
PASTA_DNS = "169.254.1.1"        # an address pasta forwards to the host's resolver

BRIDGE = "unc0"
BRIDGE_NET = "10.100.42"
BRIDGE_ADDRESS = BRIDGE_NET + ".1"
VETH_PREFIX = "uncv"             # uncvN is the host end for 10.100.42.N

NO_ROUTE = ("pasta copies the host's address and default route, and the host has "
            "no default route")

READY_TIMEOUT = 30               # seconds a helper may take to configure
RESOLV_CONF = "/etc/resolv.conf"

# <linux/sockios.h>, <net/if.h>
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IFREQ = "16sh22x"                # struct ifreq: name, then ifr_flags in a 24-byte union


# ------------------------------------------------------------- options

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


def find_program(name, path=None):
    """The full path of a program, as execvp(3) would find it, or None."""
    for directory in (path or os.environ.get("PATH") or SEARCH_PATH).split(":"):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def tun_problem():
    """Why this user cannot open /dev/net/tun ("which ..."), or None."""
    try:
        os.close(os.open(TUN, os.O_RDWR | os.O_CLOEXEC))
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EPERM):
            return (f"which you may not open (it is mode {_mode(TUN)}); as root, run "
                    f"chmod 666 {TUN}, as Debian's udev rules do on an ordinary host")
        if e.errno == errno.ENOENT:
            return ("which does not exist; as root, load the tun module (modprobe tun) "
                    f"or create it (mknod -m 666 {TUN} c 10 200)")
        return f"which cannot be opened: {e.strerror}"
    return None


def default_route():
    """Whether this network namespace has a default route, IPv4 or IPv6.

    pasta copies the host's address and default route into the container
    and refuses to start without one ("External interface not usable");
    slirp4netns has its own network and does not care.
    """
    try:
        with open("/proc/net/route") as f:
            for fields in (line.split() for line in f.readlines()[1:]):
                # Destination and Mask 0: the default route; flag RTF_UP.
                if (len(fields) > 7 and fields[1] == fields[7] == "00000000"
                        and int(fields[3], 16) & 0x1):
                    return True
        with open("/proc/net/ipv6_route") as f:
            for fields in (line.split() for line in f):
                # ::/0, not the "unreachable" one on lo (RTF_REJECT, 0x200).
                if (len(fields) > 9 and fields[0] == "0" * 32 and fields[1] == "00"
                        and fields[9] != "lo" and not int(fields[8], 16) & 0x200):
                    return True
    except (OSError, ValueError):
        pass
    return False


def _mode(path):
    try:
        return oct(os.stat(path).st_mode & 0o7777)[2:].zfill(4)
    except OSError:
        return "unknown"


def _need_program(mode, name):
    program, package = PROGRAMS[name]
    path = find_program(program)
    if path is None:
        raise Fail(f"--net={mode} needs the program {program}, which is not installed; "
                   f"install the Debian package {package} (apt-get install {package})")
    return path


def choose_mode(run, requested):
    """The mode to use for --net=requested, and the helper program's path."""
    if requested == "auto":
        reasons = []
        problem = tun_problem()
        for mode in AUTO_ORDER:
            program, package = PROGRAMS[mode]
            path = find_program(program)
            if path is None:
                reasons.append(f"{program} is not installed (Debian package {package})")
            elif problem:
                said = any(TUN in r for r in reasons)
                reasons.append(f"{program} needs it too" if said
                               else f"{program} needs {TUN}, {problem}")
            elif mode == "pasta" and not default_route():
                reasons.append(NO_ROUTE)
            else:
                found = f"{program} found at {path} and {TUN} can be opened"
                run.trace(f"--net=auto: {'; '.join(reasons + [found])}: using {mode}")
                return mode, path, reasons
        run.trace(f"--net=auto: {'; '.join(reasons)}: using none")
        return "none", None, reasons
    if requested in AUTO_ORDER:
        path = _need_program(requested, requested)
        problem = tun_problem()
        if problem:
            raise Fail(f"--net={requested} needs {TUN}, {problem}")
        if requested == "pasta" and not default_route():
            raise Fail(f"--net=pasta cannot work here: {NO_ROUTE}; use --net=slirp4netns")
        return requested, path, []
    if requested == "bridge":
        if os.geteuid() != 0:
            raise Fail("--net=bridge needs root: it creates a bridge and a veth pair in "
                       "the host's network namespace; as a user, use --net=slirp4netns "
                       "or --net=pasta")
        run.net_nsenter = _need_program("bridge", "nsenter")
        return requested, _need_program("bridge", "ip"), []
    return requested, None, []


# ------------------------------------------------------------- prepare

def prepare(run):
    requested = run.opts.get("--net")
    if requested is not None and requested not in MODES:
        raise Fail(f"invalid --net {requested!r}: use one of {', '.join(MODES)}")
    ports = parse_publishes(run.opts.get("--publish") or [])
    if requested is None:
        requested = PUBLISH_MODE if ports else DEFAULT_MODE
    mode, program, reasons = choose_mode(run, requested)
    run.net_mode, run.net_program, run.net_ports = mode, program, ports
    run.net_reasons = reasons
    if mode == "host":
        # No network namespace: the one flag this stage added goes again.
        run.flags &= ~CLONE_NEWNET
    if ports and mode in ("none", "host"):
        if requested == "auto":
            raise Fail("--publish needs pasta or slirp4netns, and neither can run here: "
                       + "; ".join(reasons))
        raise Fail(f"--publish cannot work with --net={mode}: "
                   + ("the container uses the host's ports directly"
                      if mode == "host" else "the container has no link to the host")
                   + "; use --net=pasta or --net=slirp4netns")
    for p in ports:
        check_host_port(p)
    run.net_dns_forward = None
    if mode in AUTO_ORDER:
        dns = resolv_conf(mode, _read(RESOLV_CONF))
        covered = user_mount_over(run.opts, RESOLV_CONF)
        if covered:
            run.trace(f"{RESOLV_CONF}: left to the user's {covered}")
        elif dns is not None:
            run.plan.add(ResolvConf(dns[0]))
            run.net_dns_forward = dns[1]


def user_mount_over(opts, path):
    """The user's --tmpfs or --volume that covers path, if any. The user's
    own mount wins: unc's, added to the plan after it, would cover it."""
    mounts = [(f"--tmpfs {d}", d) for d in opts.get("--tmpfs") or []]
    mounts += [(f"--volume {v}", mount.parse_volume(v)[1]) for v in opts.get("--volume") or []]
    for option, dest in mounts:
        dest = os.path.normpath(dest)
        if path == dest or path.startswith(dest.rstrip("/") + "/"):
            return option
    return None


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def resolv_conf(mode, host_text):
    """(/etc/resolv.conf for the container, pasta's --dns-forward address or
    None), or None to leave the root's file alone."""
    keep = [line for line in host_text.splitlines()
            if line.split()[:1] in (["search"], ["domain"], ["options"])]
    servers = [line.split()[1] for line in host_text.splitlines()
               if line.split()[:1] == ["nameserver"] and len(line.split()) > 1]
    if mode == "slirp4netns":
        return "\n".join([f"nameserver {SLIRP_DNS}"] + keep) + "\n", None
    if mode == "pasta":
        if not servers:
            return None
        if any(not _loopback(s) for s in servers):
            return host_text if host_text.endswith("\n") else host_text + "\n", None
        # Only resolvers on the host's loopback (systemd-resolved, dnsmasq):
        # unreachable from the container as they are.
        return "\n".join([f"nameserver {PASTA_DNS}"] + keep) + "\n", PASTA_DNS
    return None


def _loopback(address):
    return address.startswith("127.") or address == "::1"


class ResolvConf(mount.Bind):
    """/etc/resolv.conf for the helper's DNS, bound over the root's file.

    The file is written on the staging tmpfs that the mount stage mounts
    first, private to the container's mount namespace, so the root's file
    is never changed and nothing is left on the host.
    """

    def __init__(self, text):
        super().__init__(mount.STAGING + "/resolv.conf", RESOLV_CONF)
        self.text = text

    def open(self, ctx):
        pass                    # the source does not exist before execute()

    def execute(self, ctx):
        path = self.sources[0]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, self.text.encode())
        finally:
            os.close(fd)
        ctx.fds[path] = os.open(path, mount.O_PATH | os.O_CLOEXEC)
        try:
            super().execute(ctx)
        except OSError as e:
            if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            # The root has no /etc/resolv.conf and we may not create one
            # (the host's / read-only, or root running a user's rootfs):
            # the container still runs, with the root's DNS setup.
            ctx.run.trace(f"  cannot create {RESOLV_CONF} in the root ({e.strerror}): "
                          "left as the root has it")

    def describe(self):
        first = self.text.splitlines()[0] if self.text else ""
        return f'write {self.sources[0]} ("{first}", ...); ' + super().describe()


# ------------------------------------------------------------- host side

def checked(run):
    """What `unc check` says of this stage: the mode auto chose, and why
    when it is none (no user-mode networking here)."""
    if run.net_mode == "none" and run.net_reasons:
        return f"--net=auto uses none: {'; '.join(run.net_reasons)}"
    return f"--net=auto uses {run.net_mode}"


def host_setup(run):
    if run.net_mode == "slirp4netns":
        start_slirp4netns(run)
    elif run.net_mode == "pasta":
        start_pasta(run)
    elif run.net_mode == "bridge":
        setup_bridge(run)


def fork_tied():
    """fork(); the child dies with unc, however unc dies, and starts with
    the signal dispositions of a fresh process. Returns fork()'s value."""
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            # The kernel would clear this on a setuid exec or a change of
            # uid; none of the helpers is setuid (see --runas for pasta).
            kernel.prctl(kernel.PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:
                os._exit(1)                     # unc died before the prctl
            for signum in range(1, signal.NSIG):
                if signum not in (signal.SIGKILL, signal.SIGSTOP):
                    try:
                        # Python ignores SIGPIPE; an ignored signal stays
                        # ignored across execve, and pasta refuses to run so.
                        signal.signal(signum, signal.SIG_DFL)
                    except (OSError, ValueError):
                        pass
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
        except BaseException:
            os._exit(127)
    return pid


def spawn(run, argv, fds=()):
    """fork and exec argv on the host; fds become its 3, 4, ...

    Returns (pid, log): log is a memfd that holds the program's stdout and
    stderr, read back only to explain a failure (the user's stderr gets one
    line from unc, nothing from helpers).
    """
    log = os.memfd_create("unc-net-log", os.MFD_CLOEXEC)
    pid = fork_tied()
    if pid == 0:
        try:
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100) for fd in fds]
            null = os.open("/dev/null", os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(log, 1)
            os.dup2(log, 2)
            for number, fd in enumerate(high, 3):
                os.dup2(fd, number)
            # Nothing else of unc's leaks into the helper (fd 3 of a bats
            # test, the container's pipes).
            os.closerange(3 + len(high), os.sysconf("SC_OPEN_MAX"))
            os.execve(argv[0], argv, frozen.clean_environ(
                os.environ, getattr(sys, "frozen", False)))
        except BaseException:
            os._exit(127)
    run.trace(f"{' '.join(argv)}  (host pid {pid})")
    return pid, log


def log_text(log):
    """What a helper printed, without the noise of a missing syslog."""
    text = os.pread(log, 65536, 0).decode(errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()
             and "to syslog" not in line]
    return lines


def wait_ready(name, pid, fd, log):
    """The helper's ready message on fd (one write, so one read); Fail when
    the helper exits first, which closes its end."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    try:
        if not poller.poll(READY_TIMEOUT * 1000):
            stop(pid)
            raise Fail(f"{name} did not configure the network within {READY_TIMEOUT} s; "
                       "rerun with --trace")
        data = os.read(fd, 64)
    finally:
        os.close(fd)
    if data.strip():
        return data.decode(errors="replace").strip()
    stop(pid)
    lines = log_text(log)
    why = lines[-1] if lines else "it exited without a message"
    if "tun" in why.lower() and ("denied" in why.lower() or "permitted" in why.lower()):
        why += f"; it needs {TUN}, {tun_problem() or 'which it could not use'}"
    raise Fail(f"{name} could not set up the container's network: {why}")


def stop(pid):
    """SIGKILL a helper and reap it; no state of it outlives the process."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _private_dir():
    """A fresh directory only we can enter, for the API socket."""
    base = os.environ.get("XDG_RUNTIME_DIR") or ""
    if not base.startswith("/") or not os.path.isdir(base) or len(base) > 60:
        base = "/tmp"
    path = f"{base}/unc-net-{os.urandom(6).hex()}"
    os.mkdir(path, 0o700)
    return path


def start_slirp4netns(run):
    ready_r, ready_w = os.pipe()
    exit_r, exit_w = os.pipe()
    run.net_exit_fd = exit_w             # slirp4netns exits when this closes
    argv = [run.net_program, "--configure", "--mtu=65520", "--ready-fd=3", "--exit-fd=4"]
    if slirp_sandbox_works():
        # It parses the container's packets: let it see only /etc and /run
        # of the host, and only the system calls it needs.
        argv[2:2] = ["--enable-sandbox", "--enable-seccomp"]
    else:
        run.trace(f"slirp4netns without --enable-sandbox: {RESOLV_CONF} leads outside "
                  "/etc and /run, which its sandbox would hide")
    if run.net_ports:
        run.net_dir = _private_dir()
        argv.append(f"--api-socket={run.net_dir}/api.sock")
    argv += [str(run.pid), "tap0"]
    pid, log = spawn(run, argv, fds=(ready_w, exit_r))
    run.net_helper = pid
    os.close(ready_w)
    os.close(exit_r)
    try:
        wait_ready("slirp4netns", pid, ready_r, log)
        run.trace(f"slirp4netns (pid {pid}) is ready: tap0 {SLIRP_ADDRESS}/24, "
                  f"gateway 10.0.2.2, DNS {SLIRP_DNS}")
        for p in run.net_ports:
            slirp_hostfwd(run, f"{run.net_dir}/api.sock", p)
    finally:
        os.close(log)
        _remove_dir(run)


def slirp_sandbox_works(resolv_conf=RESOLV_CONF):
    """slirp4netns' sandbox keeps only /etc and /run of the host, and fails
    to start when /etc/resolv.conf is a symlink to anywhere else."""
    real = os.path.realpath(resolv_conf)
    return real.startswith(("/etc/", "/run/")) or not os.path.exists(real)


def slirp_hostfwd(run, path, p):
    """Publish a port through slirp4netns' API socket (one request a connection)."""
    import json     # only here, on the host: unc itself never changes its root
    import socket
    request = json.dumps({"execute": "add_hostfwd", "arguments": {
        "proto": p.proto, "host_addr": p.host_ip, "host_port": p.host_port,
        "guest_addr": SLIRP_ADDRESS, "guest_port": p.port}})
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


def _remove_dir(run):
    path = getattr(run, "net_dir", None)
    if path:
        try:
            os.unlink(f"{path}/api.sock")
        except OSError:
            pass
        try:
            os.rmdir(path)
        except OSError:
            pass
        run.net_dir = None


def pasta_args(ports, dns_forward, as_root):
    """pasta's options for these published ports, before the target pid."""
    args = ["-f", "-q", "--config-net"]
    if as_root:
        # Root's pasta would switch to "nobody": it could not join the
        # container's user namespace, and the parent-death signal would go.
        args += ["--runas", "0"]
    if dns_forward:
        args += ["--dns-forward", dns_forward]
    for flag, proto in (("-t", "tcp"), ("-u", "udp")):
        specs = [p for p in ports if p.proto == proto]
        if not specs:
            args += [flag, "none"]
        for p in specs:
            address = "" if p.host_ip == "0.0.0.0" else f"{p.host_ip}/"
            args += [flag, f"{address}{p.host_port}:{p.port}"]
    # Not the reverse: the host's ports would otherwise show up on the
    # container's own loopback.
    args += ["-T", "none", "-U", "none"]
    return args


def start_pasta(run):
    ready_r, ready_w = os.pipe()
    argv = ([run.net_program]
            + pasta_args(run.net_ports, run.net_dns_forward, os.geteuid() == 0)
            + ["-P", "/proc/self/fd/3", str(run.pid)])
    pid, log = spawn(run, argv, fds=(ready_w,))
    run.net_helper = pid
    os.close(ready_w)
    try:
        data = wait_ready("pasta", pid, ready_r, log)
    finally:
        os.close(log)
    run.trace(f"pasta (pid {data}) is ready: the host's address and "
              "routes copied; the gateway's address leads to the host's 127.0.0.1")


# ------------------------------------------------------------- bridge

def ip(run, *args, netns=None, check=True):
    """Run ip(8) on the host, or with nsenter in the container's network namespace."""
    argv = [run.net_program, *args]
    if netns:
        argv = [run.net_nsenter, f"--net=/proc/{netns}/ns/net"] + argv
    pid, log = spawn(run, argv)
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    lines = log_text(log)
    os.close(log)
    if status != 0 and check:
        raise Fail(f"{' '.join(argv)} failed: {lines[-1] if lines else status}")
    return status, lines


def setup_bridge(run):
    if not os.path.exists(f"/sys/class/net/{BRIDGE}"):
        status, lines = ip(run, "link", "add", BRIDGE, "type", "bridge", check=False)
        # Another unc may have created it in between: fine.
        if status != 0 and not os.path.exists(f"/sys/class/net/{BRIDGE}"):
            raise Fail(f"cannot create the bridge {BRIDGE}: {lines[-1] if lines else status}")
    # Both idempotent, so concurrent uncs need no lock here either.
    ip(run, "addr", "replace", f"{BRIDGE_ADDRESS}/24", "dev", BRIDGE)
    ip(run, "link", "set", BRIDGE, "up")
    for n in range(2, 255):
        veth = f"{VETH_PREFIX}{n}"
        if os.path.exists(f"/sys/class/net/{veth}"):
            continue
        status, lines = ip(run, "link", "add", veth, "type", "veth", "peer", "name",
                           "eth0", "netns", str(run.pid), check=False)
        if status == 0:
            break
        if not any("exists" in line for line in lines):
            raise Fail(f"cannot create a veth pair: {lines[-1] if lines else status}")
        # Lost the race for this address to another unc: take the next one.
    else:
        raise Fail(f"no free address left in {BRIDGE_NET}.0/24: 253 containers use "
                   f"{BRIDGE}; end some of them")
    run.net_veth = veth
    run.net_address = f"{BRIDGE_NET}.{n}"
    ip(run, "link", "set", veth, "master", BRIDGE, "up")
    ip(run, "addr", "add", f"{run.net_address}/24", "dev", "eth0", netns=run.pid)
    ip(run, "link", "set", "eth0", "up", netns=run.pid)
    ip(run, "route", "add", "default", "via", BRIDGE_ADDRESS, netns=run.pid)
    if run.net_ports:
        start_forwarder(run)


# A userspace port forwarder for bridge mode: a child of unc on the host.

def start_forwarder(run):
    listeners = []
    for p in run.net_ports:
        s = bind_host_port(p)
        if p.proto == "tcp":
            s.listen(64)
        s.setblocking(False)
        listeners.append((s, p))
        run.trace(f"bind({p.host_ip}:{p.host_port}/{p.proto}) -> forward to "
                  f"{run.net_address}:{p.port}")
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
            import forwarder          # on the host, in the forked relay only
            forwarder.Forwarder(listeners, run.net_address).loop()
        finally:
            os._exit(0)
    for s, _ in listeners:
        s.close()
    run.net_forwarder = pid
    run.trace(f"port forwarder started (pid {pid})")


# ------------------------------------------------------------- container side

def container_setup(run):
    if run.net_mode != "host":
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


# ------------------------------------------------------------- cleanup

def cleanup(run):
    """Undo host_setup, however far it got."""
    for attr in ("net_forwarder", "net_helper"):
        pid = getattr(run, attr, None)
        if pid:
            run.trace(f"kill({pid}, SIGKILL)  # {attr[4:]}")
            stop(pid)
            setattr(run, attr, None)
    exit_fd = getattr(run, "net_exit_fd", None)
    if exit_fd is not None:
        os.close(exit_fd)
        run.net_exit_fd = None
    _remove_dir(run)
    veth = getattr(run, "net_veth", None)
    if veth:
        # Deleting one end deletes the pair. When the container's namespace
        # is gone already, so is the pair: that is not an error.
        if os.path.exists(f"/sys/class/net/{veth}"):
            ip(run, "link", "del", veth, check=False)
        run.net_veth = None
