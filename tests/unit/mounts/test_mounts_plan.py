"""mounts/plan.py: the plan's order as --trace shows it, what later stages
add to it, the user's mounts it remembers, and operations that must not
stop a start."""

import pytest

from core import Fail
from mounts import plan as plan_module
from mounts.plan import (NEWROOT, STAGING, Bind, Console, Context, Mount, Op, PivotRoot, Plan,
                         ReadOnly, Symlink, mount_text)
from stages.mount import build_plan

PIVOT = 'chdir("/tmp/newroot"); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir("/")'


def opts(**kw):
    base = {"--rootfs": None, "--volume": [], "--tmpfs": [], "--read-only": False,
            "--bind-proc": False}
    base.update({"--" + k.replace("_", "-"): v for k, v in kw.items()})
    return base


def test_staging_paths():
    assert (STAGING, NEWROOT) == ("/tmp", "/tmp/newroot")


def test_mount_text_is_the_call_as_c_would_write_it():
    assert mount_text("tmpfs", "/t", "tmpfs", 6, "mode=700") == \
        'mount("tmpfs", "/t", "tmpfs", MS_NOSUID|MS_NODEV, "mode=700")'
    assert mount_text("/a", "/b", None, 4096) == 'mount("/a", "/b", NULL, MS_BIND)'


def test_add_inserts_before_the_root_changes():
    plan = build_plan(opts(), "/r", "/")
    plan.add(Bind("/etc/hosts", "/etc/hosts", readonly=True))
    lines = plan.describe()
    added = lines.index('mount("/etc/hosts", "/tmp/newroot/etc/hosts", NULL, MS_BIND|MS_REC); '
                        'mount("none", "/tmp/newroot/etc/hosts", NULL, '
                        'MS_RDONLY|MS_REMOUNT|MS_BIND) + locked flags')
    assert added < lines.index(PIVOT)
    # After everything the mount stage planned.
    assert added == len(plan.ops) - 1


def test_add_with_an_option_remembers_the_users_mount():
    plan = Plan()
    plan.add(Mount("tmpfs", "/x", 0), "--tmpfs /x")
    plan.add(Bind("/etc/hosts", "/y/z"))                  # not the user's
    assert plan.user == [("--tmpfs /x", "/x")]
    assert plan.user_mount_over("/x/inside") == "--tmpfs /x"
    assert plan.user_mount_over("/y/z") is None


def test_every_op_describes_itself():
    plan = build_plan(opts(read_only=True, tmpfs=["/t"]), "/r", "/")
    lines = plan.describe()
    assert lines == [op.describe() for op in plan]
    assert len(lines) == len(plan.ops) + len(plan.enter)
    for text in lines:
        assert text and "\n" not in text
    pivots = [line for line in lines if 'pivot_root(".", ".")' in line]
    assert pivots == [PIVOT] and "MNT_DETACH" in PIVOT
    assert lines[-2:] == [PIVOT, 'chdir("/")']


def test_a_plan_is_its_ops_then_the_root_changes():
    plan = Plan()
    first, last = Mount("tmpfs", "/a"), Mount("tmpfs", "/b")
    plan.enter.append(last)
    plan.add(first)
    assert list(plan) == [first, last]
    assert plan.describe() == ['mount("tmpfs", "/tmp/newroot/a", "tmpfs", 0)',
                               'mount("tmpfs", "/tmp/newroot/b", "tmpfs", 0)']


@pytest.mark.parametrize("tmpfs, volume, covered", [
    (["/etc"], [], "--tmpfs /etc"),
    (["/etc/"], [], "--tmpfs /etc/"),
    ([], ["/etc/hosts:/etc/resolv.conf:ro"], "--volume /etc/hosts:/etc/resolv.conf:ro"),
    (["/etcetera", "/run"], ["/tmp:/et"], None),
    ([], [], None),
])
def test_the_users_mounts_win_over_resolv_conf(tmpfs, volume, covered):
    plan = build_plan(opts(tmpfs=tmpfs, volume=volume), "/r", "/")
    assert plan.user_mount_over("/etc/resolv.conf") == covered


def test_a_users_mount_written_with_a_double_slash_still_wins():
    # BUG (mounts/plan.py, Plan.user_mount_over): os.path.normpath keeps a
    # leading "//" (POSIX allows it a meaning of its own), so the user's
    # --tmpfs //etc, which mounts on /etc like --tmpfs /etc (resolve.py
    # strips the leading slashes), is not seen to cover /etc/resolv.conf,
    # and the net stage binds its resolv.conf inside the user's tmpfs.
    plan = build_plan(opts(tmpfs=["//etc"]), "/r", "/")
    assert plan.user_mount_over("/etc/resolv.conf") == "--tmpfs //etc"


class Traced:
    def __init__(self):
        self.lines = []

    def trace(self, message):
        self.lines.append(message)


class Refused(Op):
    dest = "/x"

    def __init__(self, err):
        self.err = err

    def execute(self, ctx):
        raise self.err

    def describe(self):
        return f'mkdir("{NEWROOT}/x")'


def test_a_refused_op_is_one_line_in_container_paths():
    plan = Plan()
    plan.add(Refused(OSError(5, "Input/output error")))
    run = Traced()
    with pytest.raises(Fail) as e:
        plan.execute(run)
    assert str(e.value) == 'mkdir("/x") failed: Input/output error'
    assert run.lines == ['mkdir("/tmp/newroot/x")']


@pytest.mark.parametrize("err, words", [
    (OSError(13, "Permission denied"), "cannot create the mount point /x in the container"),
    (OSError(30, "Read-only file system"), "create it in the root filesystem first"),
    (OSError(20, "Not a directory"), "use a destination of the same kind as the source"),
])
def test_refusals_say_what_to_do(err, words):
    assert words in Refused(err).explain(err)


def test_an_unopenable_source_is_a_failure_naming_it():
    ctx = Context(Traced())
    with pytest.raises(Fail, match="cannot open /no/such/source: No such file or directory"):
        Bind("/no/such/source", "/x").open(ctx)
    ctx.close()


# ---------------------------------------------------------------- the operations

def test_a_terminal_that_cannot_be_opened_leaves_no_console_but_starts():
    run = Traced()
    ctx = Context(run)
    op = Console("/dev/pts/no-such-terminal")
    op.open(ctx)                       # no Fail: a convenience only
    op.execute(ctx)
    assert run.lines == ["  no /dev/console: cannot open /dev/pts/no-such-terminal: "
                         "No such file or directory"]
    ctx.close()


def test_pivot_root_falls_back_to_move_and_chroot(monkeypatch):
    calls = []

    def pivot_root(new, old):
        raise OSError(22, "pivot_root: Invalid argument")

    monkeypatch.setattr(plan_module.kernel, "pivot_root", pivot_root)
    monkeypatch.setattr(plan_module.kernel, "mount", lambda *a: calls.append(("mount",) + a))
    monkeypatch.setattr(plan_module.kernel, "umount2", lambda *a: calls.append(("umount2",) + a))
    monkeypatch.setattr(plan_module.os, "chdir", lambda p: calls.append(("chdir", p)))
    monkeypatch.setattr(plan_module.os, "chroot", lambda p: calls.append(("chroot", p)))
    run = Traced()
    PivotRoot().execute(Context(run))
    assert ("mount", ".", "/", None, plan_module.MS_MOVE) in calls
    assert ("chroot", ".") in calls
    assert not any(c[0] == "umount2" for c in calls)
    assert "initramfs" in run.lines[0]


def test_pivot_root_detaches_the_old_root(monkeypatch):
    calls = []
    monkeypatch.setattr(plan_module.kernel, "pivot_root",
                        lambda *a: calls.append(("pivot_root",) + a))
    monkeypatch.setattr(plan_module.kernel, "umount2", lambda *a: calls.append(("umount2",) + a))
    monkeypatch.setattr(plan_module.os, "chdir", lambda p: calls.append(("chdir", p)))
    PivotRoot().execute(Context(Traced()))
    assert calls == [("chdir", "/tmp/newroot"), ("pivot_root", ".", "."),
                     ("umount2", ".", plan_module.MNT_DETACH), ("chdir", "/")]


def test_symlink_keeps_its_link_and_says_it():
    op = Symlink("pts/ptmx", "/dev/ptmx")
    assert (op.link, op.dest) == ("pts/ptmx", "/dev/ptmx")
    assert op.describe() == 'symlink("pts/ptmx", "/tmp/newroot/dev/ptmx")'


def test_read_only_says_whether_it_is_recursive():
    assert ReadOnly("/", recursive=True).describe() == \
        'mount_setattr("/tmp/newroot/", AT_RECURSIVE, MOUNT_ATTR_RDONLY)'
    assert ReadOnly("/x", recursive=False).describe() == \
        'mount_setattr("/tmp/newroot/x", 0, MOUNT_ATTR_RDONLY)'
