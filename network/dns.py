"""The container's /etc/resolv.conf under user-mode networking.

Used by the backends (their resolv_conf) and the net stage, which adds
ResolvConf to the mount plan. The file is written on the mount stage's
staging tmpfs, private to the container's mount namespace, and bound over
the root's: the root's file is never changed and nothing is left on the
host. What each mode gets: nameserver 10.0.2.3 for slirp4netns; for pasta
the host's own file when it names a nameserver that is not on the host's
loopback, else an address that pasta forwards to the host's first
nameserver (--dns-forward). A root without /etc/resolv.conf gets an empty
mount point, like any other mount destination; where that cannot be
created (the host's / read-only, a rootfs of another user), the container
runs with the root's DNS setup and --trace says so.
"""

import errno
import os

from mounts.plan import STAGING, Bind

RESOLV_CONF = "/etc/resolv.conf"


def read(path=RESOLV_CONF):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def kept_lines(text):
    """The search, domain and options lines of a resolv.conf."""
    return [line for line in text.splitlines()
            if line.split()[:1] in (["search"], ["domain"], ["options"])]


def nameservers(text):
    return [line.split()[1] for line in text.splitlines()
            if line.split()[:1] == ["nameserver"] and len(line.split()) > 1]


def with_nameserver(address, text):
    """A resolv.conf naming only `address`, keeping `text`'s search lines."""
    return "\n".join([f"nameserver {address}"] + kept_lines(text)) + "\n"


def loopback(address):
    return address.startswith("127.") or address == "::1"


class ResolvConf(Bind):
    """/etc/resolv.conf for the helper's DNS, bound over the root's file."""

    def __init__(self, text):
        super().__init__(STAGING + "/resolv.conf", RESOLV_CONF)
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
        ctx.fds[path] = os.open(path, os.O_PATH | os.O_CLOEXEC)
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
