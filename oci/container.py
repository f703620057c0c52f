"""A bundle's container as a stage of core/run.py, and its PID 1's wait
for `start`.

Used by cli.py's create, which runs core/run.py's start() with [Stage] as
the stages and a Handover as run.handover. The stage does, at the
protocol's hooks (stages/__init__.py), what unc's own stages do for their
options, from config.json instead:
    prepare          the namespaces to create (run.flags) and the mount plan
                     (run.plan): the bundle's root, then config.json's
                     mounts (oci/mounts.py), devices, sysctl, masked and
                     read-only paths, the pivot;
    host_setup       the id maps of a new user namespace, written from
                     outside (identity/idmap.py: newuidmap for an
                     unprivileged user's ranges); then the createRuntime
                     and prestart hooks;
    container_setup  the hostname, lo up in a new network namespace, the
                     plan.
Handover.join runs in the unsharer before unshare(2): setns(2) into the
namespaces config.json names by path (a user namespace first, as it owns
the others). Handover.start runs in PID 1 once the root is the
container's: the program is found (a missing one fails `create`, as with
runc), the console is handed over, unc is released (create returns),
then PID 1 blocks opening exec.fifo for writing until `start` opens it
for reading (a FIFO's open blocks until both ends are open, fifo(7)); it
then applies the process (oci/process.py) and executes it.
"""

import os

from core import Fail
from kernel import CLONE_NEWNET, CLONE_NEWUSER, CLONE_NEWUTS
from mounts.plan import BindRoot, Chdir, MakePrivate, Op, PivotRoot, Plan, ReadOnly, Staging
from oci import mounts, process
from security import masks


class Stage:
    """The bundle's container: its hooks, in the protocol's shape."""

    NAME = "oci"
    SUMMARY = "a container from an OCI bundle"

    def __init__(self, spec, state):
        self.spec, self.state = spec, state      # config.Spec, state.Container
        self.maps = None                         # a new user namespace's id maps
        self.cgroup = None                       # with a pids limit: oci/cgroups.py

    def prepare(self, run, me):
        spec = self.spec
        run.flags = spec.flags
        plan = Plan()
        plan.add(MakePrivate())
        plan.add(Staging())
        plan.add(BindRoot(spec.rootfs))
        dests = set()
        for mount in spec.mounts:
            plan.add(mounts.OciMount(mount, spec.bundle))
            dests.add(os.path.normpath(mount["destination"]))
        for path in mounts.DEVICES:
            if path not in dests:
                plan.add(mounts.Device(path, required=False))
        for path in spec.devices:
            if path not in dests and path not in mounts.DEVICES:
                plan.add(mounts.Device(path))
        for link, dest in mounts.DEV_LINKS:
            plan.add(mounts.Link(link, dest))
        if "/dev/pts" in dests:
            plan.add(mounts.Link("pts/ptmx", "/dev/ptmx"))
        for name, value in spec.sysctl.items():
            plan.add(mounts.Sysctl(name, value))
        if spec.masked or spec.readonly_paths:
            masks.add(plan, masked=spec.masked, readonly=spec.readonly_paths)
        if spec.hooks.get("createContainer"):
            plan.enter.append(CreateContainerHooks(self))
        if spec.readonly:
            plan.enter.append(ReadOnly("/", recursive=False))
        plan.enter.append(PivotRoot())
        if spec.propagation:
            plan.enter.append(mounts.Propagation(spec.propagation))
        plan.enter.append(Chdir("/"))
        run.plan = plan
        self.maps = plan_maps(spec) if spec.flags & CLONE_NEWUSER else None
        if spec.pids_limit > 0:
            from oci import cgroups, state
            self.cgroup = cgroups.Pids(spec.cgroups_path or f"/unc-oci/{self.state.id}",
                                       spec.pids_limit, state.rootless())
            self.state.record["cgroup"] = self.cgroup.dir
        if spec.flags & CLONE_NEWNET:
            from stages.net import loopback_up  # noqa: F401  (imported on the host)
        from oci import hooks  # noqa: F401  (PID 1 runs some, once its root changed)

    def host_setup(self, run, me):
        if self.maps:
            from identity import idmap
            idmap.write_maps(run.pid, trace=run.trace, **self.maps)
        if self.cgroup:
            self.cgroup.create(run.pid, run.trace)
        from oci import hooks
        hooks.run_all(self.spec.hooks, ("prestart", "createRuntime"),
                      self.state.state_of(run.pid, "creating"), run.trace)

    def cleanup(self, run, me):
        """create failed: PID 1 is dead, its cgroup can go."""
        if self.cgroup:
            from oci import cgroups
            cgroups.remove(self.cgroup.dir)

    def container_setup(self, run, me):
        spec = self.spec
        if spec.hostname is not None:
            if not (spec.flags & CLONE_NEWUTS or any(k == "uts" for k, _, _ in spec.join)):
                raise Fail("config.json: hostname needs a UTS namespace (linux.namespaces "
                           "type uts)")
            from kernel import sethostname
            run.trace(f'sethostname("{spec.hostname}")')
            sethostname(spec.hostname)
        if spec.flags & CLONE_NEWNET:
            from stages.net import loopback_up
            loopback_up(run)
        # Until the root changes, /proc is the host's procfs, where
        # /proc/self names PID 1 by the pid the hooks' state JSON gives.
        run.handover.host_pid = int(os.readlink("/proc/self"))
        run.plan.execute(run)


def plan_maps(spec):
    """The id maps of a new user namespace, planned as unc's own
    --map-users/--map-groups (identity/subids.py): written directly by a
    privileged caller, through newuidmap/newgidmap otherwise."""
    import pwd
    import sys

    from core.execvp import clean_environ
    from identity import idmap, subids
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = None
    privileged = os.geteuid() == 0
    maps = [subids.plan(kind, own, user, privileged=privileged, specs=specs)
            for kind, own, specs in (("uid", os.getuid(), spec.uid_mappings),
                                     ("gid", os.getgid(), spec.gid_mappings))]
    env = clean_environ(os.environ, getattr(sys, "frozen", False))
    return {"uid_map": maps[0], "gid_map": maps[1], "env": env,
            "helpers": idmap.require_helpers(*maps, env=env)}


class Handover:
    """What differs in a created container's start (core/run.py)."""

    def __init__(self, spec, fifo, console=None, held=(), preserve=0):
        self.spec, self.preserve = spec, preserve
        self.held = held                  # unc's fds that PID 1 must not keep (the lock)
        self.stage_state = None           # the container's record (state.py), set by create
        self.host_pid = None              # PID 1 as the host sees it, read by PID 1
        self.console = console            # the connected console socket, or None
        self.joined = []
        for kind, flag, path in sorted(spec.join, key=lambda j: j[0] != "user"):
            try:
                self.joined.append((kind, flag, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
            except OSError as e:
                raise Fail(f"config.json: cannot open the {kind} namespace {path}: "
                           f"{e.strerror}") from None
        # Opened now, while the host's tree is in view; PID 1 reopens it
        # for writing through /proc/self/fd once its root has changed.
        self.fifo = os.open(fifo, os.O_PATH | os.O_CLOEXEC)

    def join(self, run):
        import kernel
        for kind, flag, fd in self.joined:
            run.trace(f"setns({kind} namespace)")
            try:
                kernel.setns(fd, flag)
            except OSError as e:
                raise Fail(f"cannot join the {kind} namespace of config.json: "
                           f"{e.strerror}") from None
            os.close(fd)

    def start(self, run, report_w):
        """In PID 1, the root changed: wait for `start`, then execute."""
        spec = self.spec
        for fd in self.held:
            os.close(fd)                  # a flock lives as long as any copy of its fd
        path = process.prepare(spec.process)
        if self.console is not None:
            from oci import console
            console.hand_over(self.console, spec.process.get("consoleSize"))
        # Until it executes the process, PID 1 is unc's own binary: a
        # process `exec` puts in the container must not reach it through
        # /proc/1/exe or /proc/1/mem (runc's CVE-2019-5736). execve(2) makes
        # the process dumpable again.
        run.trace("prctl(PR_SET_DUMPABLE, 0)")
        import kernel
        kernel.prctl(kernel.PR_SET_DUMPABLE, 0)
        os.close(report_w)                       # create returns now
        fd = os.open(f"/proc/self/fd/{self.fifo}", os.O_WRONLY | os.O_CLOEXEC)
        os.write(fd, b"0")
        os.close(fd)
        os.close(self.fifo)
        if spec.hooks.get("startContainer"):
            from oci import hooks           # imported by prepare, on the host
            hooks.run_all(spec.hooks, ("startContainer",),
                          self.stage_state.state_of(self.host_pid, "running"), run.trace)
        try:
            process.apply(spec.process, run.trace, spec.seccomp)
        except (Fail, OSError) as e:
            os.write(2, f"unc: cannot start the container's process: {e}\n".encode())
            os._exit(125)
        process.execute(spec.process, path, run.trace, self.preserve)


class CreateContainerHooks(Op):
    """The createContainer hooks: in the container's namespaces, its mounts
    made, before pivot_root (runtime.md). unc builds the root below a
    staging tmpfs on /tmp (mounts/plan.py), which hides the host's /tmp
    where hooks and their files may live: each hook runs in a copy of the
    mount namespace without it (unshare(CLONE_NEWNS), then the staging
    tmpfs detached there only), so its paths resolve as on the host."""

    def __init__(self, stage):
        self.stage = stage

    def execute(self, ctx):
        from oci import hooks           # imported by prepare, on the host
        hooks.run_all(self.stage.spec.hooks, ("createContainer",),
                      self.stage.state.state_of(ctx.run.handover.host_pid, "created"),
                      ctx.run.trace, before=_without_staging)

    def describe(self):
        return "createContainer hooks"


def _without_staging():
    import kernel
    from mounts.plan import STAGING
    kernel.unshare(kernel.CLONE_NEWNS)
    kernel.umount2(STAGING, kernel.MNT_DETACH)
