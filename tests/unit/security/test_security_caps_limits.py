"""security/caps.py and security/limits.py: names and values as users give
them, and the sets applied to a real child process."""

import os

import pytest

from core import Fail
from security import caps, limits


def test_names_with_or_without_cap_and_all():
    assert caps.parse(["net_admin", "CAP_SYS_ADMIN"]) == {12, 21}
    assert caps.parse(["ALL"]) == set(range(len(caps.NAMES)))
    assert len(caps.DEFAULT) == 14
    with pytest.raises(Fail, match="'CAP_FLY'"):
        caps.parse(["CAP_FLY"], "--cap-add")


def test_apply_sets_what_proc_shows():
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            import ctypes
            ctypes.CDLL(None).unshare(0x10000000)        # CLONE_NEWUSER: full caps there
            caps.apply(bounding=caps.DEFAULT)
            kept = caps.parse(["CHOWN", "KILL"])
            caps.apply(effective=kept, permitted=kept, inheritable=(), ambient=())
            with open("/proc/self/status") as f:
                os.write(w, f.read().encode())
        finally:
            os._exit(0)
    os.close(w)
    status = os.read(r, 65536).decode()
    os.waitpid(pid, 0)
    fields = dict(line.split(":\t") for line in status.splitlines() if ":\t" in line)
    assert int(fields["CapBnd"], 16) == caps.mask(caps.DEFAULT)
    assert int(fields["CapEff"], 16) == int(fields["CapPrm"], 16) == 0b100001
    assert int(fields["CapInh"], 16) == int(fields["CapAmb"], 16) == 0


@pytest.mark.parametrize("spec,want", [
    ("nofile=1024:2048", (7, 1024, 2048)),
    ("nproc=10", (6, 10, 10)),
    ("core=0:unlimited", (4, 0, limits.INFINITY)),
])
def test_ulimit_values(spec, want):
    assert limits.parse_ulimit(spec) == want


@pytest.mark.parametrize("spec,words", [
    ("nofile", "NAME=SOFT"), ("files=1", "unknown limit 'files'"),
    ("nofile=x", "'x' is not a number"), ("nofile=10:5", "soft limit is above"),
])
def test_bad_ulimits(spec, words):
    with pytest.raises(Fail, match=words):
        limits.parse_ulimit(spec)


def test_sizes():
    assert limits.parse_size("512m", "--memory") == 512 << 20
    with pytest.raises(Fail):
        limits.parse_size("lots", "--memory")


def test_a_stack_too_small_for_unc_s_own_setup_is_refused():
    # Found by tests/property: --ulimit stack=1024:2048 killed PID 1 (139).
    from security import limits
    with pytest.raises(Fail, match=r"^invalid --ulimit 'stack=1024:2048': a stack below 1024 KiB"):
        limits.parse_ulimit("stack=1024:2048")
    assert limits.parse_ulimit("stack=8388608")[1] == 8388608
