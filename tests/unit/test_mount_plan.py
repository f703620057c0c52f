"""The mount plan, built from options without touching the kernel."""

import os

import pytest
from hypothesis import given, strategies as st

from stages import Fail, mount
from stages.mount import (Bind, BindRoot, Chdir, Console, Context, MakePrivate, Mount,
                          PivotRoot, Proc, ReadOnly, Staging, Symlink, Sysfs, build_plan,
                          parse_volume)


def opts(**kw):
    base = {"--rootfs": None, "--volume": [], "--tmpfs": [], "--read-only": False,
            "--bind-proc": False}
    base.update({"--" + k.replace("_", "-"): v for k, v in kw.items()})
    return base


def kinds(plan):
    return [type(op).__name__ for op in plan]


def test_host_root_plan_order():
    plan = build_plan(opts(), "/home/u")
    names = kinds(plan)
    assert names[:4] == ["MakePrivate", "Staging", "BindRoot", "ReadOnly"]
    assert names[-2:] == ["PivotRoot", "Chdir"]
    # Read-only comes before anything is mounted on top of the host tree.
    assert names.index("ReadOnly") < names.index("Proc")
    assert plan.ops[2].sources == ("/",)
    assert plan.enter[-1].path == "/home/u"


def test_rootfs_plan_has_no_host_readonly_and_starts_in_root():
    plan = build_plan(opts(rootfs="/r"), "/home/u")
    assert plan.ops[2].sources == ("/r",)
    assert not any(isinstance(op, ReadOnly) for op in plan)
    assert plan.enter[-1].path == "/"
    # No tmpfs /tmp over the user's rootfs unless it is read-only.
    assert not any(isinstance(op, Mount) and op.dest == "/tmp" for op in plan)


def test_read_only_rootfs_remounts_the_root_last_and_adds_tmp():
    plan = build_plan(opts(rootfs="/r", read_only=True), "/")
    assert isinstance(plan.enter[0], ReadOnly) and not plan.enter[0].recursive
    assert any(isinstance(op, Mount) and op.dest == "/tmp" for op in plan.ops)


def test_dev_has_devices_pts_shm_and_links():
    plan = build_plan(opts(rootfs="/r"), "/")
    binds = [op.dest for op in plan if isinstance(op, Bind)]
    assert binds == [f"/dev/{d}" for d in mount.DEVICES]
    fs = [(op.fstype, op.dest) for op in plan if type(op) is Mount]
    assert ("tmpfs", "/dev") in fs and ("devpts", "/dev/pts") in fs and ("tmpfs", "/dev/shm") in fs
    assert fs.index(("tmpfs", "/dev")) < fs.index(("devpts", "/dev/pts"))
    links = {op.dest: op.target for op in plan if isinstance(op, Symlink)}
    assert links["/dev/ptmx"] == "pts/ptmx" and links["/dev/fd"] == "/proc/self/fd"


def test_the_callers_terminal_is_bound_on_dev_console_when_there_is_one():
    plan = build_plan(opts(rootfs="/r"), "/", console="/dev/pts/7")
    consoles = [op for op in plan if isinstance(op, Console)]
    assert [op.dest for op in consoles] == ["/dev/console"]
    assert [op.sources for op in consoles] == [("/dev/pts/7",)]
    ops = list(plan)
    assert ops.index(consoles[0]) > next(i for i, op in enumerate(ops)
                                         if type(op) is Mount and op.dest == "/dev")
    assert not any(isinstance(op, Bind) and op.dest == "/dev/console"
                   for op in build_plan(opts(rootfs="/r"), "/"))


class Traced:
    def __init__(self):
        self.lines = []

    def trace(self, message):
        self.lines.append(message)


def test_a_terminal_that_cannot_be_opened_leaves_no_console_but_starts():
    run = Traced()
    ctx = Context(run)
    op = Console("/dev/pts/no-such-terminal")
    op.open(ctx)                       # no Fail: a convenience only
    op.execute(ctx)
    assert run.lines == ["  no /dev/console: cannot open /dev/pts/no-such-terminal: "
                         "No such file or directory"]
    ctx.close()


def test_devpts_options_work_without_gid_5():
    plan = build_plan(opts(rootfs="/r"), "/")
    devpts = next(op for op in plan if getattr(op, "fstype", None) == "devpts")
    assert "newinstance" in devpts.data and "ptmxmode=0666" in devpts.data
    assert "gid=" not in devpts.data


def test_proc_is_fresh_unless_bind_proc():
    fresh = next(op for op in build_plan(opts(), "/") if isinstance(op, Proc))
    assert not fresh.bind_host and fresh.sources == ()
    bound = next(op for op in build_plan(opts(bind_proc=True), "/") if isinstance(op, Proc))
    assert bound.bind_host and bound.sources == ("/proc",)


def test_user_mounts_come_after_system_mounts_parents_first(tmp_path):
    src = str(tmp_path)
    plan = build_plan(opts(rootfs="/r", volume=[f"{src}:/a/b/c", f"{src}:/a:ro"],
                           tmpfs=["/a/b"]), "/")
    user = [op for op in plan.ops if getattr(op, "dest", "").startswith("/a")]
    assert [op.dest for op in user] == ["/a", "/a/b", "/a/b/c"]
    last_system = max(i for i, op in enumerate(plan.ops) if isinstance(op, Sysfs))
    assert plan.ops.index(user[0]) > last_system
    assert user[0].readonly is True


def test_add_inserts_before_the_root_changes():
    plan = build_plan(opts(rootfs="/r"), "/")
    extra = Bind("/etc/hosts", "/etc/hosts", readonly=True)
    plan.add(extra)
    ops = list(plan)
    assert ops.index(extra) < ops.index(next(op for op in ops if isinstance(op, PivotRoot)))


def test_every_op_describes_itself():
    plan = build_plan(opts(rootfs="/r", read_only=True, tmpfs=["/t"]), "/")
    for op in plan:
        text = op.describe()
        assert text and "\n" not in text
    assert 'pivot_root(".", ".")' in plan.enter[-2].describe()
    assert "MNT_DETACH" in plan.enter[-2].describe()


@pytest.mark.parametrize("spec, message", [
    ("relative:/x", "source must be an absolute path"),
    ("/:relative", "destination must be an absolute path"),
    ("/no/such/dir:/x", "does not exist"),
    ("/a:/b:c:d", "use SRC:DST"),
    ("/:/x:rx", "use SRC:DST"),
    ("/", "use SRC:DST"),
])
def test_bad_volumes(spec, message):
    with pytest.raises(Fail, match=message):
        parse_volume(spec)


def test_good_volumes(tmp_path):
    assert parse_volume(f"{tmp_path}:/d") == (str(tmp_path), "/d", False)
    assert parse_volume(f"{tmp_path}:/d:ro") == (str(tmp_path), "/d", True)
    assert parse_volume(f"{tmp_path}:/d:rw") == (str(tmp_path), "/d", False)


@pytest.mark.parametrize("dest", ["relative", "/", "/..", "//"])
def test_bad_tmpfs(dest):
    with pytest.raises(Fail):
        build_plan(opts(rootfs="/r", tmpfs=[dest]), "/")


def test_prepare_rejects_missing_rootfs_and_read_only_without_rootfs(tmp_path):
    class Run:
        flags = 0
    run = Run()
    run.opts = opts(rootfs=str(tmp_path / "missing"))
    with pytest.raises(Fail, match="does not exist"):
        mount.prepare(run)
    (tmp_path / "file").write_text("")
    run.opts = opts(rootfs=str(tmp_path / "file"))
    with pytest.raises(Fail, match="not a directory"):
        mount.prepare(run)
    run.opts = opts(rootfs="")
    with pytest.raises(Fail, match="invalid --rootfs ''"):
        mount.prepare(run)
    run.opts = opts(read_only=True)
    with pytest.raises(Fail, match="--read-only needs --rootfs"):
        mount.prepare(run)


def test_relative_rootfs_is_made_absolute(tmp_path, monkeypatch):
    (tmp_path / "r").mkdir()
    monkeypatch.chdir(tmp_path)

    class Run:
        flags = 0
    run = Run()
    run.opts = opts(rootfs="r")
    mount.prepare(run)
    assert run.plan.ops[2].sources == (os.path.join(str(tmp_path), "r"),)


def test_pivot_root_falls_back_to_move_and_chroot(monkeypatch):
    calls = []

    def pivot_root(new, old):
        raise OSError(22, "pivot_root: Invalid argument")

    monkeypatch.setattr(mount.kernel, "pivot_root", pivot_root)
    monkeypatch.setattr(mount.kernel, "mount", lambda *a: calls.append(("mount",) + a))
    monkeypatch.setattr(mount.kernel, "umount2", lambda *a: calls.append(("umount2",) + a))
    monkeypatch.setattr(mount.os, "chdir", lambda p: calls.append(("chdir", p)))
    monkeypatch.setattr(mount.os, "chroot", lambda p: calls.append(("chroot", p)))
    traced = []

    class Run:
        trace = staticmethod(traced.append)

    class Ctx:
        run = Run()
    PivotRoot().execute(Ctx())
    assert ("mount", ".", "/", None, mount.MS_MOVE) in calls
    assert ("chroot", ".") in calls
    assert not any(c[0] == "umount2" for c in calls)
    assert "initramfs" in traced[0]


def _hostile_tree(tmp_path):
    """A root with an absolute symlink, a '..' symlink and a loop, and a
    directory outside the root that they all point at."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "etc").mkdir(parents=True)
    (root / "real" / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "abs").symlink_to(str(outside))
    (root / "up").symlink_to("../../../../../..")
    (root / "rel").symlink_to("real/sub")
    (root / "loop").symlink_to("loop")
    (root / str(outside).lstrip("/")).mkdir(parents=True)
    return root, outside


def _where(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


@pytest.mark.parametrize("path, inside", [
    ("/abs", "{outside}"),
    ("abs", "{outside}"),
    ("/up/etc", "/etc"),
    ("/../../etc", "/etc"),
    ("/rel/..", "/real"),
    ("/real/sub/../../etc", "/etc"),
    ("/", ""),
])
def test_walk_in_root_stays_inside_like_openat2(tmp_path, path, inside):
    root, outside = _hostile_tree(tmp_path)
    expected = str(root) + inside.format(outside=outside)
    rootfd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        assert _where(mount.walk_in_root(rootfd, path)) == expected
        # The kernel's own RESOLVE_IN_ROOT agrees.
        assert _where(mount._open_in_root(rootfd, path)) == expected
    finally:
        os.close(rootfd)


def test_walk_in_root_refuses_loops_and_missing_paths(tmp_path):
    root, _ = _hostile_tree(tmp_path)
    rootfd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError) as e:
            mount.walk_in_root(rootfd, "/loop/x")
        assert e.value.errno == 40
        with pytest.raises(FileNotFoundError):
            mount.walk_in_root(rootfd, "/abs/missing/x")
    finally:
        os.close(rootfd)


def test_open_in_root_falls_back_without_openat2(tmp_path, monkeypatch):
    root, outside = _hostile_tree(tmp_path)

    def enosys(*args):
        raise OSError(38, "openat2: Function not implemented")

    monkeypatch.setattr(mount.kernel, "openat2", enosys)
    rootfd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        assert _where(mount._open_in_root(rootfd, "/abs")) == str(root) + str(outside)
    finally:
        os.close(rootfd)


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40))
def test_mountinfo_paths_are_unescaped_as_the_kernel_escapes_them(path):
    # fs/proc_namespace.c: mangle() writes " \t\n\\" as \ooo.
    escaped = "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in path)
    assert mount._unescape(escaped) == path
