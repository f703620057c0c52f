"""Stage mount: the plan it builds from the options (checked against its
--trace lines, without touching the kernel), and its prepare hook."""

import os

import pytest

from core import Fail
from kernel import CLONE_NEWIPC, CLONE_NEWNS
from mounts.plan import Bind, Console, Proc, Symlink
from stages import mount
from stages.mount import build_plan

PIVOT = 'chdir("/tmp/newroot"); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir("/")'
PRIVATE = 'mount("none", "/", NULL, MS_REC|MS_PRIVATE)'
STAGING = 'mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID|MS_NODEV, "mode=700"); mkdir /tmp/newroot'
HOST_READ_ONLY = 'mount_setattr("/tmp/newroot/", AT_RECURSIVE, MOUNT_ATTR_RDONLY)'
ROOT_READ_ONLY = 'mount_setattr("/tmp/newroot/", 0, MOUNT_ATTR_RDONLY)'
FRESH_PROC = 'mount("proc", "/tmp/newroot/proc", "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC)'
HOST_PROC = 'mount("/proc", "/tmp/newroot/proc", NULL, MS_BIND|MS_REC)'
DEV = 'mount("tmpfs", "/tmp/newroot/dev", "tmpfs", MS_NOSUID|MS_NOEXEC, "mode=755,size=64k")'
DEVPTS = ('mount("devpts", "/tmp/newroot/dev/pts", "devpts", MS_NOSUID|MS_NOEXEC, '
          '"newinstance,ptmxmode=0666,mode=620")')
SHM = 'mount("tmpfs", "/tmp/newroot/dev/shm", "tmpfs", MS_NOSUID|MS_NODEV, "mode=1777")'
SYS = 'mount("/sys", "/tmp/newroot/sys", NULL, MS_BIND|MS_REC); made read-only (AT_RECURSIVE)'
TMP = 'mount("tmpfs", "/tmp/newroot/tmp", "tmpfs", MS_NOSUID|MS_NODEV, "mode=1777")'


def bind_root(source):
    return f'mount("{source}", "/tmp/newroot", NULL, MS_BIND|MS_REC)'


def opts(**kw):
    base = {"--rootfs": None, "--volume": [], "--tmpfs": [], "--read-only": False,
            "--bind-proc": False}
    base.update({"--" + k.replace("_", "-"): v for k, v in kw.items()})
    return base


def in_order(lines, *wanted):
    """Every line of `wanted` is in `lines`, in that order."""
    positions = [lines.index(line) for line in wanted]
    return positions == sorted(positions)


def test_flags_and_options():
    assert mount.CLONE_FLAGS == CLONE_NEWNS | CLONE_NEWIPC
    assert mount.REPEATABLE == ("-v SPEC", "--tmpfs=DST")
    assert mount.DEVICES == ("null", "zero", "full", "random", "urandom", "tty")


def test_host_root_plan_order():
    lines = build_plan(opts(), None, "/home/u").describe()
    assert lines[:4] == [PRIVATE, STAGING, bind_root("/"), HOST_READ_ONLY]
    assert lines[-2:] == [PIVOT, 'chdir("/home/u")']
    # Read-only comes before anything is mounted on top of the host tree.
    assert in_order(lines, HOST_READ_ONLY, FRESH_PROC)
    assert TMP in lines


def test_rootfs_plan_has_no_host_readonly_and_starts_in_root():
    lines = build_plan(opts(rootfs="/r"), "/r", "/home/u").describe()
    assert lines[2] == bind_root("/r")
    assert not any(line.startswith("mount_setattr(") for line in lines)
    assert lines[-1] == 'chdir("/")'
    # No tmpfs /tmp over the user's rootfs unless it is read-only.
    assert not any('"/tmp/newroot/tmp"' in line for line in lines)


def test_read_only_rootfs_remounts_the_root_last_and_adds_tmp():
    plan = build_plan(opts(rootfs="/r", read_only=True), "/r", "/")
    lines = plan.describe()
    assert lines[-3:] == [ROOT_READ_ONLY, PIVOT, 'chdir("/")']
    assert HOST_READ_ONLY not in lines
    assert TMP in lines and in_order(lines, TMP, ROOT_READ_ONLY)


def test_dev_has_devices_pts_shm_and_links():
    plan = build_plan(opts(rootfs="/r"), "/r", "/")
    lines = plan.describe()
    binds = [line for line in lines if '"/tmp/newroot/dev/' in line and "MS_BIND" in line]
    assert binds == [f'mount("/dev/{d}", "/tmp/newroot/dev/{d}", NULL, MS_BIND|MS_REC)'
                     for d in mount.DEVICES]
    assert [op.dest for op in plan if type(op) is Bind] == [f"/dev/{d}" for d in mount.DEVICES]
    assert in_order(lines, DEV, *binds, DEVPTS, SHM)
    assert 'symlink("pts/ptmx", "/tmp/newroot/dev/ptmx")' in lines
    assert 'symlink("/proc/self/fd", "/tmp/newroot/dev/fd")' in lines
    links = {op.dest: op.link for op in plan if isinstance(op, Symlink)}
    assert links["/dev/ptmx"] == "pts/ptmx" and links["/dev/fd"] == "/proc/self/fd"
    assert in_order(lines, DEV, 'symlink("pts/ptmx", "/tmp/newroot/dev/ptmx")')


CONSOLE = 'mount("/dev/pts/7", "/tmp/newroot/dev/console", NULL, MS_BIND|MS_REC)'


def test_the_callers_terminal_is_bound_on_dev_console_when_there_is_one():
    plan = build_plan(opts(rootfs="/r"), "/r", "/", console="/dev/pts/7")
    consoles = [op for op in plan if isinstance(op, Console)]
    assert [op.dest for op in consoles] == ["/dev/console"]
    assert [op.sources for op in consoles] == [("/dev/pts/7",)]
    lines = plan.describe()
    assert in_order(lines, DEV, CONSOLE)
    without = build_plan(opts(rootfs="/r"), "/r", "/").describe()
    assert not any("/tmp/newroot/dev/console" in line for line in without)


def test_devpts_options_work_without_gid_5():
    plan = build_plan(opts(rootfs="/r"), "/r", "/")
    devpts = next(op for op in plan if getattr(op, "fstype", None) == "devpts")
    assert "newinstance" in devpts.data and "ptmxmode=0666" in devpts.data
    assert "gid=" not in devpts.data
    assert DEVPTS in plan.describe()


def test_proc_is_fresh_unless_bind_proc():
    fresh = next(op for op in build_plan(opts(), None, "/") if isinstance(op, Proc))
    assert not fresh.bind_host and fresh.sources == ()
    bound = next(op for op in build_plan(opts(bind_proc=True), None, "/") if isinstance(op, Proc))
    assert bound.bind_host and bound.sources == ("/proc",)
    assert FRESH_PROC in build_plan(opts(), None, "/").describe()
    lines = build_plan(opts(bind_proc=True), None, "/").describe()
    assert HOST_PROC in lines and FRESH_PROC not in lines


def test_sys_is_the_hosts_read_only_until_the_plan_runs_with_a_network_namespace():
    assert SYS in build_plan(opts(), None, "/").describe()


def test_user_mounts_come_after_system_mounts_parents_first(tmp_path):
    src = str(tmp_path)
    plan = build_plan(opts(rootfs="/r", volume=[f"{src}:/a/b/c", f"{src}:/a:ro"],
                           tmpfs=["/a/b"]), "/r", "/")
    lines = plan.describe()
    a = (f'mount("{src}", "/tmp/newroot/a", NULL, MS_BIND|MS_REC); mount("none", '
         '"/tmp/newroot/a", NULL, MS_RDONLY|MS_REMOUNT|MS_BIND) + locked flags')
    ab = 'mount("tmpfs", "/tmp/newroot/a/b", "tmpfs", MS_NOSUID|MS_NODEV, "mode=755")'
    abc = f'mount("{src}", "/tmp/newroot/a/b/c", NULL, MS_BIND|MS_REC)'
    assert [line for line in lines if '"/tmp/newroot/a' in line] == [a, ab, abc]
    assert in_order(lines, SYS, a, ab, abc, PIVOT)
    assert plan.user == [(f"--volume {src}:/a:ro", "/a"), ("--tmpfs /a/b", "/a/b"),
                         (f"--volume {src}:/a/b/c", "/a/b/c")]


@pytest.mark.parametrize("dest", ["relative", "/", "/..", "//"])
def test_bad_tmpfs(dest):
    with pytest.raises(Fail):
        build_plan(opts(rootfs="/r", tmpfs=[dest]), "/r", "/")


def test_bad_volume_stops_the_plan():
    with pytest.raises(Fail, match="does not exist"):
        build_plan(opts(volume=["/no/such/dir:/x"]), None, "/")


# ---------------------------------------------------------------- prepare

def test_prepare_rejects_missing_rootfs_and_read_only_without_rootfs(tmp_path, prepared):
    run, me = prepared("--stage=mount", f"--rootfs={tmp_path / 'missing'}")
    with pytest.raises(Fail, match="does not exist"):
        mount.prepare(run, me)
    (tmp_path / "file").write_text("")
    run, me = prepared("--stage=mount", f"--rootfs={tmp_path / 'file'}")
    with pytest.raises(Fail, match="not a directory"):
        mount.prepare(run, me)
    run, me = prepared("--stage=mount", "--rootfs=")
    with pytest.raises(Fail, match="invalid --rootfs ''"):
        mount.prepare(run, me)
    run, me = prepared("--stage=mount", "--read-only")
    with pytest.raises(Fail, match="--read-only needs --rootfs"):
        mount.prepare(run, me)
    assert run.plan is None


def test_relative_rootfs_is_made_absolute(tmp_path, monkeypatch, prepared):
    (tmp_path / "r").mkdir()
    monkeypatch.chdir(tmp_path)
    run, me = prepared("--stage=mount", "--rootfs=r")
    mount.prepare(run, me)
    absolute = os.path.join(str(tmp_path), "r")
    assert me.rootfs == absolute
    assert bind_root(absolute) in run.plan.describe()
    assert run.opts["--rootfs"] == "r"                 # the command line stays as given


def test_without_rootfs_the_plan_is_the_hosts_root_in_the_callers_directory(
        tmp_path, monkeypatch, prepared):
    monkeypatch.chdir(tmp_path)
    run, me = prepared("--stage=mount")
    mount.prepare(run, me)
    assert me.rootfs is None
    lines = run.plan.describe()
    assert bind_root("/") in lines and HOST_READ_ONLY in lines
    assert lines[-1] == f'chdir("{tmp_path}")'
